"""``rbm train`` and ``rbm info`` through Click's CliRunner, on tiny learnable data.

The data set is four random 8x8 binary prototypes with 3% of the pixels flipped
(400 training and 100 test images): a 16-unit RBM learns it in a few epochs, and one
epoch takes milliseconds once the Numba kernels are loaded from their cache.
Numba runs single-threaded here: with the OpenMP threading layer, parallel kernels
spin-wait and get ~100x slower when other processes share the CPU.
"""

import json
import os

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import rbmcli.training.rbm
from rbmcli import __version__
from rbmcli.cli.main import cli

from clihelpers import assert_error, assert_ok
from rbmcli.io.datasets import load_dataset, write_dataset
from rbmcli.io.modelfile import load_model

# Small, fast and learnable: 20 updates per epoch.
FAST = ["--hidden", "16", "--batch-size", "20", "--lr", "0.1", "--lr-final", "0.1",
        "--no-pictures"]
"""Small, quick runs at a constant learning rate (so a run resumed with a larger
--epochs total is the same as a straight one)."""
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def prototypes(rng, protos, n, flip=0.03):
    idx = rng.integers(0, len(protos), n)
    bits = protos[idx] ^ (rng.random((n, protos.shape[1])) < flip)
    return (bits * 255).astype(np.uint8), idx.astype(np.uint8)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A temporary working folder holding ``d.h5`` (groups train: 400, test: 100)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    protos = rng.random((4, 64)) < 0.5
    train, train_labels = prototypes(rng, protos, 400)
    test, test_labels = prototypes(rng, protos, 100)
    write_dataset("d.h5", {
        "train": {"images": train, "labels": train_labels, "image_shape": (8, 8)},
        "test": {"images": test, "labels": test_labels, "image_shape": (8, 8)},
    })
    return tmp_path


def train(*args, output="m.h5", data="d.h5", epochs=3):
    return invoke("train", data, "-o", output, "--epochs", epochs, *FAST, *args)



def read_model(path):
    """Everything in a model file, read with plain h5py."""
    with h5py.File(path, "r") as f:
        return {
            "attrs": dict(f.attrs),
            "weights": f["weights"][()],
            "visible_bias": f["visible_bias"][()],
            "hidden_bias": f["hidden_bias"][()],
            "history": {k: v[()] for k, v in f["history"].items()},
            "state": {k: v[()] for k, v in f["state"].items()},
            "state_attrs": dict(f["state"].attrs),
        }


def check_png(path, size):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_SIGNATURE
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.size == size
        img.verify()


def assert_same_run(a, b):
    """Two model files hold the same parameters, buffers and history (but seconds)."""
    ma, mb = read_model(a), read_model(b)
    for key in ("weights", "visible_bias", "hidden_bias"):
        np.testing.assert_array_equal(ma[key], mb[key], err_msg=key)
    assert ma["state"].keys() == mb["state"].keys()
    for key in ma["state"]:
        np.testing.assert_array_equal(ma["state"][key], mb["state"][key], err_msg=key)
    assert ma["history"].keys() == mb["history"].keys()
    for key in ma["history"]:
        if key != "seconds":
            np.testing.assert_array_equal(ma["history"][key], mb["history"][key], err_msg=key)
    assert ma["state_attrs"]["epoch"] == mb["state_attrs"]["epoch"]
    assert json.loads(ma["state_attrs"]["rng_state"]) == json.loads(mb["state_attrs"]["rng_state"])


def file_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


# ------------------------------------------------------------------ the model file


