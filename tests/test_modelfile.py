"""rbmcli.io.modelfile: the schema, exact round trips, rejected files and atomic writes."""

import errno
import json
import os
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from rbmcli import __version__
from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset
from rbmcli.errors import InputError
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.io.modelfile import FORMAT, FORMAT_VERSION, ModelFile, is_model_file, load_model, save_model


def make_mf(dtype=np.float32, nv=12, nh=5, seed=0):
    rng = np.random.default_rng(seed)
    model = BernoulliRBM(rng.standard_normal((nv, nh)).astype(dtype),
                         rng.standard_normal(nv).astype(dtype),
                         rng.standard_normal(nh).astype(dtype))
    gen = np.random.default_rng([seed, 1])
    gen.random(17)
    return ModelFile(
        model=model,
        hyperparameters={"n_hidden": nh, "method": "pt", "steps": 3, "lr": 0.1 / 3,
                         "dtype": np.dtype(dtype).name, "seed": seed},
        image_shape=(3, nv // 3),
        binarization="stochastic",
        history={"epoch": np.array([1.0, 2.0]), "mser_train": np.array([0.3, 1 / 3]),
                 "mser_valid": np.array([np.nan, np.nan]),
                 "swap_acceptance": np.array([[0.1, 0.2], [0.3, 0.4]])},
        state={"velocity_weights": rng.standard_normal((nv, nh)).astype(dtype),
               "replica_visible": (rng.random((6, nv)) < 0.5).astype(np.uint8)},
        epoch=2,
        rng_state=gen.bit_generator.state,
        interrupted=True,
        data_mean=rng.random(nv),
    )


def file_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


@pytest.fixture
def saved(tmp_path):
    """A good model file ``m.h5`` in tmp_path; returns its path."""
    path = tmp_path / "m.h5"
    save_model(path, make_mf())
    return path


# ------------------------------------------------------------------ schema, round trip


def test_schema(saved):
    with h5py.File(saved, "r") as f:
        assert f.attrs["format"] == FORMAT == "rbm-model"
        assert f.attrs["format_version"] == FORMAT_VERSION == 1
        assert f.attrs["rbm_version"] == __version__
        assert f.attrs["model_type"] == "bernoulli-rbm"
        assert json.loads(f.attrs["hyperparameters"])["method"] == "pt"
        assert tuple(f.attrs["image_shape"]) == (3, 4)
        assert f.attrs["binarization"] == "stochastic"
        assert f.attrs["dtype"] == "float32"
        assert f["weights"].shape == (12, 5)
        assert f["visible_bias"].shape == (12,) and f["hidden_bias"].shape == (5,)
        assert f["data_mean"].shape == (12,) and f["data_mean"].dtype == np.float64
        assert set(f["history"]) == {"epoch", "mser_train", "mser_valid", "swap_acceptance"}
        assert f["history/swap_acceptance"].shape == (2, 2)
        state = f["state"]
        assert state.attrs["epoch"] == 2
        assert bool(state.attrs["interrupted"]) is True
        assert json.loads(state.attrs["rng_state"])["bit_generator"] == "PCG64"
        assert set(state) == {"velocity_weights", "replica_visible"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, dtype):
    mf = make_mf(dtype)
    save_model(tmp_path / "m.h5", mf)
    back = load_model(tmp_path / "m.h5")
    for name in ("weights", "visible_bias", "hidden_bias", "_weights_tiles"):
        a, b = getattr(mf.model, name), getattr(back.model, name)
        assert b.dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert b.flags.c_contiguous
    assert back.hyperparameters == mf.hyperparameters
    assert back.image_shape == (3, 4) and isinstance(back.image_shape, tuple)
    assert back.binarization == "stochastic"
    assert back.history.keys() == mf.history.keys()
    for key in mf.history:
        np.testing.assert_array_equal(back.history[key], mf.history[key])
    assert back.state.keys() == mf.state.keys()
    for key in mf.state:
        assert back.state[key].dtype == mf.state[key].dtype
        np.testing.assert_array_equal(back.state[key], mf.state[key])
    assert back.epoch == 2 and back.interrupted is True
    np.testing.assert_array_equal(back.data_mean, mf.data_mean)
    assert back.rng_state == mf.rng_state
    # the restored generator continues the same stream
    g1, g2 = np.random.default_rng(), np.random.default_rng()
    g1.bit_generator.state, g2.bit_generator.state = mf.rng_state, back.rng_state
    np.testing.assert_array_equal(g1.random(5), g2.random(5))
    # saving what was loaded gives the same content again
    save_model(tmp_path / "again.h5", back)
    again = load_model(tmp_path / "again.h5")
    np.testing.assert_array_equal(again.model.weights, mf.model.weights)


def test_minimal_model_file_round_trip(tmp_path):
    mf = make_mf()
    mf.history, mf.state, mf.rng_state, mf.interrupted, mf.epoch = {}, {}, None, False, 0
    mf.data_mean = None
    save_model(tmp_path / "m.h5", mf)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        assert "data_mean" not in f
    back = load_model(tmp_path / "m.h5")
    assert back.history == {} and back.state == {} and back.rng_state is None
    assert back.data_mean is None
    assert back.epoch == 0 and back.interrupted is False


def test_save_overwrites(saved):
    save_model(saved, make_mf(np.float64, nv=6, nh=2, seed=5))
    back = load_model(saved)
    assert back.model.weights.shape == (6, 2) and back.model.dtype == np.float64


def test_is_model_file(tmp_path, saved):
    assert is_model_file(saved)
    write_dataset(tmp_path / "d.h5", {"": {"images": np.zeros((2, 4), np.uint8)}})
    assert not is_model_file(tmp_path / "d.h5")
    (tmp_path / "t.txt").write_text("text")
    assert not is_model_file(tmp_path / "t.txt")
    assert not is_model_file(tmp_path / "missing.h5")


# ------------------------------------------------------------------ rejected files


def edited(saved, edit):
    with h5py.File(saved, "a") as f:
        edit(f)
    return saved


def replace(name, value):
    def edit(f):
        del f[name]
        f[name] = value
    return edit


def setattr_(name, value):
    def edit(f):
        f.attrs[name] = value
    return edit


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as err:
        load_model(tmp_path / "nope.h5")
    assert str(err.value) == (f"{tmp_path / 'nope.h5'}: no such model file "
                              "(train one with 'rbm train DATA')")


def test_not_hdf5(tmp_path):
    (tmp_path / "t.h5").write_bytes(b"hello")
    with pytest.raises(InputError, match=r"t\.h5: not an HDF5 file, or corrupt$"):
        load_model(tmp_path / "t.h5")


def test_truncated(saved):
    data = file_bytes(saved)
    saved.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="not an HDF5 file, or corrupt"):
        load_model(saved)


