"""Time one training epoch of ``rbm`` on MNIST against scikit-learn and the dense-BLAS bound.

Data: the raw MNIST idx files in ``../shared/data/mnist`` (beside the project root),
read with :func:`rbmcli.io.mnist.load_mnist`; the 60000 training images are binarised
with ``Binarizer(images, "threshold")``. Model: 784 visible, 500 hidden, batch 100,
float32. Everything is measured in one process. Each epoch is timed in slices (6 of
100 batches) and the methods take turns within each slice, so that load from other
users of the machine hits them all alike; each s/epoch figure is the median over
rounds of the summed slices, each ratio the median over slices.

Run ``python benchmarks/bench_train.py [--quick] [--epochs-subset N]`` (see README.md).
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
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
N_HIDDEN, BATCH, LR, MOMENTUM = 500, 100, 0.05, 0.5
SETTLE_SECONDS = 0.5


class _StopEpoch(Exception):
    """Raised from ``run_epoch``'s progress callback to end an epoch early."""


def rbm_trainer(binarizer, method, steps):
    """A fresh ``rbm`` Trainer (seed 0) set up as ``rbm train`` would do it."""
    from rbmcli.training.rbm import Trainer, TrainOptions, new_model
    opts = TrainOptions(n_hidden=N_HIDDEN, method=method, steps=steps, batch_size=BATCH)
    return Trainer(new_model(opts, binarizer), opts, binarizer, None, np.random.default_rng(0))


def rbm_epoch_seconds(trainer, n_batches):
    """Wall time of ``trainer.run_epoch`` up to the end of its ``n_batches``-th update.

    That is the real epoch loop (permutation, ``train.rows``, ``update``) without the
    end-of-epoch NaN check and evaluation: the progress callback stops it there.
    Successive calls continue training the same model, as successive epochs do.
    """
    end = []

    def on_batch(done, total):
        if done == n_batches:
            end.append(time.perf_counter())
            raise _StopEpoch

    start = time.perf_counter()
    try:
        trainer.run_epoch(on_batch=on_batch)
    except _StopEpoch:
        pass
    return end[0] - start


def sklearn_epoch_seconds(X):
    """Wall time of ``BernoulliRBM(n_iter=1).fit(X)``: one epoch of PCD-1 over ``X``."""
    from sklearn.neural_network import BernoulliRBM
    model = BernoulliRBM(n_components=N_HIDDEN, batch_size=BATCH, n_iter=1,
                         learning_rate=LR, random_state=0)
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def torch_epoch(binary, model, n_threads):
    """A callable ``f(n_batches) -> seconds`` timing CD-1 in PyTorch (CPU), or None.

    Same maths as ``rbm``'s CD-1: ``P(h|v)``, sampled ``h``, sampled ``v'``,
    ``P(h|v')``, momentum update; dense float32 matrix products throughout. The state
    starts from ``rbm``'s own initial parameters and persists across calls.
    """
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    gen = torch.Generator().manual_seed(0)
    data = torch.from_numpy(binary)
    W, b, c = (torch.from_numpy(a.copy()) for a in
               (model.weights, model.visible_bias, model.hidden_bias))
    vW, vb, vc = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)

    @torch.no_grad()
    def run(n_batches):
        start = time.perf_counter()
        order = torch.randperm(len(data), generator=gen)
        for k in range(n_batches):
            v = data[order[k * BATCH:(k + 1) * BATCH].sort().values].float()
            hp = torch.sigmoid(torch.addmm(c, v, W))
            h = torch.bernoulli(hp, generator=gen)
            vn = torch.bernoulli(torch.sigmoid(torch.addmm(b, h, W.T)), generator=gen)
            hn = torch.sigmoid(torch.addmm(c, vn, W))
            vW.mul_(MOMENTUM).add_(v.T @ hp - vn.T @ hn, alpha=LR / len(v))
            vb.mul_(MOMENTUM).add_(v.mean(0) - vn.mean(0), alpha=LR)
            vc.mul_(MOMENTUM).add_(hp.mean(0) - hn.mean(0), alpha=LR)
            W.add_(vW)
            b.add_(vb)
            c.add_(vc)
        return time.perf_counter() - start

    return run


