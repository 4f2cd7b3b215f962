"""Up-down fine-tuning: the top RBM's CD sweeps by the sparse kernels
(``rbmcli.training.updown.top_sweeps``) against the dense NumPy products they replaced,
on the fine-tuned 784-500-500-2000 DBN of ``quality/dbn_classify.py`` (its states have
the real sparsity: 15% of the pen units and 7% of the top units on).

Printed, per thread count (BLAS and Numba alike): the median time per batch of 100 of

* ``dense sweeps``: the NumPy code up-down used before (BLAS products, NumPy draws);
* ``BLAS bound``: only the dense sweeps' matrix products, the floor of that approach;
* ``kernel sweeps``: ``top_sweeps``;
* ``dense step`` / ``kernel step``: a whole ``up_down_update`` with each (momentum 0.9,
  weight decay 0.0002, as ``dbn_classify.py``'s; the rest of the step is the same),

and the ratios dense / kernel, measured in interleaved rounds in one process (the
machine's speed drifts; see ``ab_kernels.py``). Run ``python benchmarks/bench_updown.py
[--cd K] [--rounds N]``; skips, saying why, without the DBN (``out/dbn-up-down.h5``).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import rbmcli  # noqa: F401  (first: it tells OpenBLAS's threads not to spin; see there)
import h5py
import numba
import numpy as np
from threadpoolctl import threadpool_limits

from rbmcli.io.modelfile import load_model
from rbmcli.models.labels import logistic, softmax
from rbmcli.training import updown

HERE = Path(__file__).resolve().parent
MODEL = HERE / "quality" / "out" / "dbn-up-down.h5"
SPLIT = HERE / "quality" / "out" / "mnist-split.h5"


def dense_top_sweeps(top, pen, Y, steps, rng):
    """The dense NumPy version of :func:`rbmcli.training.updown.top_sweeps` (same
    arguments and results; NumPy draws instead of counter-based ones)."""
    U, d = top.labels.weights, top.labels.bias
    top_pos = updown._states(logistic(pen @ top.weights + Y @ U + top.hidden_bias), rng)
    top_neg = top_pos
    for _ in range(int(steps)):
        pen_neg = updown._states(logistic(top_neg @ top.weights.T + top.visible_bias), rng)
        lab_neg = softmax(top_neg @ U.T + d).astype(top.dtype)
        top_neg = updown._states(logistic(pen_neg @ top.weights + lab_neg @ U
                                          + top.hidden_bias), rng)
    return top_pos, pen_neg, lab_neg, top_neg


def blas_only(top, pen, Y, steps, top_neg, pen_neg):
    """The matrix products of :func:`dense_top_sweeps`, nothing else."""
    W, U = top.weights, top.labels.weights
    pen @ W + Y @ U
    for _ in range(int(steps)):
        top_neg @ W.T
        top_neg @ U.T
        pen_neg @ W + Y @ U


def timed(f, repeat):
    start = time.perf_counter()
    for _ in range(repeat):
        f()
    return (time.perf_counter() - start) / repeat


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cd", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", type=int, default=5, help="batches per round and side")
    args = parser.parse_args()
    if not MODEL.exists() or not SPLIT.exists():
        print(f"skipped: {MODEL.name} or {SPLIT.name} is missing from {MODEL.parent} "
              "(run quality/dbn_classify.py)")
        return
    model = load_model(MODEL)
    dbn = getattr(model, "model", model)
    top = dbn.top
    with h5py.File(SPLIT) as f:
        grey = f["train/images"][:args.batches * 100].reshape(-1, 784) / 255.0
        labels = f["train/labels"][:args.batches * 100].astype(np.int64)
    rng = np.random.default_rng(0)
    V = (rng.random(grey.shape) < grey).astype(np.uint8)
    batches = [(V[k:k + 100], labels[k:k + 100]) for k in range(0, len(V), 100)]
    x = V.astype(dbn.dtype)
    for layer in dbn.layers[:-1]:
        x = updown._states(logistic(x @ layer.weights + layer.hidden_bias), rng)
    pens = [x[k:k + 100] for k in range(0, len(x), 100)]
    Ys = [top.labels.one_hot(y, dbn.dtype) for _, y in batches]
    saved = (numba.get_num_threads(), [a.copy() for a, _ in updown.parameters(dbn)])
    print(f"top RBM {top.n_visible}+{len(top.labels)} x {top.n_hidden}, CD-{args.cd}, "
          f"batches of 100, {args.rounds} rounds of {len(batches)} batches; ms per batch "
          "(median over rounds)")
    kernel_sweeps = updown.top_sweeps
    velocities = [np.zeros_like(a) for a, _ in updown.parameters(dbn)]  # as the recipe's
    updown.top_sweeps(top, pens[0], Ys[0], 1, rng)  # compile (or load the cached kernels)
    for threads in (1, 2):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        times = {k: [] for k in ("dense sweeps", "BLAS bound", "kernel sweeps",
                                 "dense step", "kernel step")}
        with threadpool_limits(threads):
            for _ in range(args.rounds):
                for name, sweeps in (("dense", dense_top_sweeps), ("kernel", kernel_sweeps)):
                    times[f"{name} sweeps"].append(sum(
                        timed(lambda: sweeps(top, p, Y, args.cd, rng), 1)
                        for p, Y in zip(pens, Ys)) / len(pens))
                    updown.top_sweeps = sweeps
                    try:
                        times[f"{name} step"].append(sum(
                            timed(lambda: updown.up_down_update(
                                dbn, v, y, rng, 1e-6, args.cd, velocities, 0.9, 2e-4,
                                refresh_tiles=False), 1)
                            for v, y in batches) / len(batches))
                    finally:
                        updown.top_sweeps = kernel_sweeps
                t_pos, p_neg, _, t_neg = dense_top_sweeps(top, pens[0], Ys[0], 1, rng)
                times["BLAS bound"].append(sum(
                    timed(lambda: blas_only(top, p, Y, args.cd, t_neg, p_neg), 1)
                    for p, Y in zip(pens, Ys)) / len(pens))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        ratio = lambda a, b: statistics.median(  # noqa: E731
            [x / y for x, y in zip(times[a], times[b])])
        print(f"{threads} thread{'s' if threads > 1 else ''}: " + ", ".join(
            f"{k} {v:.1f}" for k, v in med.items()))
        print(f"  dense / kernel sweeps: {ratio('dense sweeps', 'kernel sweeps'):.2f}x, "
              f"BLAS bound / kernel sweeps: {ratio('BLAS bound', 'kernel sweeps'):.2f}x, "
              f"dense / kernel step: {ratio('dense step', 'kernel step'):.2f}x")
    numba.set_num_threads(saved[0])
    for (array, _), old in zip(updown.parameters(dbn), saved[1]):
        array[...] = old


if __name__ == "__main__":
    sys.exit(main())
