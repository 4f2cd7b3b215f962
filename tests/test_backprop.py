"""Backprop fine-tuning of a DBN (``rbm train --model dbn --fine-tune backprop``): the
feed-forward classifier against its definition, its gradient against finite differences,
the model file, and the command on tiny labelled data (above chance, better than before
fine-tuning, resumed exactly)."""

import json
import math

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset
import rbmcli
from rbmcli.io.modelfile import load_model
from rbmcli.models.classifier import FeedForwardClassifier
from rbmcli.models.dbn import DBN
from rbmcli.models.labels import LabelledRBM, LabelUnits
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.training import backprop

from clihelpers import assert_error, assert_ok, interrupted_at_call, write_prototypes

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def rbm(rng, nv, nh, scale=0.5, dtype=np.float64):
    return BernoulliRBM((scale * rng.standard_normal((nv, nh))).astype(dtype),
                        rng.standard_normal(nv).astype(dtype),
                        rng.standard_normal(nh).astype(dtype))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_the_classifier_starts_as_the_up_pass_and_the_label_conditional():
    """P(y | x) = softmax(a_L U^T + d) with a_L the mean-field up pass (written out)."""
    rng = np.random.default_rng(0)
    top = rbm(rng, 5, 7)
    U, d = rng.standard_normal((3, 7)), rng.standard_normal(3)
    top = LabelledRBM(top.weights, top.visible_bias, top.hidden_bias,
                      LabelUnits(U, d, classes=np.array([2, 5, 9])))
    dbn = DBN([rbm(rng, 6, 5), top])
    net = FeedForwardClassifier.from_dbn(dbn, [2, 5, 9])
    X = rng.random((4, 6))
    a1 = sigmoid(X @ dbn.layers[0].weights + dbn.layers[0].hidden_bias)
    a2 = sigmoid(a1 @ top.weights + top.hidden_bias)
    logits = a2 @ U.T + d
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(net.probabilities(X), want, rtol=1e-12)
    with pytest.raises(Exception, match="classes"):
        FeedForwardClassifier.from_dbn(dbn, [0, 1, 2])
    plain = FeedForwardClassifier.from_dbn(DBN([rbm(rng, 6, 5), rbm(rng, 5, 7)]), [0, 1])
    np.testing.assert_array_equal(plain.probabilities(X), 0.5)   # a zero softmax


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    dbn = DBN([rbm(rng, 6, 5), rbm(rng, 5, 4)])
    net = FeedForwardClassifier.from_dbn(dbn, [0, 1, 2])
    net.output_weights[...] = rng.standard_normal(net.output_weights.shape)
    X, y = rng.random((8, 6)), rng.integers(0, 3, 8)

    def loss():
        P = net.probabilities(X)
        return -np.mean(np.log(P[np.arange(len(y)), y]))

    value, grads = backprop.gradients(net, X, y)
    assert value == pytest.approx(loss(), rel=1e-12)
    eps = 1e-6
    for param, grad in zip(net.arrays(), grads):
        assert grad.shape == param.shape
        numeric = np.empty_like(param)
        for i in np.ndindex(param.shape):
            keep = param[i]
            param[i] = keep + eps
            up = loss()
            param[i] = keep - eps
            down = loss()
            param[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("options", [{}, {"momentum": 0.5, "l2": 0.1}])
def test_a_momentum_step(options):
    """velocity = m velocity - lr (grad + a W); parameter += velocity, for every array:
    m = 0.9 unless --fine-tune-momentum says otherwise; the decay a (--fine-tune-l2) only
    on the weight matrices (W_l and V), not on the biases."""
    m, a = options.get("momentum", 0.9), options.get("l2", 0.0)
    rng = np.random.default_rng(2)
    net = FeedForwardClassifier.from_dbn(DBN([rbm(rng, 6, 5), rbm(rng, 5, 4)]), [0, 1])
    X, y = rng.random((5, 6)), rng.integers(0, 2, 5)
    before = [x.copy() for x in net.arrays()]
    velocities = [rng.standard_normal(x.shape) for x in before]
    old_v = [v.copy() for v in velocities]
    _, grads = backprop.gradients(net, X, y)
    backprop.step(net, X, y, 0.3, velocities, **options)
    weights = list(net.weights) + [net.output_weights]
    for b, after, v0, v, g in zip(before, net.arrays(), old_v, velocities, grads):
        decay = a * b if any(after is w for w in weights) else 0
        np.testing.assert_allclose(v, m * v0 - 0.3 * (g + decay), rtol=1e-12)
        np.testing.assert_allclose(after, b + v, rtol=1e-12)


def test_the_model_file_keeps_the_classifier(tmp_path):
    rng = np.random.default_rng(3)
    dbn = DBN([rbm(rng, 16, 5, dtype=np.float32), rbm(rng, 5, 4, dtype=np.float32)])
    dbn._image_shape, dbn.binarization = (4, 4), "threshold"
    dbn.classifier = FeedForwardClassifier.from_dbn(dbn, [3, 7])
    dbn.classifier.output_weights[...] = rng.standard_normal((4, 2))
    rbmcli.save(dbn, tmp_path / "m.h5")
    back = rbmcli.load(tmp_path / "m.h5")
    for a, b in zip(dbn.classifier.arrays(), back.classifier.arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.classes, [3, 7])
    images = (rng.random((6, 16)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(dbn.classify(images)[1], back.classify(images)[1])
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        f["classifier/output_bias"][0] = np.nan
    with pytest.raises(Exception, match="classifier parameters contain NaN"):
        load_model(tmp_path / "m.h5")


CLASSES = 4


def invoke(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Four random 8x8 prototypes with 15% of the pixels flipped: 400 training, 200 test
    images (harder than tests/test_cli_labels.py's 3%, so fine-tuning has work to do)."""
    folder = tmp_path_factory.mktemp("backprop")
    test, test_labels = write_prototypes(folder / "d.h5", 0.15, 400, 200, CLASSES)
    write_dataset(folder / "plain.h5", {"": {"images": test, "image_shape": (8, 8)}})
    return folder


COMMON = ["d.h5", "--model", "dbn", "--hidden", "16,12", "--epochs", 4, "--lr", 0.1,
          "--batch-size", 20, "--no-pictures"]


def accuracy(model_path):
    result = invoke("score", "d.h5:test", "-m", model_path, "--accuracy", "--json")
    assert_ok(result)
    return json.loads(result.stdout)["accuracy"]


def test_backprop_beats_chance_and_the_pretrained_top(data, tmp_path, monkeypatch):
    """A DBN with a labelled top, fine-tuned 10 epochs: test accuracy above chance by five
    binomial standard deviations and above the class RBM it started from; the generative
    model is unchanged. A DBN without labels fine-tunes too (its softmax starts at zero)."""
    monkeypatch.chdir(data)
    assert_ok(invoke("train", *COMMON, "--labels", "-o", tmp_path / "pre.h5"))
    result = invoke("train", *COMMON, "--labels", "--fine-tune", "backprop",
                    "--fine-tune-epochs", 10, "-o", tmp_path / "bp.h5")
    assert_ok(result)
    assert "backprop fine-tuning of the DBN, epochs 9-18" in result.stderr
    n = 200
    chance = 1 / CLASSES + 5 * math.sqrt(0.25 * 0.75 / n)
    before, after = accuracy(tmp_path / "pre.h5"), accuracy(tmp_path / "bp.h5")
    assert after > chance and after > before, (before, after)
    pre, tuned = load_model(tmp_path / "pre.h5").model, load_model(tmp_path / "bp.h5").model
    for a, b in zip(pre.parameter_arrays(), tuned.parameter_arrays()):
        np.testing.assert_array_equal(a, b)   # the classifier's arrays come after these
    assert_ok(invoke("train", *COMMON, "--fine-tune", "backprop", "--fine-tune-epochs", 10,
                     "-o", tmp_path / "plain.h5"))
    assert accuracy(tmp_path / "plain.h5") > chance


def test_backprop_resumes_exactly(data, tmp_path, monkeypatch):
    """Straight, against pretrained then --resume --fine-tune backprop interrupted in its
    second epoch and resumed again: the same parameters, momentum and history."""
    monkeypatch.chdir(data)
    tune = ["--fine-tune", "backprop", "--fine-tune-epochs", 3, "--fine-tune-lr", 0.2]
    assert_ok(invoke("train", *COMMON, *tune, "-o", tmp_path / "a.h5"))
    assert_ok(invoke("train", *COMMON, "-o", tmp_path / "b.h5"))
    real = backprop.step
    # 20 steps per epoch: the 30th is in the second epoch of fine-tuning
    monkeypatch.setattr(backprop, "step", interrupted_at_call(real, 30))
    result = invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 4,
                    *tune, "--no-pictures")
    assert result.exit_code == 130 and "holds 9 complete epochs" in result.output
    monkeypatch.setattr(backprop, "step", real)
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 4,
                     "--no-pictures"))
    a, b = load_model(tmp_path / "a.h5"), load_model(tmp_path / "b.h5")
    assert a.epoch == b.epoch == 11 and a.model.classifier is not None
    for x, y in zip(a.model.parameter_arrays(), b.model.parameter_arrays()):
        np.testing.assert_array_equal(x, y)
    for key in a.state:
        np.testing.assert_array_equal(a.state[key], b.state[key], err_msg=key)
    np.testing.assert_array_equal(a.history["layer"], [0] * 4 + [1] * 4 + [2] * 3)
    np.testing.assert_allclose(a.history["lr"][8:], [0.2, 0.2 * 2 / 3, 0.2 / 3], rtol=1e-6)
    for key in a.history:
        if key != "seconds":
            np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)


def test_backprop_needs_labelled_data(data, monkeypatch):
    monkeypatch.chdir(data)
    assert_error(invoke("train", "plain.h5", "--model", "dbn", "--hidden", "8,8",
                        "--fine-tune", "backprop", "-o", "x.h5"),
                 "plain.h5: has no labels; --fine-tune backprop needs labelled data (DATA)", code=1)
    assert_error(invoke("train", "d.h5", "--fine-tune-lr", "0.1", "-o", "x.h5"),
                 "--fine-tune-lr is for --model dbn", code=2)
    assert_error(invoke("train", "d.h5", "--model", "dbn", "--hidden", "8,8",
                        "--fine-tune-momentum", "0.5",
                        "-o", "x.h5"),
                 "--fine-tune-momentum needs --fine-tune up-down or backprop", code=2)
