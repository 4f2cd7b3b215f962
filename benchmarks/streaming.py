"""Streaming training (``rbm train --memory``) against in-memory training on MNIST.

Builds ``mnist.h5`` from the idx files in ``../shared/data/mnist`` (``rbm data mnist
--from``; skips with a message when they are absent), then trains the default ``rbm``
recipe (centered PCD-1, stochastic binarisation, lr 0.05 decayed to 0) twice with the same
seed: once in memory, once with ``--memory`` a tenth of the training images' bytes, so
that the trainer reads the file in shuffled chunks every epoch. The two runs take turns,
one epoch each (a run stops after an epoch and ``--resume`` continues it, which repeats
an uninterrupted run exactly), so that the machine's other work weighs on both alike.

For each it prints the seconds of every epoch (the model file's ``history/seconds``: the
epoch's batches, file reads included, without the end-of-epoch evaluation), their
median, the seconds spent outside the epochs (loading or the passes over the file at
each start, evaluation, checkpoints) and the test log-likelihood by forward AIS
(``model.score(..., ll=True)``, the settings of ``rbm score --ll``); then the ratio of
the median epoch times and the difference of the log-likelihoods.

Run: ``python benchmarks/streaming.py [--hidden 500] [--epochs 5] [--fraction 0.1]
[--workdir /tmp/rbm-streaming] [--threads T]``. A benchmark, not a test: the machine's
other work shows in the times (the load average is printed).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import rbmcli
from rbmcli.cli.main import cli
from rbmcli.io.datasets import load_dataset, open_image_file
from rbmcli.io.modelfile import load_model
from rbmcli.memory import size_text

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def build_data(workdir):
    """``workdir/mnist.h5`` from the shared idx files (made once), or None when absent."""
    if not MNIST.is_dir() or not any(MNIST.glob("*.gz")):
        return None
    path = workdir / "mnist.h5"
    if not path.exists():
        cli(["data", "mnist", "--from", str(MNIST), "-o", str(path)], standalone_mode=False)
    return path


class _Pause(Exception):
    """Raised after an epoch to let the other run take its turn."""


def _pause(epoch, epochs, metrics):
    raise _Pause


def train_epoch(data, output, args, memory, epoch, lines):
    """Train (or, after the first, resume) the run in ``output`` for its ``epoch``-th
    epoch; returns the wall seconds of the call."""
    start = time.perf_counter()
    try:
        rbmcli.train(str(data), hidden=args.hidden, epochs=args.epochs, seed=0,
                     output=str(output), force=epoch == 1, resume=epoch > 1, memory=memory,
                     threads=args.threads, log=lines.append, callback=_pause)
    except _Pause:
        pass
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.1,
                        help="the --memory budget as a fraction of the images' bytes")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rbm-streaming"))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = build_data(args.workdir)
    if data is None:
        print(f"skipped: no MNIST idx files in {MNIST}")
        return
    images = open_image_file(f"{data}:train")
    budget = int(images.nbytes * args.fraction)
    test = load_dataset(f"{data}:test").images
    print(f"MNIST train {images.shape[0]} x {images.shape[1]} uint8 = "
          f"{size_text(images.nbytes)}; --memory {budget} ({size_text(budget)}); "
          f"hidden {args.hidden}, {args.epochs} epochs, default rbm recipe, seed 0; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    runs = {"in memory": None, "streamed": budget}
    outputs = {name: args.workdir / f"{name.replace(' ', '-')}.h5" for name in runs}
    walls, lines = dict.fromkeys(runs, 0.0), {name: [] for name in runs}
    for epoch in range(1, args.epochs + 1):
        for name, memory in runs.items():
            walls[name] += train_epoch(data, outputs[name], args, memory, epoch, lines[name])
    results = {}
    for name in runs:
        mf = load_model(outputs[name])
        seconds = mf.history["seconds"].tolist()
        summary = mf.model.score(test, ll=True, seed=0).summary
        results[name] = (statistics.median(seconds), summary["ll"])
        said = [line for line in lines[name] if line.startswith("streaming")]
        print(f"{name:>9}: epochs {' '.join(f'{s:.2f}' for s in seconds)} s, median "
              f"{statistics.median(seconds):.2f} s; outside the epochs "
              f"{walls[name] - sum(seconds):.1f} s; test ll {summary['ll']:.2f} +- "
              f"{summary['ll_sd']:.2f} nats" + (f"\n           {said[0]}" if said else ""),
              flush=True)
    (t_mem, ll_mem), (t_str, ll_str) = results["in memory"], results["streamed"]
    print(f"median epoch streamed / in memory: {t_str / t_mem:.3f}; "
          f"test ll streamed - in memory: {ll_str - ll_mem:+.2f} nats; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
