"""Where a CD-1 step's time goes: its four kernel phases, timed in sequence.

One ``rbm`` Trainer (MNIST, 500 hidden, batch 100, float32, as ``bench_train.py``) is
first trained for ``--warm`` batches. Then, for ``--rounds`` passes over 50 fixed
batches, each CD-1 step runs as its four kernels with a timer around each one, in
the order training runs them:

1. hidden: ``P(h | v+)`` and ``h ~ P(h | v+)``, a fresh sum over the active pixels;
2. visible: ``v- ~ P(v | h)``, from the tiled transpose of W;
3. hidden-incr: ``P(h | v-)``, updated from the pixels that changed;
4. update: the gradient statistics, priors, momentum and the W/tile refresh.

It prints the mean milliseconds of each phase, excluding the first round (which warms
the caches). On a shared machine, run it a few times: the split is stable, the total
is not.

Run ``python benchmarks/profile_step.py [--warm N] [--rounds N]``.
"""

import argparse
import sys
from pathlib import Path
from time import perf_counter

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_train import MNIST_DIR, rbm_epoch_seconds, rbm_trainer  # noqa: E402

PHASES = ("hidden", "visible", "hidden-incr", "update")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--warm", type=int, default=300, help="training batches before timing")
    p.add_argument("--rounds", type=int, default=8)
    args = p.parse_args(argv)
    if not MNIST_DIR.is_dir():
        sys.exit(f"skipped: no MNIST at {MNIST_DIR}")

    from rbmcli.kernels.rbm.gradients import apply_update
    from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step
    from rbmcli.io.mnist import load_mnist
    from rbmcli.sampling.keys import draw_keys
    from rbmcli.training.rbm import Binarizer

    images, _ = load_mnist(source_dir=MNIST_DIR)["train"]
    train = Binarizer(images, "threshold")
    trainer = rbm_trainer(train, "cd", 1)
    rbm_epoch_seconds(trainer, args.warm)
    m, st = trainer.model, trainer.state
    rng = np.random.default_rng(1)
    batches = [train.rows(np.sort(rng.choice(len(train), 100, replace=False)), rng)
               for _ in range(50)]
    n, nv, nh = 100, m.n_visible, m.n_hidden
    W, WTt, b, c = m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias
    A = np.empty((n, nh), m.dtype)
    HP_pos, HP_neg = np.empty_like(A), np.empty_like(A)
    H = np.empty((n, nh), np.uint8)
    betas = np.ones(n, m.dtype)
    no_clamp, no_probs = np.zeros((0, nv), np.uint8), np.empty((0, nv), m.dtype)
    no_prev = np.empty((0, nv), np.uint8)
    velocities = (st["velocity_weights"], st["velocity_visible_bias"],
                  st["velocity_hidden_bias"])
    none = np.zeros(0, m.dtype)
    lr, momentum, zero = m.dtype.type(0.05), m.dtype.type(0.5), m.dtype.type(0)
    total = np.zeros(len(PHASES))
    for rnd in range(args.rounds):
        for v_pos in batches:
            keys = draw_keys(rng, n)
            v_neg = v_pos.copy()
            t0 = perf_counter()
            hidden_step(v_pos, v_pos, W, c, betas, keys, 0, A, HP_pos, H, False, True)
            t1 = perf_counter()
            visible_step(H, WTt, b, betas, keys, 1, no_clamp, v_neg, no_probs, no_prev)
            t2 = perf_counter()
            hidden_step(v_neg, v_pos, W, c, betas, keys, 2, A, HP_neg, H, True, False)
            t3 = perf_counter()
            apply_update(W, WTt, b, c, *velocities, v_pos, HP_pos, v_neg, HP_neg, lr,
                         momentum, zero, zero, none, none)
            t4 = perf_counter()
            if rnd > 0:
                total += (t1 - t0, t2 - t1, t3 - t2, t4 - t3)
    ms = total / ((args.rounds - 1) * len(batches)) * 1e3
    print("CD-1 step in sequence (ms): "
          + "  ".join(f"{name} {t:.3f}" for name, t in zip(PHASES, ms))
          + f"  total {ms.sum():.3f}")


if __name__ == "__main__":
    main()
