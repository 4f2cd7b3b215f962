"""``rbm sample`` through Click's CliRunner (and once through the installed script), on
a tiny random model of 4x3 images (rows x cols, non-square to catch transpositions)."""

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from rbmcli.cli.main import cli

from clihelpers import assert_error, assert_ok
from rbmcli.io.datasets import load_dataset, write_dataset
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.io.modelfile import ModelFile, save_model

SHAPE = (4, 3)
NV = 12
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def tiny_model(seed=0, binarization="threshold", shape=SHAPE, nh=5):
    rng = np.random.default_rng(seed)
    nv = shape[0] * shape[1]
    m = BernoulliRBM(rng.standard_normal((nv, nh)).astype(np.float32),
                     (0.5 * rng.standard_normal(nv)).astype(np.float32),
                     (0.5 * rng.standard_normal(nh)).astype(np.float32))
    return ModelFile(model=m, hyperparameters={"method": "cd"}, image_shape=shape,
                     binarization=binarization)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with ``model.h5`` (the default model), ``other.h5`` (another
    model) and ``d.h5`` (groups train: 30 and test: 5 images of 4x3)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RBM_MODEL", raising=False)
    save_model("model.h5", tiny_model(0))
    save_model("other.h5", tiny_model(1))
    rng = np.random.default_rng(0)
    write_dataset("d.h5", {
        "train": {"images": (rng.random((30, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
        "test": {"images": (rng.random((5, NV)) * 255).astype(np.uint8), "image_shape": SHAPE},
    })
    return tmp_path


def invoke(*args, input=None, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env)



def grid_size(n, ncols=None, shape=SHAPE, scale=2, pad=1):
    """(width, height) of a save_grid PNG of n tiles."""
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    return ((ncols * (shape[1] + pad) + pad) * scale, (nrows * (shape[0] + pad) + pad) * scale)


def check_png(path, size):
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
        img.verify()


def read_h5(path):
    with h5py.File(path, "r") as f:
        return (dict(f.attrs), f["images"][()], f["states/images"][()],
                tuple(f["images"].shape))




# ------------------------------------------------------------------------ outputs


@pytest.mark.parametrize("method", ["gibbs", "pt", "mf"])
def test_png_grid(work, method):
    result = invoke("sample", "-n", 6, "--method", method, "--steps", 20, "-o", "s.png")
    assert_ok(result)
    check_png("s.png", grid_size(6))
    assert result.stdout == ""
    assert f"wrote s.png: 6 samples ({method}, 20 steps)" in result.stderr


def test_h5_output_keeps_samples_and_provenance(work):
    result = invoke("sample", "-n", 5, "--steps", 7, "--seed", 3, "-o", "s.h5")
    assert_ok(result)
    attrs, images, states, _ = read_h5("s.h5")
    assert images.dtype == np.float32 and images.shape == (5, NV)
    assert (images >= 0).all() and (images <= 1).all()
    assert states.dtype == bool and states.shape == (5, NV)
    assert attrs["method"] == "gibbs" and attrs["steps"] == 7 and attrs["seed"] == 3
    assert attrs["replicas"] == 1 and attrs["init"] == "noise"
    assert attrs["model"] == "model.h5"
    assert attrs["model_sha256"] == hashlib.sha256(Path("model.h5").read_bytes()).hexdigest()
    assert attrs["images_are"] == "P(v=1|h) of the final hidden states"
    assert attrs["format"] == "rbm-data"
    assert tuple(attrs["image_shape"]) == SHAPE
    ds = load_dataset("s.h5")                      # a valid data file for the other commands
    assert ds.image_shape == SHAPE and ds.images.shape == (5, NV)
    np.testing.assert_array_equal(load_dataset("s.h5:states").images, states)


def test_h5_output_of_pt_has_swap_rates(work):
    result = invoke("sample", "-n", 4, "--method", "pt", "--replicas", 3, "--steps", 10,
                    "-o", "s.hdf5")
    assert_ok(result)
    attrs, *_ = read_h5("s.hdf5")
    assert attrs["replicas"] == 3
    np.testing.assert_allclose(attrs["betas"], [1, 0.5, 0])
    rates = attrs["swap_acceptance"]
    assert rates.shape == (2,) and ((rates >= 0) & (rates <= 1)).all()
    lines = [x for x in result.stderr.splitlines() if x.startswith("swap acceptance")]
    assert lines == ["swap acceptance per neighbouring pair (beta 1 -> 0): "
                     + " ".join(f"{a:.2f}" for a in rates)]


def test_dash_writes_hdf5_bytes_to_stdout(work, monkeypatch):
    result = invoke("sample", "-n", 4, "--steps", 5, "-o", "-")
    assert_ok(result)
    data = result.stdout_bytes
    assert data.startswith(HDF5_SIGNATURE)
    assert "wrote <stdout>: 4 samples (gibbs, 5 steps)" in result.stderr
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    ds = load_dataset("-")
    assert ds.images.shape == (4, NV) and ds.images.dtype == np.float32
    assert ds.image_shape == SHAPE
    assert sorted(os.listdir(work)) == ["d.h5", "model.h5", "other.h5"]


def test_same_seed_same_samples(work):
    for name, seed in (("a.h5", 1), ("b.h5", 1), ("c.h5", 2)):
        assert_ok(invoke("sample", "-n", 20, "--steps", 5, "--seed", seed, "-o", name))
    a, b, c = (read_h5(n)[1] for n in ("a.h5", "b.h5", "c.h5"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_gif_has_many_frames(work):
    result = invoke("sample", "-n", 4, "--steps", 100, "-o", "s.png", "--gif", "c.gif")
    assert_ok(result)
    with Image.open("c.gif") as gif:
        assert gif.format == "GIF"
        assert gif.n_frames > 1
        assert gif.info.get("loop") == 0
        assert gif.info.get("duration") == 80
        w, h = grid_size(4)
        assert gif.size == (w, h + 12)      # a 12-pixel caption strip on top
    assert "wrote c.gif: " in result.stderr


# ------------------------------------------------------------- options reach the sampler


@pytest.mark.parametrize("method, steps", [("gibbs", 1000), ("pt", 1000), ("mf", 200)])
def test_default_steps(work, fake, method, steps):
    assert_ok(invoke("sample", "-n", 2, "--method", method, "-o", "s.png"))
    assert fake[method].calls[0]["steps"] == steps


def test_noise_init_and_replicas(work, fake):
    assert_ok(invoke("sample", "-n", 400, "--method", "pt", "--replicas", 4, "-o", "s.png"))
    call = fake["pt"].calls[0]
    assert call["replicas"] == 4 and call["clamp"] is None
    V0 = call["V0"]
    assert V0.shape == (400, NV) and V0.dtype == np.uint8 and set(np.unique(V0)) == {0, 1}
    assert abs(V0.mean() - 0.5) < 5 * np.sqrt(0.25 / V0.size)


def test_init_from_a_data_file(work, fake):
    assert_ok(invoke("sample", "-n", 3, "--init", "d.h5:test", "-o", "s.png"))
    images = load_dataset("d.h5:test").images[:3]
    np.testing.assert_array_equal(fake["gibbs"].calls[0]["V0"], (images >= 128).astype(np.uint8))


def test_init_from_a_data_file_stochastic_model(work, fake):
    save_model("st.h5", tiny_model(0, binarization="stochastic"))
    assert_ok(invoke("sample", "-m", "st.h5", "-n", 30, "--init", "d.h5", "-o", "s.png"))
    V0 = fake["gibbs"].calls[0]["V0"]
    grey = load_dataset("d.h5").images / 255
    assert set(np.unique(V0)) == {0, 1}
    assert not np.array_equal(V0, (grey >= 0.5).astype(np.uint8))   # not thresholded
    assert (V0[grey == 0] == 0).all()


def test_model_from_option_env_and_default(work, fake):
    assert_ok(invoke("sample", "-n", 2, "--steps", 1, "-o", "a.h5"))
    assert_ok(invoke("sample", "-n", 2, "--steps", 1, "-o", "b.h5", env={"RBM_MODEL": "other.h5"}))
    assert_ok(invoke("sample", "-n", 2, "--steps", 1, "-m", "other.h5", "-o", "c.h5",
                     env={"RBM_MODEL": "model.h5"}))
    assert [read_h5(n)[0]["model"] for n in ("a.h5", "b.h5", "c.h5")] == \
        ["model.h5", "other.h5", "other.h5"]


# ----------------------------------------------------------------------- bad input


def _data_12px_2images():
    write_dataset("two.h5", {"": {"images": np.zeros((2, NV), np.uint8)}})


def _data_wrong_pixels():
    write_dataset("wide.h5", {"": {"images": np.zeros((4, 10), np.uint8)}})


@pytest.mark.parametrize("setup, args, message, code", [
    (lambda: os.remove("model.h5"), ["-o", "s.png"],
     "model.h5: no such model file (train one with 'rbm train DATA')", 1),
    (None, ["-m", "d.h5", "-o", "s.png"],
     "d.h5: not an rbm model file: expected format 'rbm-model', found 'rbm-data' "
     "(it looks like a data file)", 1),
    (None, ["-n", "0", "-o", "s.png"],
     "Invalid value for '-n': 0 is not in the range x>=1.", 2),
    (None, ["--steps", "0", "-o", "s.png"],
     "Invalid value for '--steps': 0 is not in the range x>=1.", 2),
    (None, ["-o", "s.jpg"], "-o s.jpg: expected a .png or .h5 file, or - for HDF5 on "
     "standard output", 2),
    (None, ["--replicas", "4", "-o", "s.png"], "--replicas is for --method pt", 2),
    (None, ["--method", "pt", "--replicas", "1", "-o", "s.png"],
     "Invalid value for '--replicas': 1 is not in the range x>=2.", 2),
    (None, ["--method", "hmc", "-o", "s.png"],
     "Invalid value for '--method': 'hmc' is not one of 'gibbs', 'pt', 'mf'.", 2),
    (None, ["--init", "missing.h5", "-o", "s.png"], "missing.h5: no such file", 1),
    (None, ["--init", "d.h5:valid", "-o", "s.png"],
     "d.h5: no group 'valid' (groups: test, train)", 1),
    (_data_12px_2images, ["--init", "two.h5", "-n", "3", "-o", "s.png"],
     "two.h5: has 2 images, fewer than -n 3", 1),
    (_data_wrong_pixels, ["--init", "wide.h5", "-n", "3", "-o", "s.png"],
     "wide.h5: has 10 pixels per image, the model 12 visible units", 1),
    (None, ["-o", "nodir/s.png"], None, 1),
    (None, ["-o", "s.png", "--gif", "nodir/c.gif"], None, 1),
    (None, [], "Missing option '-o' / '--output'.", 2),
], ids=["no-model", "data-as-model", "n0", "steps0", "bad-ext", "replicas-gibbs", "replicas1",
        "bad-method", "init-missing", "init-group", "init-few", "init-pixels", "out-dir",
        "gif-dir", "no-output"])
def test_bad_input_gives_a_one_line_error(work, setup, args, message, code):
    if setup:
        setup()
    before = sorted(os.listdir(work))
    if message is None:
        bad = next(a for a in args if a.startswith("nodir/"))
        message = f"{bad}: cannot write: no such directory {os.path.join(str(work), 'nodir')!r}"
    result = invoke("sample", *args)
    assert_error(result, message, code)
    assert result.stdout == ""
    assert sorted(os.listdir(work)) == before      # no output, no temporary file


# ------------------------------------------------------------------ the real script


def test_pipe_through_the_installed_script(work):
    exe = Path(sys.executable).parent / "rbm"
    if not os.access(exe, os.X_OK):
        pytest.skip("the rbm console script is not installed")
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    sample = subprocess.run([str(exe), "sample", "-n", "9", "--steps", "3", "-o", "-"],
                            capture_output=True, timeout=120, env=env)
    assert sample.returncode == 0, sample.stderr
    assert sample.stdout.startswith(HDF5_SIGNATURE)
    assert sample.stderr.decode() == "wrote <stdout>: 9 samples (gibbs, 3 steps)\n"  # no bar
    show = subprocess.run([str(exe), "data", "show", "-", "-o", "grid.png"], input=sample.stdout,
                          capture_output=True, timeout=120, env=env)
    assert show.returncode == 0, show.stderr
    check_png("grid.png", grid_size(9))


def test_help_imports_no_numpy():
    code = ("import rbmcli.cli.main, sys; from click.testing import CliRunner\n"
            "for args in (['sample', '--help'], ['inpaint', '--help']):\n"
            "    assert CliRunner().invoke(rbmcli.cli.main.cli, args).exit_code == 0, args\n"
            "print(sorted(m for m in ('numba', 'numpy', 'h5py', 'PIL', 'rbmcli.kernels') "
            "if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
