"""Data, commands and readers shared by the tests of ``rbm sweep``."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset

ROOT = Path(__file__).resolve().parents[1]
RBM = [sys.executable, "-c", "from rbmcli.cli.main import main; main()"]
"""The ``rbm`` command of this checkout, for subprocesses."""
TIMEOUT = 600
"""Seconds a sweep subprocess may take at most: a few when Numba's cache is warm, but a
fresh install compiles the kernels in every worker first (about a minute each)."""


def write_prototypes(path, n_train=400, n_test=100):
    """An 8x8 data file (groups train and test): four random binary prototypes with 3% of
    the pixels flipped, which a 16-unit RBM learns in a few epochs."""
    rng = np.random.default_rng(0)
    protos = rng.random((4, 64)) < 0.5

    def draw(n):
        bits = protos[rng.integers(0, 4, n)] ^ (rng.random((n, 64)) < 0.03)
        return (bits * 255).astype(np.uint8)

    write_dataset(path, {"train": {"images": draw(n_train), "image_shape": (8, 8)},
                         "test": {"images": draw(n_test), "image_shape": (8, 8)}})
    return str(path)


def invoke(*args):
    """``rbm ARGS`` in this process (Click's CliRunner)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_rbm(*args):
    """``rbm ARGS`` of this checkout in a subprocess, stopped after :data:`TIMEOUT`
    seconds: (exit status, stdout, stderr)."""
    proc = subprocess.run([*RBM, *map(str, args)], capture_output=True, text=True,
                          env=environment(), timeout=TIMEOUT)
    return proc.returncode, proc.stdout, proc.stderr


def environment():
    """The environment of subprocesses: this checkout first on the path, one thread."""
    env = dict(os.environ, RBM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def records(folder):
    """Run id -> record of every record in the sweep folder."""
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, "runs", "*.json"))):
        with open(path) as fh:
            record = json.load(fh)
        found[record["run_id"]] = record
    return found


def leftovers(folder):
    """Temporary files of atomic writes left in the sweep folder."""
    return glob.glob(os.path.join(folder, "**", ".*.tmp"), recursive=True)