def test_data_file_is_not_a_model(tmp_path):
    write_dataset(tmp_path / "d.h5", {"train": {"images": np.zeros((2, 4), np.uint8)}})
    with pytest.raises(InputError) as err:
        load_model(tmp_path / "d.h5")
    assert str(err.value).endswith("d.h5: not an rbm model file: expected format 'rbm-model', "
                                   "found 'rbm-data' (it looks like a data file)")


@pytest.mark.parametrize("edit, message", [
    (setattr_("format", "something"),
     "not an rbm model file: expected format 'rbm-model', found 'something'"),
    (lambda f: f.attrs.__delitem__("format"),
     "not an rbm model file: expected format 'rbm-model', found None"),
    (setattr_("format_version", 2),
     f"expected model format version 1, found 2 (written by rbm {__version__}; "
     "upgrade rbm to read it)"),
    (setattr_("format_version", 0),
     f"expected model format version 1, found 0 (written by rbm {__version__}; "
     "upgrade rbm to read it)"),
    (setattr_("model_type", "banana-rbm"), "unsupported model type 'banana-rbm'"),
    (replace("visible_bias", np.zeros(11, np.float32)),
     "inconsistent shapes: weights (12, 5), visible_bias (11,), hidden_bias (5,)"),
    (replace("hidden_bias", np.zeros((5, 1), np.float32)),
     "inconsistent shapes: weights (12, 5), visible_bias (12,), hidden_bias (5, 1)"),
    (replace("weights", np.zeros(60, np.float32)),
     "inconsistent shapes: weights (60,), visible_bias (12,), hidden_bias (5,)"),
    (replace("weights", np.where(np.eye(12, 5) > 0, np.nan, 0).astype(np.float32)),
     "model parameters contain NaN or infinity"),
    (replace("hidden_bias", np.array([0, 0, np.inf, 0, 0], np.float32)),
     "model parameters contain NaN or infinity"),
    (setattr_("image_shape", np.array([4, 4])), "image_shape (4, 4) does not match 12 visible units"),
    (replace("data_mean", np.full(11, 0.5)), "data_mean must be 12 values in [0, 1]"),
    (replace("data_mean", np.full(12, 1.5)), "data_mean must be 12 values in [0, 1]"),
    (replace("data_mean", np.full(12, np.nan)), "data_mean must be 12 values in [0, 1]"),
], ids=["format", "no-format", "version-2", "version-0", "model-type",
        "visible-bias-shape", "hidden-bias-2d", "weights-1d", "nan-weights", "inf-bias",
        "image-shape", "data-mean-shape", "data-mean-range", "data-mean-nan"])
