"""The public Python API (rbmcli.train, load, save) and the one model interface.

The API runs the same recipes as ``rbm train``: its option table must agree with the
command's options, and a run from an array must equal the command's run on the same
data for a seed."""

import click
from click.testing import CliRunner
import h5py
import numpy as np
import pytest

import rbmcli
from rbmcli.cli.main import cli
from rbmcli.cli.train import MODELS as CLI_MODELS
from rbmcli.cli.train import train as train_command
from rbmcli.io.datasets import write_dataset
from rbmcli.training.recipes import MODELS, TRAIN_DEFAULTS

RNG = np.random.default_rng(0)
X = (RNG.random((200, 16)) < 0.3).astype(np.float32)


def test_public_names():
    for name in rbmcli.__all__:
        assert getattr(rbmcli, name) is not None, name
    assert issubclass(rbmcli.BernoulliRBM, rbmcli.Model)
    assert issubclass(rbmcli.FlowModel, rbmcli.Model)
    assert issubclass(rbmcli.NotSupported, rbmcli.InputError)
    with pytest.raises(AttributeError):
        rbmcli.no_such_name  # noqa: B018


def test_train_options_agree_with_the_command():
    """TRAIN_DEFAULTS lists every option of 'rbm train' but the files and switches, with
    the command's default; the command's --model choices are the recipes'."""
    assert CLI_MODELS == MODELS
    files = {"data", "output", "model_kind", "validate", "resume", "force", "threads",
             "pictures"}
    params = {p.name: p for p in train_command.params if p.name not in files}
    assert set(params) == set(TRAIN_DEFAULTS)
    for name, param in params.items():
        default = None if param.default is click.core.UNSET else param.default
        if isinstance(param.type, click.types.ParamType) and isinstance(default, str) and \
                name == "hidden":
            default = tuple(int(h) for h in default.split(","))
        assert default == TRAIN_DEFAULTS[name], name


def test_train_from_an_array_equals_the_command(tmp_path, monkeypatch):
    """rbmcli.train on an array and 'rbm train' on the same images in a file give the
    same parameters for a seed; the callback sees every epoch."""
    monkeypatch.chdir(tmp_path)
    images = (X * 255).astype(np.uint8)
    write_dataset("d.h5", {"": {"images": images, "image_shape": (4, 4)}})
    seen = []
    model = rbmcli.train(images, hidden=6, epochs=2, seed=3, output="api.h5",
                         callback=lambda epoch, epochs, metrics: seen.append((epoch, epochs)))
    assert seen == [(1, 2), (2, 2)]
    result = CliRunner().invoke(
        cli, ["train", "d.h5", "--hidden", "6", "--epochs", "2", "--seed", "3", "-o",
              "cli.h5", "--no-pictures"])
    assert result.exit_code == 0, result.output
    other = rbmcli.load("cli.h5")
    np.testing.assert_array_equal(model.weights, other.weights)
    np.testing.assert_array_equal(model.hidden_bias, other.hidden_bias)
    assert model.image_shape == (4, 4) and model.binarization == "stochastic"


def test_resume_continues_a_run_exactly(tmp_path):
    path = str(tmp_path / "m.h5")
    constant = dict(hidden=5, seed=1, pcd=1, lr=0.05, lr_final=0.05)  # no decay to stretch
    full = rbmcli.train(X, epochs=3, output=str(tmp_path / "f.h5"), **constant)
    rbmcli.train(X, epochs=2, output=path, **constant)
    resumed = rbmcli.train(X, epochs=3, output=path, resume=True)
    np.testing.assert_array_equal(full.weights, resumed.weights)
    with pytest.raises(rbmcli.InputError, match="exists"):
        rbmcli.train(X, hidden=5, epochs=1, output=path)


def test_train_refuses_what_does_not_apply():
    with pytest.raises(rbmcli.NotSupported, match="is for flow models"):
        rbmcli.train(X, hidden=4, epochs=1, layers=3)
    with pytest.raises(rbmcli.NotSupported, match="is not an option of train"):
        rbmcli.train(X, hidden=4, epochs=1, hiden=3)
    with pytest.raises(rbmcli.NotSupported, match="must be one of"):
        rbmcli.train(X, "gan")


def test_save_and_load_round_trip_every_kind(tmp_path):
    rng = np.random.default_rng(2)
    models = {"rbm": rbmcli.train(X, hidden=4, epochs=1),
              "grbm": rbmcli.train(X, "grbm", hidden=4, epochs=1),
              "dbn": rbmcli.train(X, "dbn", hidden=(4, 3), epochs=1),
              "nice": rbmcli.train(X, "nice", layers=2, hidden_units=4, epochs=1,
                                   holdout=40)}
    for name, model in models.items():
        path = tmp_path / f"{name}.h5"
        rbmcli.save(model, path)
        with pytest.raises(rbmcli.InputError, match="exists"):
            rbmcli.save(model, path)
        back = rbmcli.load(path)
        assert type(back) is type(model) and back.kind == model.kind
        assert back.image_shape == model.image_shape == (4, 4)
        np.testing.assert_array_equal(np.concatenate([a.ravel() for a in back.parameter_arrays()]),
                                      np.concatenate([a.ravel() for a in model.parameter_arrays()]))
        a = model.sample(3, np.random.default_rng(5), **({} if name == "nice" else {"steps": 4}))
        b = back.sample(3, np.random.default_rng(5), **({} if name == "nice" else {"steps": 4}))
        np.testing.assert_array_equal(a.images, b.images)
        filled = back.inpaint(X[:2], np.arange(16) < 8, rng, samples=2, steps=4)
        assert filled.completions.shape == (2, 2, 16)
        # known pixels keep their value (a flow's come back dequantized: within 1/256)
        np.testing.assert_allclose(filled.completions[:, :, :8],
                                   np.broadcast_to(filled.observed[:, None, :8], (2, 2, 8)),
                                   rtol=0, atol=1 / 256 if name == "nice" else 0)


def test_capabilities_a_model_lacks_raise_not_supported():
    rng = np.random.default_rng(0)
    flow = rbmcli.train(X, "nice", layers=2, hidden_units=4, epochs=1, holdout=40)
    with pytest.raises(rbmcli.NotSupported, match="method is for RBMs"):
        flow.sample(2, rng, method="pt")
    with pytest.raises(rbmcli.NotSupported, match="no hidden features"):
        flow.transform(X[:2])
    with pytest.raises(rbmcli.NotSupported, match="no filters"):
        flow.filters()
    rbm = rbmcli.train(X, hidden=4, epochs=1)
    with pytest.raises(rbmcli.NotSupported, match="temperature is for flow models"):
        rbm.sample(2, rng, temperature=0.5)
    with pytest.raises(rbmcli.NotSupported, match="layer 2: the model has 1 hidden layer"):
        rbm.transform(X[:2], layer=2)
    dbn = rbmcli.train(X, "dbn", hidden=(4, 3), epochs=1)
    with pytest.raises(rbmcli.NotSupported, match="pseudo_ll is for Bernoulli RBMs"):
        dbn.score(X[:5], pseudo_ll=True)


def test_a_model_file_and_its_model_describe_the_same_thing(tmp_path):
    """The model carries the file's image shape, binarization and training mean."""
    path = tmp_path / "m.h5"
    model = rbmcli.train(X, hidden=4, epochs=1, output=str(path))
    with h5py.File(path) as f:
        assert tuple(f.attrs["image_shape"]) == model.image_shape
        assert f.attrs["binarization"] == model.binarization
        np.testing.assert_array_equal(f["data_mean"][()], model.data_mean)