def test_train_writes_model_following_the_schema(work):
    result = train(epochs=3)
    assert_ok(result)
    assert "epoch 3/3" in result.output
    m = read_model("m.h5")
    a = m["attrs"]
    assert a["format"] == "rbm-model"
    assert int(a["format_version"]) == 1
    assert a["rbm_version"] == __version__
    assert a["model_type"] == "bernoulli-rbm"
    assert a["binarization"] == "stochastic"          # the default for rbm
    assert a["dtype"] == "float32"
    assert tuple(a["image_shape"]) == (8, 8)
    hp = json.loads(a["hyperparameters"])
    assert hp["n_hidden"] == 16 and hp["method"] == "pcd" and hp["steps"] == 1
    assert hp["centering"] is True
    assert hp["epochs"] == 3 and hp["batch_size"] == 20 and hp["lr"] == 0.1
    assert m["weights"].shape == (64, 16) and m["weights"].dtype == np.float32
    assert m["visible_bias"].shape == (64,) and m["hidden_bias"].shape == (16,)
    assert np.isfinite(m["weights"]).all()
    assert {"epoch", "seconds", "mser_train", "mser_valid", "free_energy_gap"} <= set(m["history"])
    for name, values in m["history"].items():
        assert values.shape[0] == 3, name
    np.testing.assert_array_equal(m["history"]["epoch"], [1, 2, 3])
    assert (m["history"]["seconds"] >= 0).all()
    assert int(m["state_attrs"]["epoch"]) == 3
    assert not m["state_attrs"]["interrupted"]
    assert "bit_generator" in json.loads(m["state_attrs"]["rng_state"])
    assert m["state"]["velocity_weights"].shape == (64, 16)
    assert m["state"]["velocity_visible_bias"].shape == (64,)
    assert m["state"]["velocity_hidden_bias"].shape == (16,)
    # --no-pictures: no PNGs
    assert sorted(os.listdir(work)) == ["d.h5", "m.h5"]
    # and rbmcli's own reader agrees
    mf = load_model("m.h5")
    assert mf.epoch == 3 and mf.image_shape == (8, 8)
    np.testing.assert_array_equal(mf.model.weights, m["weights"])
    # the training mean image is kept (pixels are 0 or 255: any binarisation agrees)
    train_images = load_dataset("d.h5").images
    np.testing.assert_allclose(mf.data_mean, train_images.mean(axis=0) / 255)


def test_schedule_options_reach_the_model_and_info(work):
    assert_ok(train("--lr-final", "0.02", "--momentum", "0.9", "--momentum-warmup", "1",
                    epochs=3))
    mf = load_model("m.h5")
    assert mf.hyperparameters["lr_final"] == 0.02
    assert mf.hyperparameters["momentum_warmup"] == 1
    np.testing.assert_allclose(mf.history["lr"], [0.1, 0.06, 0.02])
    np.testing.assert_allclose(mf.history["momentum"], [0.5, 0.9, 0.9])
    line = invoke("info", "m.h5").output.splitlines()[5]
    assert line.startswith("training\tpcd (1 steps), lr 0.1 -> 0.02, momentum 0.9 (0.5 for 1 "
                           "epochs), centered, batch 20, ")


def test_info_prints_the_model(work):
    assert_ok(train("--validate", "d.h5:test", epochs=2))
    result = invoke("info", "m.h5")
    assert_ok(result)
    lines = result.output.splitlines()
    assert lines[:5] == ["model\tbernoulli-rbm", "visible\t64 (8x8 images)", "hidden\t16",
                         "dtype\tfloat32", "binarization\tstochastic"]
    assert lines[5].startswith("training\tpcd (1 steps), lr 0.1, momentum 0.5, centered, "
                               "batch 20, ")
    assert "epochs\t2" in lines
    assert any(line.startswith("last epoch\tmser train ") and "valid" in line
               and "free-energy gap" in line for line in lines)
    assert lines[-1].startswith("weights\tmean ")
    assert "interrupted" not in result.output


def test_info_filters_writes_a_png(work):
    assert_ok(train(epochs=1))
    result = invoke("info", "m.h5", "--filters", "f.png")
    assert_ok(result)
    # 16 filters: a 4x4 grid of 8x8 tiles, 1-pixel gaps, scaled 2x
    check_png("f.png", ((4 * 9 + 1) * 2, (4 * 9 + 1) * 2))


def test_info_filters_refused_for_a_data_file(work):
    result = invoke("info", "d.h5", "--filters", "f.png")
    assert_error(result, "--filters needs a model file", code=2)
    assert not os.path.exists("f.png")


def test_info_describes_a_data_file(work):
    result = invoke("info", "d.h5")
    assert_ok(result)
    assert result.output.splitlines() == [
        "d.h5:test\t100 images of 8x8, uint8, labels 4 classes",
        "d.h5:train\t400 images of 8x8, uint8, labels 4 classes",
    ]


def test_train_writes_pictures(work):
    result = invoke("train", "d.h5", "-o", "m.h5", "--epochs", "1", "--hidden", "16")
    assert_ok(result)
    assert "wrote m.h5, m-samples.png" in result.output
    check_png("m-samples.png", ((8 * 9 + 1) * 2, (8 * 9 + 1) * 2))   # 64 samples, 8x8 grid
    check_png("m-filters.png", ((4 * 9 + 1) * 2, (4 * 9 + 1) * 2))   # 16 filters, 4x4 grid


# ------------------------------------------------------------------ methods