def test_load_rejects(saved, edit, message):
    edited(saved, edit)
    with pytest.raises(InputError) as err:
        load_model(saved)
    assert str(err.value) == f"{saved}: {message}"
    assert err.value.path == str(saved)


def test_wrong_version_via_rbm_info(saved, monkeypatch):
    monkeypatch.chdir(saved.parent)
    edited(saved, setattr_("format_version", 7))
    result = CliRunner().invoke(cli, ["info", "m.h5"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.output == (f"Error: m.h5: expected model format version 1, found 7 "
                             f"(written by rbm {__version__}; upgrade rbm to read it)\n")


@pytest.mark.parametrize("edit", [
    setattr_("format_version", "one"),
    setattr_("hyperparameters", "{not json"),
    lambda f: f["state"].attrs.__setitem__("rng_state", "{not json"),
    setattr_("image_shape", np.array([12])),
], ids=["version-not-int", "hyperparameters-not-json", "rng-state-not-json", "image-shape-1d"])
def test_load_rejects_malformed_attributes_with_input_error(saved, edit):
    edited(saved, edit)
    with pytest.raises(InputError) as err:
        load_model(saved)
    assert str(err.value).startswith(f"{saved}: ")


def test_missing_dataset_is_named(saved):
    edited(saved, lambda f: f.__delitem__("hidden_bias"))
    with pytest.raises(InputError) as err:
        load_model(saved)
    assert str(err.value) == f"{saved}: model file lacks dataset 'hidden_bias'"


def test_integer_weights_error_names_the_file(saved):
    edited(saved, replace("weights", np.zeros((12, 5), np.int32)))
    with pytest.raises(InputError) as err:
        load_model(saved)
    assert str(err.value).startswith(f"{saved}: ")


# ------------------------------------------------------------------ atomic writes


def fail_midway(monkeypatch, exc, seen):
    """Make the writer fail after the weights are written (at create_group("history"))."""
    original = h5py.Group.create_group

    def create_group(self, name, *args, **kwargs):
        if name == "history":
            seen.extend(os.listdir(os.path.dirname(self.file.filename)))
            raise exc
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_group", create_group)


@pytest.mark.parametrize("exc, expected", [
    (OSError(errno.ENOSPC, "No space left on device"), InputError),
    (RuntimeError("h5py failed"), RuntimeError),
    (KeyboardInterrupt(), KeyboardInterrupt),
])
def test_failed_write_keeps_the_old_file(saved, monkeypatch, exc, expected):
    before = file_bytes(saved)
    seen = []
    fail_midway(monkeypatch, exc, seen)
    with pytest.raises(expected) as err:
        save_model(saved, make_mf(np.float64, seed=9))
    monkeypatch.undo()
    # it failed while writing a temporary file next to m.h5
    tmp = [name for name in seen if name != "m.h5"]
    assert len(tmp) == 1 and tmp[0].startswith(".m.h5.") and tmp[0].endswith(".tmp")
    if expected is InputError:
        assert str(err.value) == f"{saved}: cannot write: No space left on device"
    assert file_bytes(saved) == before
    assert os.listdir(saved.parent) == ["m.h5"]
    load_model(saved)


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    fail_midway(monkeypatch, RuntimeError("boom"), [])
    with pytest.raises(RuntimeError):
        save_model(tmp_path / "m.h5", make_mf())
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match="cannot write: no such directory"):
        save_model(tmp_path / "no" / "m.h5", make_mf())
    assert os.listdir(tmp_path) == []


def test_save_does_not_follow_into_the_old_file(saved, tmp_path):
    """The new file replaces the old one (a rename), so a copy taken before is unchanged."""
    shutil.copy(saved, tmp_path / "copy.h5")
    os.link(saved, tmp_path / "hardlink.h5")
    save_model(saved, make_mf(seed=3))
    assert file_bytes(tmp_path / "copy.h5") == file_bytes(tmp_path / "hardlink.h5")
    assert not np.array_equal(load_model(saved).model.weights,
                              load_model(tmp_path / "hardlink.h5").model.weights)