class Products:
    """Timed float32 (m x k) @ (k x n) NumPy products, on fixed random operands."""

    def __init__(self, m, k, n, rng):
        self.a = rng.random((m, k), dtype=np.float32)
        self.b = rng.random((k, n), dtype=np.float32)
        self.out = self.a @ self.b

    def seconds(self, count):
        """Wall time of ``count`` products back to back."""
        start = time.perf_counter()
        for _ in range(count):
            np.matmul(self.a, self.b, out=self.out)
        return time.perf_counter() - start


def machine_lines(torch_ok, load_start):
    """Thread counts, library versions and load averages, as printed above the table."""
    import numba
    import sklearn
    from threadpoolctl import threadpool_info
    blas = sorted({f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)"
                   for p in threadpool_info() if p["user_api"] == "blas"})
    torch_v = __import__("torch").__version__ if torch_ok else "not installed"
    return [f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}, "
            f"BLAS {', '.join(blas)}",
            f"versions: python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__}, scikit-learn {sklearn.__version__}, torch {torch_v}",
            f"1-min load average: {load_start:.2f} before, {os.getloadavg()[0]:.2f} after "
            f"(this run itself adds up to {os.cpu_count()})"
            + ("" if load_start < 1 else "\nWARNING: the machine was busy before the run: "
               "times are inflated and ratios noisy")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one round instead of 3 (smoke test)")
    p.add_argument("--epochs-subset", type=int, metavar="N", default=0,
                   help="time only the first N batches of each epoch, scaled by 600/N")
    p.add_argument("--slices", type=int, default=6, metavar="K",
                   help="time each epoch in K slices, the methods taking turns (default 6)")
    p.add_argument("--mnist-dir", default=str(MNIST_DIR), help=f"default {MNIST_DIR}")
    args = p.parse_args(argv)
    if not os.path.isdir(args.mnist_dir):
        print(f"skipped: no MNIST folder at {args.mnist_dir}")
        return 0

    load_start = os.getloadavg()[0]
    import numba
    from rbmcli.io.mnist import load_mnist
    from rbmcli.training.rbm import Binarizer

    images, _ = load_mnist(source_dir=args.mnist_dir)["train"]
    train = Binarizer(images, "threshold")
    binary = train.rows(np.arange(len(train)), None)            # (60000, 784) uint8 0/1
    X = binary.astype(np.float32)
    full = -(-len(binary) // BATCH)                              # 600 batches per epoch
    n_batches = min(args.epochs_subset or full, full)
    scale = full / n_batches
    rounds = 1 if args.quick else 3

    trainers = {"rbm CD-1": rbm_trainer(train, "cd", 1),
                "rbm PCD-1": rbm_trainer(train, "pcd", 1),
                "rbm PT-10": rbm_trainer(train, "pt", 10)}
    for t in trainers.values():                                  # compile / load the kernels
        rbm_epoch_seconds(t, 3)
    sklearn_epoch_seconds(X[:10 * BATCH])                        # warm-up
    rng = np.random.default_rng(0)
    dense = Products(BATCH, 784, N_HIDDEN, rng)  # the dense bound's product
    peak = Products(2000, 2000, 2000, rng)
    # An epoch is timed in slices of `per_slice` batches; in each slice every method
    # runs its share, in this order (the bound right after CD-1), so that all of them
    # see the same weather on a machine whose speed drifts within a minute.
    n_slices = min(args.slices, n_batches)
    per_slice = -(-n_batches // n_slices)
    bounds = [(k * per_slice, min(n_batches, (k + 1) * per_slice)) for k in range(n_slices)]
    timers = {
        "rbm CD-1": lambda lo, hi: rbm_epoch_seconds(trainers["rbm CD-1"], hi - lo),
        "dense bound": lambda lo, hi: dense.seconds(5 * (hi - lo)),
        "sklearn BernoulliRBM": lambda lo, hi: sklearn_epoch_seconds(X[lo * BATCH:hi * BATCH]),
        "rbm PCD-1": lambda lo, hi: rbm_epoch_seconds(trainers["rbm PCD-1"], hi - lo),
        "rbm PT-10": lambda lo, hi: rbm_epoch_seconds(trainers["rbm PT-10"], hi - lo),
    }
    run_torch = torch_epoch(binary, rbm_trainer(train, "cd", 1).model, numba.get_num_threads())
    if run_torch:
        run_torch(3)
        timers["torch CD-1"] = lambda lo, hi: run_torch(hi - lo)
    max_rounds = {"rbm PT-10": min(rounds, 2)}

    def settled(timer, lo, hi):
        """Run ``timer`` after idling: OpenBLAS worker threads busy-wait for a while
        after each call (and Numba's after each parallel loop), and would otherwise
        take the cores from the next method timed in this process."""
        time.sleep(SETTLE_SECONDS)
        return timer(lo, hi)

    per_slice_times, per_round, big = [], [], []
    for r in range(rounds):                                      # methods take turns
        epoch = {}
        for lo, hi in bounds:
            times = {name: settled(timer, lo, hi) for name, timer in timers.items()
                     if r < max_rounds.get(name, rounds)}
            per_slice_times.append(times)
            for name, t in times.items():
                epoch[name] = epoch.get(name, 0.0) + t
        per_round.append({name: t * scale for name, t in epoch.items()})
        big.append(peak.seconds(2) / 2)
    runs = {name: [d[name] for d in per_round if name in d] for name in timers}
    sec = {name: statistics.median(v) for name, v in runs.items()}

    def ratio(a, b):
        """Median over slices of a / b, each pair timed in the same slice."""
        return statistics.median(d[a] / d[b] for d in per_slice_times if a in d and b in d)

    print(f"rbm training benchmark: MNIST train {X.shape[0]} x {X.shape[1]} threshold-binarised, "
          f"{N_HIDDEN} hidden, batch {BATCH}, float32")
    print("\n".join(machine_lines(run_torch is not None, load_start)))
    what = (f"{full} batches" if n_batches == full
            else f"first {n_batches} batches x {scale:g}")
    print(f"epoch = {what}, timed in {n_slices} slices of {per_slice} batches, the methods "
          f"taking turns within each slice; {rounds} round(s); median per method\n")
    print(f"{'method':<34}{'s/epoch':>9}   runs (s)")
    for name, v in runs.items():
        print(f"{name:<34}{sec[name]:9.2f}   " + " ".join(f"{x:.2f}" for x in v))
    if run_torch is None:
        print(f"{'torch CD-1':<34}{'-':>9}   skipped: torch not installed")
    t_small = sec["dense bound"] / (full * 5)
    t_big = statistics.median(big)
    print(f"\ndense bound = {full} batches x 5 products x one (100x784)@(784x500) sgemm "
          f"({t_small * 1e3:.3f} ms = {2 * BATCH * 784 * N_HIDDEN / t_small / 1e9:.0f} GFLOP/s); "
          f"2000^3 sgemm {2 * 2000 ** 3 / t_big / 1e9:.0f} GFLOP/s\n")

    rows = [("sklearn / rbm CD-1 (speed-up)", "sklearn BernoulliRBM", "rbm CD-1", ">=", 4.0),
            ("sklearn / rbm PCD-1 (same algorithm)", "sklearn BernoulliRBM", "rbm PCD-1", None, 0),
            ("rbm CD-1 / dense bound", "rbm CD-1", "dense bound", "<=", 0.5),
            ("rbm PCD-1 / rbm CD-1", "rbm PCD-1", "rbm CD-1", None, 0),
            ("rbm PT-10 / rbm CD-1", "rbm PT-10", "rbm CD-1", None, 0)]
    if run_torch:
        rows.append(("torch CD-1 / rbm CD-1 (speed-up)", "torch CD-1", "rbm CD-1", None, 0))
    print(f"{'ratio (median of per-slice ratios)':<40}{'value':>7}   target")
    for label, a, b, op, target in rows:
        value = ratio(a, b)
        met = value >= target if op == ">=" else value <= target
        verdict = f"{op} {target:g}  {'met' if met else 'MISSED'}" if op else ""
        print(f"{label:<40}{value:7.2f}   {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