@pytest.mark.parametrize("method", [["--cd", "2"], ["--pcd", "1"], ["--pt", "3"]],
                         ids=["cd2", "pcd1", "pt3"])
def test_every_method_lowers_the_reconstruction_error(work, method):
    result = train(*method, epochs=3)
    assert_ok(result)
    m = read_model("m.h5")
    hp = json.loads(m["attrs"]["hyperparameters"])
    assert hp["method"] == method[0][2:] and hp["steps"] == int(method[1])
    mser = m["history"]["mser_train"]
    assert mser.shape == (3,)
    assert np.isfinite(mser).all()
    assert mser[-1] < mser[0] - 0.05, mser
    if method[0] == "--pt":
        swaps = m["history"]["swap_acceptance"]
        assert swaps.shape == (3, 2)        # 3 epochs, 3 temperatures -> 2 neighbour pairs
        assert np.isfinite(swaps).all()
        assert ((swaps >= 0) & (swaps <= 1)).all()
        assert "swaps " in result.output
        assert m["state"]["replica_visible"].shape == (3 * 20, 64)
    else:
        assert "swap_acceptance" not in m["history"]
    if method[0] == "--pcd":
        assert m["state"]["chains"].shape == (20, 64)


# ------------------------------------------------------------------ resume


@pytest.mark.parametrize("method", [["--cd", "1"], ["--pcd", "2"], ["--pt", "3"],
                                    ["--cd", "1", "--binarize", "stochastic"],
                                    ["--pcd", "1", "--centering", "--momentum", "0.9",
                                     "--momentum-warmup", "1"]],
                         ids=["cd1", "pcd2", "pt3", "cd1-stochastic", "pcd1-centered-scheduled"])
def test_resume_gives_the_same_model_as_a_straight_run(work, method):
    assert_ok(train(*method, output="straight.h5", epochs=4))
    assert_ok(train(*method, output="m.h5", epochs=2))
    result = train(*method, "--resume", output="m.h5", epochs=4)
    assert_ok(result)
    assert "resuming m.h5 at epoch 2" in result.output
    assert_same_run("m.h5", "straight.h5")
    assert read_model("m.h5")["history"]["epoch"].tolist() == [1, 2, 3, 4]


def test_resume_without_retyping_the_options(work):
    assert_ok(train("--pcd", "1", output="straight.h5", epochs=3))
    assert_ok(train("--pcd", "1", epochs=1))
    assert_ok(invoke("train", "d.h5", "-o", "m.h5", "--resume", "--epochs", "3",
                     "--no-pictures"))
    assert_same_run("m.h5", "straight.h5")


def test_pt_resume_after_an_odd_number_of_updates(work):
    # batch 80 -> 5 updates per epoch; the checkpoint after epoch 1 has parity 1
    args = ["--pt", "3", "--batch-size", "80"]
    assert_ok(train(*args, output="straight.h5", epochs=2))
    assert_ok(train(*args, output="m.h5", epochs=1))
    assert_ok(train(*args, "--resume", output="m.h5", epochs=2))
    assert_same_run("m.h5", "straight.h5")


@pytest.mark.parametrize("args, message", [
    (["--hidden", "8"], "m.h5: checkpoint has --hidden 16, not 8"),
    (["--batch-size", "10"], "m.h5: checkpoint has --batch-size 20, not 10"),
    (["--cd", "1"], "m.h5: checkpoint was trained with --pcd, not --cd"),
    (["--pcd", "3"], "m.h5: checkpoint has --pcd 1, not 3"),
    (["--dtype", "float64"], "m.h5: checkpoint has --dtype float32, not float64"),
    (["--lr-final", "0.01"], "m.h5: checkpoint has --lr-final 0.1, not 0.01"),
    (["--momentum-warmup", "2"], "m.h5: checkpoint has --momentum-warmup 0, not 2"),
    (["--no-centering"], "m.h5: checkpoint has --centering True, not False"),
])
def test_resume_with_a_conflicting_option_is_refused(work, args, message):
    assert_ok(train(epochs=1))
    before = file_bytes("m.h5")
    result = invoke("train", "d.h5", "-o", "m.h5", "--resume", "--epochs", "3",
                    "--no-pictures", *args)
    assert_error(result, message)
    assert file_bytes("m.h5") == before


@pytest.mark.parametrize("epochs", [2, 1])
def test_resume_when_already_trained_is_refused(work, epochs):
    assert_ok(train(epochs=2))
    before = file_bytes("m.h5")
    result = train("--resume", epochs=epochs)
    assert_error(result, "m.h5: already trained for 2 epochs; pass --epochs N with N > 2 "
                         "to continue")
    assert file_bytes("m.h5") == before


