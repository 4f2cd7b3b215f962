"""Time ``rbm``'s AIS kernel against a straightforward NumPy AIS, and measure Gibbs and
parallel-tempering throughput, on an MNIST-sized model, in one process.

Model: ``/work/runs/cd1.h5`` (784 x 500, float32) when it exists (or ``--model FILE``),
else a random 784 x 500 float32 RBM (W ~ N(0, 0.05^2), b = logit(0.13), c = -1).
Base rates: ``logit((count + 1) / (N + 2))`` of the threshold-binarised MNIST training
images when ``../shared/data/mnist`` exists, else logit(0.13) for every pixel.

AIS, 100 runs. Both implementations run Salakhutdinov & Murray's schedule rescaled to
fewer steps (:func:`rbmcli.scoring.partition.ais_schedule` keeps the 500:4000:10000 shares of
the three beta segments, so the mix of betas, and with it the activity of the units,
is that of the full schedule); each time is scaled to the full 14,500 steps:

* ``rbm``: :func:`rbmcli.scoring.partition.ais_log_partition` (the kernel
  ``rbmcli.kernels.rbm.ais.ais_anneal``: gather-adds over active units, fused sampling, one
  prange over runs, float64 log weights), ``--rbm-steps`` steps (default 2,900).
* ``numpy``: the same maths with dense matrix products in the model's dtype
  (``V @ W``, ``H @ W.T``), ``np.logaddexp`` in float64 for the log-weight increments,
  uniforms from a NumPy Generator; ``--numpy-steps`` steps (default 290).

The two take turns for ``--rounds`` rounds (default 3) and each figure is the median
over rounds; the ratio (target >= 3) is the median of the per-round ratios.

Sampling throughput (100 chains, float32), with 1 thread and with Numba's default:

* Gibbs: ``model.gibbs`` for 1,000 sweeps: chain-sweeps per second.
* PT: 10 temperatures (linear from 1 to 0) x 100 chains, ``model.tempering_sweep`` then
  ``rbmcli.kernels.rbm.tempering.pt_swap_pass`` (alternating parity), 200 rounds: beta = 1 samples
  per second (one per chain per round) and replica-sweeps per second.

Run ``python benchmarks/bench_ais.py [--rounds N] [--rbm-steps S] [--numpy-steps S]``.
The machine has 2 cores shared with other people: look at the load average lines.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
DEFAULT_MODEL = Path("/work/runs/cd1.h5")
RUNS = 100
FULL = 14500


def load_model(path):
    from rbmcli.models.rbm import BernoulliRBM
    from rbmcli.io.modelfile import load_model as read

    if path and Path(path).is_file():
        return read(path).model, str(path)
    rng = np.random.default_rng(0)
    p = 0.13
    model = BernoulliRBM((0.05 * rng.standard_normal((784, 500))).astype(np.float32),
                         np.full(784, np.log(p / (1 - p)), np.float32),
                         np.full(500, -1.0, np.float32))
    return model, "random 784x500 float32"


def base_rates(n_visible):
    from rbmcli.scoring.partition import base_rate_biases

    if n_visible == 784 and MNIST_DIR.is_dir():
        from rbmcli.io.datasets import binarize_threshold
        from rbmcli.io.mnist import load_mnist
        images, _ = load_mnist(source_dir=MNIST_DIR)["train"]
        return base_rate_biases(binarize_threshold(images)), "MNIST training means"
    return np.full(n_visible, np.log(0.13 / 0.87)), "logit(0.13)"


def numpy_ais(model, b_base, runs, steps, seed=0):
    """Forward AIS with dense products: returns the (runs,) log weights."""
    from rbmcli.scoring.partition import ais_schedule

    betas = ais_schedule(steps)
    rng = np.random.default_rng(seed)
    dtype = model.dtype
    W, b, c = model.weights, model.visible_bias, model.hidden_bias
    WT = np.ascontiguousarray(W.T)
    bA = b_base.astype(dtype)
    db = (b.astype(np.float64) - b_base)
    V = (rng.random((runs, W.shape[0]), dtype=dtype) < 1 / (1 + np.exp(-bA))).astype(dtype)
    log_w = np.zeros(runs)
    for k in range(1, steps + 1):
        b0, b1 = betas[k - 1], betas[k]
        A = V @ W + c
        A64 = A.astype(np.float64)
        log_w += (b1 - b0) * (V @ db) + (np.logaddexp(0, b1 * A64)
                                         - np.logaddexp(0, b0 * A64)).sum(axis=1)
        if k < steps:
            bw = dtype.type(b1)
            H = (rng.random(A.shape, dtype=dtype) < 1 / (1 + np.exp(-bw * A))).astype(dtype)
            pre = bw * (H @ WT + b) + (1 - bw) * bA
            V = (rng.random(V.shape, dtype=dtype) < 1 / (1 + np.exp(-pre))).astype(dtype)
    return log_w


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def gibbs_rate(model, chains=100, sweeps=1000):
    rng = np.random.default_rng(1)
    V = (rng.random((chains, model.n_visible)) < 0.5).astype(np.uint8)
    model.gibbs(V, 2, rng)                                   # compile / warm up
    seconds, _ = timed(lambda: model.gibbs(V, sweeps, rng))
    return chains * sweeps / seconds


def pt_rate(model, chains=100, temps=10, rounds=200):
    from rbmcli.kernels.rbm.tempering import pt_swap_pass
    from rbmcli.sampling.keys import draw_keys

    rng = np.random.default_rng(2)
    betas = np.linspace(1.0, 0.0, temps)
    per_replica = np.repeat(betas, chains)
    V = (rng.random((temps * chains, model.n_visible)) < 0.5).astype(np.uint8)
    H = (rng.random((temps * chains, model.n_hidden)) < 0.5).astype(np.uint8)
    accepted = np.zeros(temps - 1, np.int64)
    attempted = np.zeros(temps - 1, np.int64)

    def run(n):
        for t in range(n):
            E, _ = model.tempering_sweep(V, H, per_replica, rng)
            pt_swap_pass(V, H, E, betas, chains, draw_keys(rng, 1)[0], t % 2, accepted,
                         attempted)

    run(2)
    seconds, _ = timed(lambda: run(rounds))
    return chains * rounds / seconds, temps * chains * rounds / seconds, accepted / attempted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rbm-steps", type=int, default=2900)
    parser.add_argument("--numpy-steps", type=int, default=290)
    args = parser.parse_args(argv)

    import numba

    from rbmcli.scoring.partition import ais_log_partition

    load_start = os.getloadavg()[0]
    model, name = load_model(args.model)
    b_base, base_name = base_rates(model.n_visible)
    print(f"model: {name} ({model.n_visible}x{model.n_hidden} {model.dtype}); base rates: "
          f"{base_name}; {RUNS} runs")
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, "
          f"python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}; 1-min load average before: {load_start:.2f}")
    if load_start >= 1:
        print("warning: the machine is busy; times may be several times longer")

    ais_log_partition(model, b_base, runs=4, steps=3)          # compile / warm up
    rbm_t, np_t, ratios = [], [], []
    for r in range(args.rounds):
        t_rbm, est = timed(lambda: ais_log_partition(model, b_base, runs=RUNS,
                                                     steps=args.rbm_steps, seed=r))
        t_np, _ = timed(lambda: numpy_ais(model, b_base, RUNS, args.numpy_steps, seed=r))
        full_rbm = t_rbm * FULL / args.rbm_steps
        full_np = t_np * FULL / args.numpy_steps
        rbm_t.append(full_rbm)
        np_t.append(full_np)
        ratios.append(full_np / full_rbm)
        print(f"round {r + 1}: rbm {t_rbm:.2f} s for {args.rbm_steps} steps "
              f"(log Z {est.log_z:.2f} +- {est.log_z_sd:.2f}), numpy {t_np:.2f} s for "
              f"{args.numpy_steps} steps")
    print(f"AIS, {RUNS} runs x {FULL} steps (scaled): rbm {statistics.median(rbm_t):.1f} s "
          f"({statistics.median(rbm_t) / FULL / RUNS * 1e6:.1f} us per run-step), numpy "
          f"{statistics.median(np_t):.1f} s ({statistics.median(np_t) / FULL / RUNS * 1e6:.1f}"
          f" us per run-step)")
    ratio = statistics.median(ratios)
    print(f"speed-up numpy / rbm: {ratio:.1f}x (target >= 3: {'met' if ratio >= 3 else 'MISSED'})")

    threads = numba.get_num_threads()
    for n in sorted({1, threads}):
        numba.set_num_threads(n)
        try:
            g = gibbs_rate(model)
            samples, replicas, acc = pt_rate(model)
        finally:
            numba.set_num_threads(threads)
        print(f"{n} thread(s): Gibbs {g:,.0f} chain-sweeps/s (100 chains x 1000 sweeps); "
              f"PT-10 {samples:,.0f} beta=1 samples/s, {replicas:,.0f} replica-sweeps/s "
              f"(100 chains, 200 rounds; swap acceptance {np.round(acc, 2).tolist()})")
    print(f"1-min load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
