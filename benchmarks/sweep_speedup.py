"""`rbm sweep` against the same runs one after another, side by side on this machine.

A small grid of the seed lecture's study (hidden units x L2 prior x seeds, 20 epochs of
the default recipe on MNIST, each run scored on the test set by AIS log-likelihood and
MSER) is run twice:

1. **one after another**: for each run, ``rbm train ... --threads T`` then ``rbm score
   ... --threads T`` (T: every core), as a user without `rbm sweep` would;
2. **rbm sweep**: the same grid by ``rbm sweep`` on its default local Dask cluster (one
   single-threaded worker per core).

It prints both wall times, their ratio (the speed-up), and checks that the two sets of
log-likelihoods agree in distribution (the same seeds give the same models only within
one thread count, so the sums differ by rounding; the means are printed side by side).

Run: ``python benchmarks/sweep_speedup.py [--hidden 100,300] [--l2 0,1e-4] [--seeds 2]
[--epochs 20] [--workdir /tmp/rbm-sweep-speedup]``. Needs ``../shared/data/mnist`` (skips
saying so when absent). A benchmark, not a test: run it on an otherwise idle machine.
"""

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def rbm(*args):
    """Run ``rbm ARGS``; returns stdout (stops the benchmark on failure)."""
    exe = Path(sys.executable).with_name("rbm")
    proc = subprocess.run([str(exe if exe.exists() else "rbm"), *map(str, args)],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: rbm {' '.join(map(str, args))}\n{proc.stderr}")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="100,300")
    parser.add_argument("--l2", default="0,1e-4")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rbm-sweep-speedup"))
    args = parser.parse_args()
    if not MNIST.is_dir():
        print(f"skipped: no MNIST idx files in {MNIST}")
        return
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    data = args.workdir / "mnist.h5"
    rbm("data", "mnist", "--from", MNIST, "-o", data)
    cores = os.cpu_count()
    grid = list(itertools.product(args.hidden.split(","), args.l2.split(","),
                                  range(args.seeds)))
    print(f"{len(grid)} runs: hidden {args.hidden} x l2 {args.l2} x {args.seeds} seeds, "
          f"{args.epochs} epochs; {cores} cores; load average {os.getloadavg()[0]:.2f}",
          flush=True)

    start = time.perf_counter()
    sequential = []
    for hidden, l2, seed in grid:
        model = args.workdir / f"seq-{hidden}-{l2}-{seed}.h5"
        rbm("train", data, "--hidden", hidden, "--l2", l2, "--seed", seed, "--epochs",
            args.epochs, "--no-pictures", "--threads", cores, "-o", model)
        scores = json.loads(rbm("score", f"{data}:test", "-m", model, "--ll", "--mser",
                                "--seed", seed, "--json", "--threads", cores))
        sequential.append(scores["ll"])
    seq_wall = time.perf_counter() - start
    print(f"one after another ({cores} threads each): {seq_wall:.1f} s, mean test ll "
          f"{statistics.mean(sequential):.2f}", flush=True)

    start = time.perf_counter()
    rbm("sweep", data, "-o", args.workdir / "sweep", "--test", f"{data}:test", "--epochs",
        args.epochs, "--grid", f"hidden={args.hidden}", "--grid", f"l2={args.l2}",
        "--seeds", args.seeds, "--score", "ll,mser")
    sweep_wall = time.perf_counter() - start
    lines = (args.workdir / "sweep" / "results.csv").read_text().splitlines()
    column = lines[0].split(",").index("ll")
    swept = [float(line.split(",")[column]) for line in lines[1:]]
    print(f"rbm sweep ({cores} single-threaded workers): {sweep_wall:.1f} s, mean test ll "
          f"{statistics.mean(swept):.2f}", flush=True)
    print(f"speed-up of rbm sweep over one after another: {seq_wall / sweep_wall:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