def test_resume_with_more_pixels_than_the_model_is_refused(work):
    assert_ok(train(epochs=1))
    write_dataset("wide.h5", {"": {"images": np.zeros((10, 100), np.uint8)}})
    before = file_bytes("m.h5")
    result = train("--resume", data="wide.h5", epochs=2)
    assert_error(result, "wide.h5: has 100 pixels per image but the model in m.h5 has 64 "
                         "visible units")
    assert file_bytes("m.h5") == before


@pytest.mark.parametrize("model", ["rbm", "nice"])
def test_resume_on_other_data_of_the_same_width_warns(work, model):
    """The checkpoint records the SHA-256 of its training images; --resume on other
    images of the same width says so (and goes on), on the same images it says nothing."""
    options = ["--model", model] + (["--holdout", 100] if model == "nice" else [])
    assert_ok(invoke("train", "d.h5", "-o", "m.h5", "--epochs", 1, *options))
    with h5py.File("d.h5", "r") as f:
        images = f["train/images"][()]
    write_dataset("other.h5", {"": {"images": 255 - images, "image_shape": (8, 8)}})
    warning = ("warning: other.h5 is not the data this checkpoint was trained on (its "
               "SHA-256 differs); training goes on with it")
    resumed = invoke("train", "other.h5", "-o", "m.h5", "--epochs", 2, "--resume")
    assert_ok(resumed)
    assert warning in resumed.output.splitlines()
    again = invoke("train", "other.h5", "-o", "m.h5", "--epochs", 3, "--resume")
    assert_ok(again)
    assert "is not the data this checkpoint was trained on" not in again.output


def test_resume_of_a_data_file_is_refused(work):
    before = file_bytes("d.h5")
    result = train("--resume", output="d.h5", epochs=2)
    assert_error(result, "d.h5: not an rbm model file: expected format 'rbm-model', found "
                         "'rbm-data' (it looks like a data file)")
    assert file_bytes("d.h5") == before


def test_existing_output_is_refused_without_resume_or_force(work):
    assert_ok(train(epochs=1))
    before = file_bytes("m.h5")
    result = train("--hidden", "8", epochs=2)
    assert_error(result, "m.h5: exists; use --resume to continue it or --force to overwrite it")
    assert file_bytes("m.h5") == before
    # --force overwrites it
    assert_ok(train("--force", "--hidden", "8", epochs=2))
    m = read_model("m.h5")
    assert m["weights"].shape == (64, 8) and int(m["state_attrs"]["epoch"]) == 2


# ------------------------------------------------------------------ validation


def test_validation_data_with_another_pixel_count_is_refused(work):
    write_dataset("v.h5", {"": {"images": np.zeros((10, 16), np.uint8)}})
    result = train("--validate", "v.h5")
    assert_error(result, "v.h5: has 16 pixels per image, the training data 64")
    assert not os.path.exists("m.h5")


def test_missing_validation_group_is_refused(work):
    result = train("--validate", "d.h5:valid")
    assert_error(result, "d.h5: no group 'valid' (groups: test, train)")
    assert not os.path.exists("m.h5")


def test_validation_history(work):
    result = train("--validate", "d.h5:test", epochs=2)
    assert_ok(result)
    assert "valid " in result.output and "F gap " in result.output
    hist = read_model("m.h5")["history"]
    for name in ("mser_valid", "free_energy_gap"):
        assert hist[name].shape == (2,)
        assert np.isfinite(hist[name]).all(), name
    assert ((hist["mser_valid"] >= 0) & (hist["mser_valid"] <= 1)).all()


# ------------------------------------------------------------------ NaN guard


# --lr 1e30 alone does not give NaN: the weights jump to ~1e30, every unit saturates
# and the CD gradient becomes exactly 0, so the parameters stay finite. With an L2
# prior the update W <- (1 - lr * l2) W overflows within two batches.
DIVERGE = ["--lr", "1e30", "--l2", "1"]


def test_diverging_training_stops_with_a_one_line_error(work):
    result = invoke("train", "d.h5", "-o", "m.h5", "--hidden", "16", "--epochs", "2",
                    "--no-pictures", *DIVERGE)
    assert_error(result, "m.h5: training diverged in epoch 1/2: weights or biases became NaN "
                         "or infinite; nothing was saved; try a smaller --lr (now 1e+30)")
    assert not os.path.exists("m.h5")
    assert os.listdir(work) == ["d.h5"]


