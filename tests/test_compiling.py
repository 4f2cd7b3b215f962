"""The compile notice of a first run (rbmcli.compiling), and what a first run compiles.

The notice is tested with stand-in kernels, since a real cold-cache ``rbm train``
compiles for about 25 CPU seconds (``benchmarks/compile_time.py`` measures it; the last
test pays for two such runs to check what compiles): one in a file with ``cache=True``
in subprocesses with a fresh ``NUMBA_CACHE_DIR`` (a cold run compiles, a warm one loads
from the cache and broadcasts no compile event), and a fresh ``njit`` function called
from each training batch for the CLI's lines.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numba
import numpy as np
import pytest
from click.testing import CliRunner

from rbmcli import compiling
from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset
from rbmcli.training.rbm import Trainer
from rbmcli.training.run import COMPILING

from test_cli_train import FAST


def test_clock_counts_a_compile_and_not_a_second_call():
    @numba.njit
    def twice(x):
        return 2 * x

    with compiling.watch() as clock:
        twice(1.0)
    assert clock.compiled and clock.count == 1 and clock.seconds > 0
    with compiling.watch() as clock:
        twice(3.0)
    assert not clock.compiled and clock.seconds == 0.0


def test_clock_times_nested_compiles_once():
    @numba.njit
    def inner(x):
        return x + 1

    @numba.njit
    def outer(x):
        return inner(x) * 2

    starts = []
    with compiling.watch(on_start=lambda: starts.append(1)) as clock:
        outer(1)
    assert clock.count == 1 and clock.depth == 0  # inner compiled inside outer's event
    assert starts == [1]


KERNEL = """
import numba
from rbmcli import compiling

@numba.njit(cache=True)
def kernel(x):
    return x * 3 + 1

with compiling.watch(on_start=lambda: print("starting")) as clock:
    kernel(2)
print("compiled" if clock.compiled else "cached")
"""


def test_cold_cache_compiles_and_warm_cache_does_not(tmp_path):
    (tmp_path / "stub_kernel.py").write_text(textwrap.dedent(KERNEL))
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": ":".join(sys.path)}
    runs = [subprocess.run([sys.executable, "stub_kernel.py"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs
    assert runs[0].stdout.split() == ["starting", "compiled"]
    assert runs[1].stdout.split() == ["cached"]


@pytest.fixture
def data(tmp_path, monkeypatch, one_numba_thread):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    images = ((rng.random((100, 16)) < 0.5) * 255).astype(np.uint8)
    write_dataset("d.h5", {"train": {"images": images, "image_shape": (4, 4)}})


def test_train_says_when_the_first_batch_compiled(data, monkeypatch):
    """A batch that compiles gets the two lines (once), and the epoch's seconds leave
    the compile time out; a run whose kernels are compiled says nothing."""
    @numba.njit
    def stand_in(x):  # a new function: compiles on its first call
        s = 0.0
        for v in x.ravel():
            s += v
        return s

    update = Trainer.update

    def update_and_compile(self, v_pos):
        stand_in(v_pos)
        update(self, v_pos)

    monkeypatch.setattr(Trainer, "update", update_and_compile)

    def run(output):
        result = CliRunner().invoke(cli, ["train", "d.h5", "-o", output, "--epochs", "2",
                                          *FAST])
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines()]

    cold = run("a.h5")
    assert cold[0] == f"{COMPILING}..."
    assert cold[1].startswith(f"{COMPILING}: ") and cold[1].endswith(" s")
    compile_s = float(cold[1].split(": ")[1][:-2])
    assert compile_s > 0.05
    assert cold[2].startswith("epoch 1/2") and cold[3].startswith("epoch 2/2")
    epoch_s = float(cold[2].split()[2][:-1])
    assert epoch_s < compile_s  # the compile time is not in the epoch's time
    warm = run("b.h5")
    assert not any(COMPILING in line for line in warm), warm


COLD_TRAIN = """
import json, sys
from rbmcli import compiling
from rbmcli.cli.main import cli
if sys.argv[2] == "one process":
    compiling.compile_alongside = lambda kernel, args: None
with compiling.watch() as clock:
    try:
        cli(["train", "--hidden", "12", "--epochs", "1", "--threads", "2", "-o", sys.argv[1]],
            prog_name="rbm", standalone_mode=False)
    except SystemExit as err:
        assert not err.code, err.code
print(json.dumps([[r.name, r.signature, r.depth] for r in clock.rows]))
"""


def cold_train(tmp_path, how):
    """``rbm train`` on a new install (an empty cache), compiling ``how``: "one process"
    or "alongside" (the default); returns (the compiled rows (name, signature, depth),
    the model's weights)."""
    folder = tmp_path / how.replace(" ", "-")
    folder.mkdir()
    # run from a folder holding another `rbmcli` (as when `pip install .` was run from a
    # checkout): the second process must compile the package this one runs, not that
    (folder / "rbmcli").mkdir()
    (folder / "rbmcli" / "__init__.py").write_text("raise ImportError('the wrong rbmcli')")
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache"),
           "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    env.pop("RBM_PLAIN_KERNELS", None)
    env.pop("RBM_THREADS", None)
    done = subprocess.run([sys.executable, "-P", "-c", COLD_TRAIN, str(folder / "m.h5"), how],
                          capture_output=True, text=True, env=env, timeout=600, cwd=folder)
    assert done.returncode == 0, done.stderr
    with h5py.File(folder / "m.h5", "r") as f:
        weights = f["weights"][()]
    return json.loads(done.stdout.splitlines()[-1]), weights


def test_a_first_train_compiles_each_kernel_once_and_no_literal_specialization(tmp_path):
    """A new install's ``rbm train`` (cold cache: everything compiles, nested kernels
    included) compiles one specialization per kernel: a second one for a literal
    argument (Numba types a call's constant ``1`` or ``True`` as ``Literal``, and even
    ``m = 0`` before a loop while it infers the loop's types) cost 15 s of the first run
    (see HELPER in rbmcli.kernels._config). With the parameter update compiled in a
    second process (compiling.compile_alongside), this one compiles none of it, and the
    model is the same (to the last bits: a kernel loaded from the cache rounds a few
    float32 sums differently from the same kernel compiled in the process)."""
    rows, weights = cold_train(tmp_path, "one process")
    ours = [(name, sig) for name, sig, _ in rows if name.startswith("rbmcli.kernels.")]
    assert len(ours) > 10  # the training kernels and their helpers compiled
    assert "rbmcli.kernels.rbm.gradients._update_rows" in {name for name, _ in ours}
    literal = [row for row in ours if "Literal" in row[1]]
    assert literal == []
    twice = sorted({name for name, _ in ours if sum(n == name for n, _ in ours) > 1})
    assert twice == []

    rows_alongside, weights_alongside = cold_train(tmp_path, "alongside")
    update = [row for row in rows_alongside if ".gradients." in row[0]]
    assert update == [["rbmcli.kernels.rbm.gradients.apply_update", update[0][1], 0]]
    # equal up to the rounding that tells compiled from cached kernels apart (see
    # SCALE_ATOL in test_golden_cli.py): an update that differed would differ by far more
    np.testing.assert_allclose(weights_alongside, weights, rtol=1e-6,
                               atol=1e-5 * np.abs(weights).max())
