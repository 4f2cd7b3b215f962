"""What every quality experiment shares: where things live, how an `rbm` command is run
and timed, and how results are stored for :mod:`report`.

Every experiment script runs the installed ``rbm`` command (so the report shows commands
a user can paste), records each command with its wall-clock time and its parsed output
in ``results/<experiment>.json``, and leaves models and pictures in ``out/`` (models are
not committed; the pictures the report shows are). A script that finds its result
already recorded for the same command skips it, so an interrupted run continues where
it stopped; ``--fresh`` runs everything again.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
OUT = HERE / "out"
RESULTS = HERE / "results"
FIGURES = HERE / "figures"
DATA = OUT / "mnist.h5"

# Salakhutdinov & Murray (2008) protocol: 100 AIS runs, 14,500 intermediate distributions.
AIS = ["--ais-runs", "100", "--ais-steps", "14500"]


def parse_args(doc, extra=None):
    """Common options: --fresh, --threads; ``extra(parser)`` adds the script's own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--fresh", action="store_true",
                        help="run every command again, ignoring recorded results")
    parser.add_argument("--threads", type=int, default=None,
                        help="--threads for every rbm command [default: rbm's policy]")
    if extra:
        extra(parser)
    return parser.parse_args()


def rbm_executable():
    """The ``rbm`` next to this Python (a virtual environment's), else the one on PATH."""
    local = Path(sys.executable).with_name("rbm")
    return str(local) if local.exists() else "rbm"


def ensure_data():
    """``out/mnist.h5`` from the shared MNIST files; exits 0 saying why when absent."""
    if DATA.exists():
        return DATA
    if not MNIST_DIR.is_dir():
        print(f"skipped: {MNIST_DIR} is missing (the MNIST idx files)")
        sys.exit(0)
    OUT.mkdir(exist_ok=True)
    run_rbm(["data", "mnist", "--from", str(MNIST_DIR), "-o", str(DATA)])
    return DATA


def rel(path):
    """``path`` relative to the project root (as the report shows it)."""
    return os.path.relpath(path, ROOT)


def run_rbm(args, threads=None):
    """Run ``rbm ARGS`` from the project root; returns (stdout, seconds). Stops the
    experiment with the command's stderr when it fails."""
    args = [str(a) for a in args]
    if threads and args[0] in ("train", "score", "sample", "inpaint"):
        args += ["--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.run([rbm_executable(), *args], cwd=ROOT, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): rbm {shlex.join(args)}\n{proc.stderr}")
    return proc.stdout, seconds


def command_text(args):
    """The command as a user would type it (paths relative to the project root)."""
    return "rbm " + shlex.join(str(a) for a in args)


class Results:
    """``results/<name>.json``: a list of records, each with its commands and figures."""

    def __init__(self, name, fresh=False):
        RESULTS.mkdir(exist_ok=True)
        OUT.mkdir(exist_ok=True)
        self.path = RESULTS / f"{name}.json"
        if fresh and self.path.exists():  # put() re-reads the file: set it aside
            os.replace(self.path, self.path.with_suffix(".json.old"))
        self.records = [] if not self.path.exists() else json.loads(self.path.read_text())

    def find(self, key):
        return next((r for r in self.records if r["key"] == key), None)

    def put(self, record):
        # re-read first: several scripts of one experiment may run side by side
        if self.path.exists():
            self.records = json.loads(self.path.read_text())
        self.records = [r for r in self.records if r["key"] != record["key"]] + [record]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.records, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def train_and_score(results, key, train_args, model, threads=None, bracket=True,
                    extra=None, base=True):
    """Train ``model`` with ``rbm train`` and score it on the test set (AIS log-likelihood,
    reverse AIS with ``bracket``, MSER; the AIS base model from the training set with
    ``base``); record and return the record. Skips both when ``results`` already holds
    ``key`` with the same training command, and the training when ``MODEL.trained.json``
    says that the model file was trained by it (so a failed scoring is retried alone)."""
    train_cmd = ["train", rel(DATA), *train_args, "-o", rel(model), "--force"]
    old = results.find(key)
    if old and old["train_command"] == command_text(train_cmd):
        print(f"{key}: recorded, skipped")
        return old
    print(f"{key}: {command_text(train_cmd)}", flush=True)
    marker = Path(f"{model}.trained.json")
    done = json.loads(marker.read_text()) if marker.exists() and Path(model).exists() else {}
    if done.get("train_command") == command_text(train_cmd):
        train_seconds = done["train_seconds"]
        print(f"{key}: already trained ({marker.name}), scoring only", flush=True)
    else:
        _, train_seconds = run_rbm(train_cmd, threads)
        marker.write_text(json.dumps({"train_command": command_text(train_cmd),
                                      "train_seconds": round(train_seconds, 1)}))
    FIGURES.mkdir(exist_ok=True)
    filters = FIGURES / f"{Path(model).stem}-filters.png"
    shutil.copy(Path(model).with_name(f"{Path(model).stem}-filters.png"), filters)
    score_cmd = ["score", f"{rel(DATA)}:test", "-m", rel(model), "--mser", "--ll",
                 *(["--bracket"] if bracket else []),
                 *(["--base", f"{rel(DATA)}:train"] if base else []),
                 *AIS, "--json", "--no-cache"]
    out, score_seconds = run_rbm(score_cmd, threads)
    record = {"key": key, "train_command": command_text(train_cmd),
              "score_command": command_text(score_cmd),
              "train_seconds": round(train_seconds, 1),
              "score_seconds": round(score_seconds, 1), "filters": rel(filters),
              **(extra or {}),
              "scores": json.loads(out)}
    s = record["scores"]
    ll = "ll" if "ll" in s else "ll_bound"  # a DBN reports its lower bound
    print(f"{key}: {ll} {s[ll]:.2f}" + (f" reverse {s['ll_reverse']:.2f}" if bracket else "")
          + f" mser {s['mser']:.4f}  ({train_seconds:.0f} s + {score_seconds:.0f} s)",
          flush=True)
    results.put(record)
    return record