def test_diverging_resume_keeps_the_checkpoint(work):
    assert_ok(train(epochs=1))
    # --lr on the command line would conflict with the checkpoint: put it in the file.
    with h5py.File("m.h5", "a") as f:
        hp = json.loads(f.attrs["hyperparameters"])
        hp.update(lr=1e30, l2=1.0)
        f.attrs["hyperparameters"] = json.dumps(hp)
    before = file_bytes("m.h5")
    result = invoke("train", "d.h5", "-o", "m.h5", "--resume", "--epochs", "3", "--no-pictures")
    assert_error(result, "m.h5: training diverged in epoch 2/3: weights or biases became NaN "
                         "or infinite; m.h5 keeps epoch 1; try a smaller --lr (now 1e+30)")
    assert "diverged" in result.output
    assert file_bytes("m.h5") == before
    mf = load_model("m.h5")
    assert mf.epoch == 1 and mf.model.is_finite()
    assert sorted(os.listdir(work)) == ["d.h5", "m.h5"]


def test_diverging_forced_run_reports_what_the_file_keeps(work):
    assert_ok(train(epochs=2))
    before = file_bytes("m.h5")
    result = invoke("train", "d.h5", "-o", "m.h5", "--force", "--hidden", "16",
                    "--no-pictures", *DIVERGE)
    assert result.exit_code == 1
    assert file_bytes("m.h5") == before          # true: the old model is untouched
    assert "keeps epoch 0" not in result.output  # false claim about the file


@pytest.mark.parametrize("option, value", [("--lr", "nan"), ("--lr", "inf"),
                                           ("--momentum", "nan"), ("--l2", "inf")])
def test_non_finite_hyperparameters_are_refused(work, option, value):
    result = invoke("train", "d.h5", "-o", "m.h5", "--hidden", "4", "--epochs", "1",
                    "--no-pictures", option, value)
    assert result.exit_code == 2, result.output
    assert f"Error: Invalid value for '{option}'" in result.output
    assert not os.path.exists("m.h5")


# ------------------------------------------------------------------ Ctrl-C


def interrupt_on_call(monkeypatch, attr, n):
    """Make ``Trainer.<attr>`` raise KeyboardInterrupt on its n-th call."""
    original = getattr(rbmcli.training.rbm.Trainer, attr)
    calls = []

    def patched(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rbmcli.training.rbm.Trainer, attr, patched)
    # (not monkeypatch.undo(): that would also undo the fixture's chdir)
    return lambda: monkeypatch.setattr(rbmcli.training.rbm.Trainer, attr, original)


def test_ctrl_c_saves_a_checkpoint_and_exits_130(work, monkeypatch):
    assert_ok(train(output="straight.h5", epochs=3))
    restore = interrupt_on_call(monkeypatch, "run_epoch", 2)
    result = train(epochs=3)
    restore()
    assert result.exit_code == 130, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1] == (
        "interrupted (SIGINT): m.h5 holds 1 complete epochs; continue with: "
        "rbm train d.h5 -o m.h5 --resume --epochs 3")
    m = read_model("m.h5")
    assert int(m["state_attrs"]["epoch"]) == 1
    assert bool(m["state_attrs"]["interrupted"]) is True
    assert m["history"]["mser_train"].shape == (1,)
    mf = load_model("m.h5")
    assert mf.interrupted and mf.epoch == 1
    info = invoke("info", "m.h5")
    assert_ok(info)
    assert "epochs\t1 (interrupted; resume with --resume)" in info.output.splitlines()
    # the suggested command continues it, as if never interrupted
    assert_ok(train("--resume", epochs=3))
    assert_same_run("m.h5", "straight.h5")
    assert not read_model("m.h5")["state_attrs"]["interrupted"]
    assert "interrupted" not in invoke("info", "m.h5").output


def test_ctrl_c_mid_epoch_checkpoints_the_last_complete_epoch(work, monkeypatch):
    assert_ok(train(output="one.h5", epochs=1))
    assert_ok(train(output="straight.h5", epochs=3))
    restore = interrupt_on_call(monkeypatch, "update", 25)  # 20 updates/epoch: epoch 2, batch 5
    result = train(epochs=3)
    restore()
    assert result.exit_code == 130
    m, one = read_model("m.h5"), read_model("one.h5")
    assert int(m["state_attrs"]["epoch"]) == 1
    np.testing.assert_array_equal(m["weights"], one["weights"])
    assert_ok(train("--resume", epochs=3))
    assert_same_run("m.h5", "straight.h5")


