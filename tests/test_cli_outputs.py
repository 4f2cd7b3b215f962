"""The output rule of every command (README "Errors"), the ranges of --seed, $RBM_THREADS,
sample counts and --temperature, and inputs that used to give a traceback or a wrong
result with exit 0. Tiny model (4x3 images, 5 hidden units) and data; nothing here
trains or samples for long.

The rule: an existing output is kept unless --force; an output that is one of the
inputs (after links) is refused even with --force; every output's folder is checked
before any work, so a failing output leaves no other output behind; '-' writes to
standard output where the output can be a stream, and is refused with one line where it
cannot."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from clihelpers import assert_error, assert_ok
from rbmcli.cli import common
from rbmcli.cli.main import cli
from rbmcli.io import atomic
from rbmcli.io.datasets import write_dataset
from rbmcli.io.modelfile import ModelFile, save_model
from rbmcli.models.rbm import BernoulliRBM

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (4, 3)
NV = 12
HDF5 = b"\x89HDF\r\n\x1a\n"
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def tiny_model(binarization="threshold"):
    rng = np.random.default_rng(0)
    m = BernoulliRBM(rng.standard_normal((NV, 5)).astype(np.float32),
                     np.zeros(NV, np.float32), np.zeros(5, np.float32))
    return ModelFile(model=m, hyperparameters={"method": "cd"}, image_shape=SHAPE,
                     binarization=binarization)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """m.h5 (a model), d.h5 (train 20 / test 4 images of 4x3), a.png (a 4x3 image)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RBM_MODEL", raising=False)
    save_model("m.h5", tiny_model())
    rng = np.random.default_rng(0)
    write_dataset("d.h5", {
        "train": {"images": (rng.random((20, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
        "test": {"images": (rng.random((4, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
    })
    Image.fromarray((rng.random(SHAPE) * 255).astype(np.uint8)).save("a.png")
    return tmp_path


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def snapshot(folder):
    """name -> sha256 of every file in ``folder`` (links by their target's bytes)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "dangling"
            for p in sorted(Path(folder).iterdir())}


# ------------------------------------------------------------ every output of every command

SAMPLE = ["sample", "-m", "m.h5", "-n", 2, "--steps", 2]
INPAINT = ["inpaint", "a.png", "-m", "m.h5", "--keep", "top", "--samples", 2, "--steps", 2]
REFUSE_GIF = (2, "--gif -: a GIF cannot go to standard output; give --gif FILE")

# id: (arguments with OUT for the output, the input it may name, what '-' gives: the
#      signature written to stdout, or (exit code, error line))
OUTPUTS = {
    "sample-o": (SAMPLE + ["-o", "OUT"], "m.h5", ".h5", HDF5),
    "sample-gif": (SAMPLE + ["-o", "s.png", "--gif", "OUT"], "m.h5", ".gif", REFUSE_GIF),
    "inpaint-o": (INPAINT + ["-o", "OUT"], "a.png", ".png", PNG),
    "inpaint-gif": (INPAINT + ["-o", "p.png", "--gif", "OUT"], "m.h5", ".gif", REFUSE_GIF),
    "inpaint-data-o": (["inpaint", "d.h5:test", "-m", "m.h5", "--samples", 1, "--steps", 1,
                        "-o", "OUT"], "d.h5", ".png",
                       (2, "-o -: standard output has the scores of a data file; give -o FILE")),
    "info-filters": (["info", "m.h5", "--filters", "OUT"], "m.h5", ".png",
                     (2, "--filters -: standard output has the description; give "
                         "--filters FILE")),
    "transform-o": (["transform", "d.h5", "-m", "m.h5", "-o", "OUT"], "d.h5", ".h5", HDF5),
    "data-synthetic": (["data", "synthetic", "-n", 1, "-o", "OUT"], None, ".h5", HDF5),
    "data-images": (["data", "images", "a.png", "-o", "OUT"], "a.png", ".h5", HDF5),
    "data-show": (["data", "show", "d.h5", "-o", "OUT"], "d.h5", ".png", PNG),
    "train-o": (["train", "d.h5", "--hidden", 2, "--epochs", 1, "--no-pictures", "-o", "OUT"],
                "d.h5", ".h5",
                (2, "-o -: the model file cannot go to standard output; give -o FILE")),
}
IDS = list(OUTPUTS)


def args_with(case, out, *extra):
    return [out if a == "OUT" else a for a in OUTPUTS[case][0]] + list(extra)


@pytest.mark.parametrize("case", IDS)
def test_an_existing_output_is_kept_without_force(work, case):
    out = "out" + OUTPUTS[case][2]
    Path(out).write_bytes(b"old")
    before = snapshot(work)
    message = (f"{out}: exists; use --resume to continue it or --force to overwrite it"
               if case == "train-o" else f"{out}: exists; use --force to overwrite it")
    assert_error(invoke(*args_with(case, out)), message)
    assert snapshot(work) == before


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["", "force"])
@pytest.mark.parametrize("case", [c for c in IDS if OUTPUTS[c][1]])
def test_an_input_is_never_an_output(work, case, force):
    """A link to the input, named as the output must be named, is refused, with --force
    too; and so is the input's own name where the output may have its ending."""
    source, ending = OUTPUTS[case][1:3]
    os.symlink(source, "link" + ending)
    before = snapshot(work)
    for out in ("link" + ending,) + ((source,) if source.endswith(ending) else ()):
        assert_error(invoke(*args_with(case, out, *force)),
                     f"{out}: is an input of this command; choose another output")
        assert snapshot(work) == before


@pytest.mark.parametrize("case", IDS)
def test_force_replaces_an_existing_output(work, case):
    out = "out" + OUTPUTS[case][2]
    Path(out).write_bytes(b"old")
    assert_ok(invoke(*args_with(case, out, "--force")))
    assert Path(out).read_bytes()[:4] in (HDF5[:4], PNG[:4], b"GIF8")
    assert not [p for p in os.listdir(work) if p.endswith(".tmp")]


@pytest.mark.parametrize("case", IDS)
def test_dash(work, case):
    before = snapshot(work)
    result = invoke(*args_with(case, "-"))
    want = OUTPUTS[case][3]
    if isinstance(want, bytes):
        assert_ok(result)
        assert result.stdout_bytes.startswith(want)
        assert "wrote <stdout>: " in result.stderr
    else:
        assert_error(result, want[1], want[0])
        assert result.stdout == ""
    assert snapshot(work) == before  # no file named '-'


@pytest.mark.parametrize("case", [c for c in IDS if isinstance(OUTPUTS[c][3], bytes)])
def test_binary_output_to_a_terminal_is_refused(work, case, monkeypatch):
    monkeypatch.setattr(common, "_stdout_is_a_terminal", lambda: True)
    kind = "HDF5" if OUTPUTS[case][3] == HDF5 else "PNG"
    assert_error(invoke(*args_with(case, "-")),
                 f"refusing to write {kind} to a terminal; redirect it or give -o FILE")


@pytest.mark.parametrize("case", IDS)
def test_a_missing_folder_fails_before_any_output(work, case):
    before = snapshot(work)
    out = "nodir/out" + OUTPUTS[case][2]
    assert_error(invoke(*args_with(case, out)),
                 f"{out}: cannot write: no such directory {str(work / 'nodir')!r}")
    assert snapshot(work) == before  # in particular no s.png / p.png of the other output


def test_two_outputs_of_one_name(work):
    assert_error(invoke(*SAMPLE, "-o", "x.png", "--gif", "x.png"),
                 "--gif x.png: expected a .gif file", 2)
    assert_error(invoke(*SAMPLE, "-o", "x.gif", "--gif", "x.gif"),
                 "-o x.gif: expected a .png or .h5 file, or - for HDF5 on standard output", 2)
    os.symlink("s.png", "same.gif")       # a link to the other output, not yet written
    assert_error(invoke(*SAMPLE, "-o", "s.png", "--gif", "same.gif", "--force"),
                 "-o and --gif name the same file same.gif; choose another output", 2)
    assert sorted(os.listdir(work)) == ["a.png", "d.h5", "m.h5", "same.gif"]


def test_train_pictures_follow_the_rule(work):
    Path("t-samples.png").write_bytes(b"old")
    before = snapshot(work)
    args = ["train", "d.h5", "--hidden", 2, "--epochs", 1, "--batch-size", 10, "-o", "t.h5"]
    assert_error(invoke(*args), "t-samples.png: exists; use --force to overwrite it")
    assert snapshot(work) == before
    assert_ok(invoke(*args, "--no-pictures"))       # not an output then
    assert_error(invoke(*args, "--force", "-o", "d.h5"),
                 "d.h5: is an input of this command; choose another output")
    assert_error(invoke(*args, "--force", "--validate", "t.h5"),
                 "t.h5: is an input of this command; choose another output")
    # --resume continues OUTPUT and replaces its pictures
    assert_ok(invoke(*args[:-4], "-o", "t.h5", "--resume", "--epochs", 2))
    assert Path("t-samples.png").read_bytes().startswith(PNG)


def test_inpaint_writes_png_only(work):
    assert_error(invoke(*INPAINT, "-o", "p.h5"),
                 "-o p.h5: expected a .png file, or - for PNG on standard output", 2)
    assert_error(invoke("data", "show", "d.h5", "-o", "g.h5"),
                 "-o g.h5: expected a .png file, or - for PNG on standard output", 2)
    assert_error(invoke("info", "m.h5", "--filters", "f.h5"), "--filters f.h5: expected a "
                 ".png file", 2)
    assert not Path("p.h5").exists() and not Path("g.h5").exists()


# ------------------------------------------------------------------------- option ranges

SEED_ERROR = "Invalid value for '--seed': {} is not in the range 0<=x<=4294967295."
SEED_COMMANDS = {
    **{f"train-{kind}": ["train", "d.h5", "--model", kind, "-o", "t.h5"]
       for kind in ("rbm", "grbm", "dbn", "nice", "realnvp", "glow", "maf")},
    "sample": SAMPLE + ["-o", "s.png"],
    "inpaint": INPAINT + ["-o", "p.png"],
    "data-synthetic": ["data", "synthetic", "-n", 1, "-o", "x.h5"],
    "transform": ["transform", "d.h5", "-m", "m.h5", "-o", "x.h5"],
    "score": ["score", "d.h5", "-m", "m.h5"],
}


@pytest.mark.parametrize("seed", [-1, 2**32, "x"])
@pytest.mark.parametrize("command", list(SEED_COMMANDS))
def test_seed_range(work, command, seed):
    before = snapshot(work)
    result = invoke(*SEED_COMMANDS[command], "--seed", seed)
    if seed == "x":
        assert_error(result, "Invalid value for '--seed': 'x' is not a valid integer range.", 2)
    else:
        assert_error(result, SEED_ERROR.format(seed), 2)
    assert snapshot(work) == before


@pytest.mark.parametrize("command", ["sample", "data-synthetic", "score"])
def test_largest_seed_is_accepted(work, command):
    assert_ok(invoke(*SEED_COMMANDS[command], "--seed", 2**32 - 1))


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5"])
def test_rbm_threads_must_be_a_positive_whole_number(work, value):
    assert_error(invoke(*SAMPLE, "-o", "s.png", env={"RBM_THREADS": value}),
                 f"$RBM_THREADS: expected a whole number of threads >= 1, found {value!r}")
    assert not Path("s.png").exists()
    assert_ok(invoke(*SAMPLE, "-o", "s.png", env={"RBM_THREADS": " 1 "}))


def test_sample_count_is_capped_by_memory(work, monkeypatch):
    monkeypatch.setattr(common, "available_memory", lambda: 10**9)
    assert_error(invoke("sample", "-m", "m.h5", "-n", 100000000000, "-o", "s.h5"),
                 "-n 100000000000: the samples would need about 38.4 TB of memory, more than "
                 "the 1.0 GB available")
    assert_error(invoke("sample", "-m", "m.h5", "-n", 1000000, "--method", "pt", "-o", "s.h5"),
                 "-n 1000000: the samples would need about 3.8 GB of memory, more than "
                 "the 1.0 GB available")
    assert_error(invoke("data", "synthetic", "-n", 10**8, "-o", "x.h5"),
                 "-n 100000000: the images would need about 3.0 TB of memory, more than "
                 "the 1.0 GB available")
    assert_error(invoke(*INPAINT, "--samples", 10**8, "-o", "p.png"),
                 "--samples 100000000: the 1 x 100000000 completions would need about "
                 "38.4 GB of memory, more than the 1.0 GB available")
    assert sorted(os.listdir(work)) == ["a.png", "d.h5", "m.h5"]


def test_sample_count_without_a_memory_figure(work, monkeypatch):
    monkeypatch.setattr(common, "available_memory", lambda: None)
    assert_ok(invoke(*SAMPLE, "-o", "s.png"))


@pytest.mark.parametrize("value, message", [
    ("nan", "nan is not a finite number."),
    ("inf", "inf is not a finite number."),
    ("-1", "-1.0 is not in the range x>=0."),
])
def test_temperature_must_be_finite(work, value, message):
    assert_error(invoke(*SAMPLE, "--temperature", value, "-o", "s.h5"),
                 f"Invalid value for '--temperature': {message}", 2)
    assert not Path("s.h5").exists()


# -------------------------------------------------------------- no traceback, no wrong result


def test_unknown_binarization_is_refused(work):
    with h5py.File("m.h5", "r+") as f:
        f.attrs["binarization"] = "fuzzy"
    message = "m.h5: expected binarization threshold|stochastic|none, found fuzzy"
    assert_error(invoke(*SAMPLE, "-o", "s.png"), message)
    assert_error(invoke(*INPAINT, "-o", "p.png"), message)
    assert not Path("s.png").exists() and not Path("p.png").exists()


@pytest.mark.parametrize("args", [
    ["data", "synthetic", "-n", 1, "-o", "-"],
    ["sample", "-m", "m.h5", "-n", 2, "--steps", 1, "-o", "-"],
], ids=["data-synthetic", "sample"])
def test_a_full_device_is_one_line(work, args):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    env = dict(os.environ, PYTHONPATH=str(ROOT), RBM_THREADS="1", NUMBA_NUM_THREADS="1")
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-c", "from rbmcli.cli.main import main; main()",
                               *map(str, args)], stdout=full, stderr=subprocess.PIPE,
                              timeout=120, env=env, cwd=work)
    assert proc.returncode == 1
    assert proc.stderr.decode().splitlines() == [
        "Error: <stdout>: cannot write: No space left on device"]


def deny_reading(monkeypatch, *names):
    """Make ``names`` unreadable: chmod works for ordinary users; root reads anyway, so
    the check the commands use (rbmcli.io.atomic._readable) is patched as well."""
    for name in names:
        os.chmod(name, 0)
    real = atomic._readable
    denied = {os.path.realpath(n) for n in names}
    monkeypatch.setattr(atomic, "_readable",
                        lambda p: os.path.realpath(p) not in denied and real(p))


@pytest.mark.parametrize("args, name", [
    (["data", "show", "d.h5", "-o", "g.png"], "d.h5"),
    (["info", "d.h5"], "d.h5"),
    (["transform", "d.h5", "-m", "m.h5", "-o", "x.h5"], "d.h5"),
    (["data", "images", "a.png", "-o", "x.h5"], "a.png"),
    (INPAINT + ["-o", "p.png"], "a.png"),
    (SAMPLE + ["-o", "s.png"], "m.h5"),
], ids=["data-show", "info", "transform", "data-images", "inpaint", "sample-model"])
def test_an_unreadable_input_is_one_line(work, monkeypatch, args, name):
    deny_reading(monkeypatch, name)
    assert_error(invoke(*args), f"{name}: cannot read: permission denied")
    assert sorted(os.listdir(work)) == ["a.png", "d.h5", "m.h5"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads files without read permission")
def test_an_unreadable_input_without_patching(work):
    os.chmod("d.h5", 0)
    assert_error(invoke("data", "show", "d.h5", "-o", "g.png"),
                 "d.h5: cannot read: permission denied")