# ------------------------------------------------------------------ bad input


def _text(name):
    with open(name, "w") as fh:
        fh.write("not hdf5\n")


def _truncated(name):
    data = file_bytes("d.h5")
    with open(name, "wb") as fh:
        fh.write(data[: len(data) // 2])


def _floats(name, values):
    write_dataset(name, {"": {"images": np.asarray(values, np.float64)}})


@pytest.mark.parametrize("setup, args, message, code", [
    (None, ["train", "missing.h5", "-o", "m.h5"], "missing.h5: no such file", 1),
    (None, ["train", "missing.h5:test", "-o", "m.h5"], "missing.h5: no such file", 1),
    (lambda: _text("t.h5"), ["train", "t.h5", "-o", "m.h5"], "t.h5: not an HDF5 file", 1),
    (lambda: _truncated("c.h5"), ["train", "c.h5", "-o", "m.h5"],
     "c.h5: corrupt or truncated HDF5 file", 1),
    (None, ["train", "d.h5:nope", "-o", "m.h5"], "d.h5: no group 'nope' (groups: test, train)", 1),
    (lambda: _floats("nan.h5", np.where(np.eye(8, 64) > 0, np.nan, 0.5)),
     ["train", "nan.h5", "-o", "m.h5"], "nan.h5: images contain NaN or infinite values", 1),
    (lambda: _floats("big.h5", np.linspace(-0.5, 1.5, 8 * 64).reshape(8, 64)),
     ["train", "big.h5", "-o", "m.h5"],
     "big.h5: float images must lie in [0, 1], found values in [-0.5, 1.5]", 1),
    (None, ["train", "d.h5", "-o", "m.h5", "--cd", "0"],
     "Invalid value for '--cd': 0 is not in the range x>=1.", 2),
    (None, ["train", "d.h5", "-o", "m.h5", "--hidden", "-3"],
     "Invalid value for '--hidden': -3 is not in the range x>=1.", 2),
    (None, ["train", "d.h5", "-o", "m.h5", "--pt", "1"],
     "Invalid value for '--pt': 1 is not in the range x>=2.", 2),
    (None, ["train", "d.h5", "-o", "m.h5", "--cd", "1", "--pt", "4"],
     "choose one of --cd, --pcd, --pt", 2),
    (None, ["train", "d.h5", "-o", "m.h5", "--resume", "--force"],
     "--resume continues OUTPUT, --force overwrites it: pick one", 2),
    (None, ["train", "d.h5", "-o", "m.h5", "--resume"],
     "m.h5: no such model file (train one with 'rbm train DATA')", 1),
    (None, ["info", "missing.h5"], "missing.h5: no such file", 1),
    (lambda: _text("t.h5"), ["info", "t.h5"], "t.h5: not an HDF5 file, or corrupt", 1),
    (lambda: _truncated("c.h5"), ["info", "c.h5"], "c.h5: not an HDF5 file, or corrupt", 1),
    (lambda: h5py.File("o.h5", "w").close(), ["info", "o.h5"],
     "o.h5: neither a model file nor a data file (no 'images' dataset)", 1),
], ids=["missing", "missing-group-spec", "not-hdf5", "truncated", "no-group", "nan-images",
        "float-range", "cd0", "hidden-neg", "pt1", "two-methods", "resume-force",
        "resume-missing", "info-missing", "info-not-hdf5", "info-truncated", "info-other-hdf5"])
def test_bad_input_gives_a_one_line_error(work, setup, args, message, code):
    if setup:
        setup()
    before = sorted(os.listdir(work))
    result = invoke(*args, "--no-pictures") if args[0] == "train" else invoke(*args)
    assert_error(result, message, code)
    assert sorted(os.listdir(work)) == before   # no m.h5, no temporary file


def test_unwritable_output_folder(work):
    result = train(output="nodir/m.h5", epochs=1)
    assert_error(result, f"nodir/m.h5: cannot write: no such directory "
                         f"{os.path.join(str(work), 'nodir')!r}")
    assert sorted(os.listdir(work)) == ["d.h5"]


@pytest.mark.parametrize("method", [["--pcd", "1"], ["--pt", "3"]])
def test_cd_from_noise_needs_cd(work, method):
    result = invoke("train", "d.h5", "-o", "m.h5", "--cd-from", "noise", *method, *FAST)
    assert_error(result, "--cd-from is for --cd", code=2)
    assert not os.path.exists("m.h5")
