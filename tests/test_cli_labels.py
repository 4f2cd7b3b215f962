"""``rbm train --labels``, ``rbm classify``, ``rbm score --accuracy`` and ``rbm sample
--label`` through Click's CliRunner on tiny labelled data: four random 8x8 binary
prototypes (the classes 0..3) with 3% of the pixels flipped, 400 training and 100 test
images. A 16-unit class RBM learns them in a few epochs of milliseconds."""

import json
import math

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import rbmcli
from rbmcli.cli.main import cli
from rbmcli.io.datasets import load_dataset, write_dataset
from rbmcli.io.modelfile import load_model
from rbmcli.models.dbn import DBN
from rbmcli.models.labels import LabelledRBM, LabelUnits
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.training import updown

from clihelpers import assert_error, assert_ok, interrupted_at_call, write_prototypes

FAST = ["--hidden", "16", "--batch-size", "20", "--lr", "0.1", "--lr-final", "0.1",
        "--no-pictures"]
CLASSES = 4
N_TEST = 100

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def invoke(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def above_chance(n, chance=1 / CLASSES, sds=5):
    """An accuracy that chance reaches in n tries with probability below ~3e-7: chance plus
    five binomial standard deviations."""
    return chance + sds * math.sqrt(chance * (1 - chance) / n)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with d.h5 (train/test, labelled), plain.h5 (no labels), a class RBM c.h5
    and a DBN d-dbn.h5 with a labelled top, trained once for the module."""
    folder = tmp_path_factory.mktemp("labels")
    test, test_labels = write_prototypes(folder / "d.h5", 0.03, 400, N_TEST, CLASSES)
    write_dataset(folder / "plain.h5", {"": {"images": test, "image_shape": (8, 8)}})
    write_dataset(folder / "rotated.h5", {"": {"images": test, "image_shape": (8, 8),
                                               "labels": (test_labels + 1) % CLASSES}})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        assert_ok(invoke("train", "d.h5", "--labels", "-o", "c.h5", "--epochs", 5, *FAST))
        assert_ok(invoke("train", "d.h5", "--labels", "--model", "dbn", "--hidden", "16,12",
                         "-o", "d-dbn.h5", "--epochs", 5, *FAST[2:]))
        assert_ok(invoke("train", "d.h5", "-o", "u.h5", "--epochs", 1, *FAST))
    return folder


@pytest.fixture
def here(work, monkeypatch):
    monkeypatch.chdir(work)
    return work


def test_the_file_records_the_classes(here):
    with h5py.File("c.h5") as f:
        np.testing.assert_array_equal(f["classes"][()], np.arange(CLASSES))
        assert f["label_weights"].shape == (CLASSES, 16)
        assert json.loads(f.attrs["hyperparameters"])["labels"] is True
    with h5py.File("u.h5") as f:  # without labels: the file as before
        assert "classes" not in f and "labels" not in json.loads(f.attrs["hyperparameters"])
    assert isinstance(load_model("c.h5").model, LabelledRBM)
    assert type(load_model("u.h5").model) is BernoulliRBM
    dbn = load_model("d-dbn.h5").model
    assert dbn.layers[0].labels is None and dbn.top.labels is not None
    result = invoke("info", "c.h5")
    assert "labels\t4 classes (0..3)" in result.output


@pytest.mark.parametrize("model", ["c.h5", "d-dbn.h5"])
def test_classification_is_well_above_chance(here, model):
    result = invoke("classify", "d.h5:test", "-m", model)
    assert_ok(result)
    predictions = np.array(result.stdout.split(), int)
    truth = load_dataset("d.h5:test").labels
    assert len(predictions) == N_TEST
    accuracy = np.mean(predictions == truth)
    assert accuracy >= above_chance(N_TEST), accuracy
    assert f"accuracy\t{accuracy:.4f} ({int(accuracy * N_TEST)} of {N_TEST}" in result.stderr


def test_classify_output_formats(here):
    plain = invoke("classify", "d.h5:test", "-m", "c.h5")
    predictions = plain.stdout.split()
    result = invoke("classify", "d.h5:test", "-m", "c.h5", "--json", "--per-sample")
    assert_ok(result)
    obj = json.loads(result.stdout)
    assert obj["n"] == N_TEST and obj["classes"] == list(range(CLASSES))
    assert [str(p) for p in obj["predictions"]] == predictions
    probs = np.array(obj["probabilities"])
    assert probs.shape == (N_TEST, CLASSES)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(probs.argmax(axis=1), obj["predictions"])
    confusion = np.array(obj["confusion"])
    assert confusion.sum() == N_TEST and np.trace(confusion) == N_TEST - obj["errors"]
    assert obj["accuracy"] == pytest.approx(np.trace(confusion) / N_TEST)
    assert "accuracy" not in result.stderr  # all of it is in the JSON

    tsv = invoke("classify", "d.h5:test", "-m", "c.h5", "--per-sample").stdout.splitlines()
    assert tsv[0].split("\t") == ["index", "prediction", "label", "p_0", "p_1", "p_2", "p_3"]
    assert len(tsv) == N_TEST + 1 and [row.split("\t")[1] for row in tsv[1:]] == predictions

    # the same number from rbm score --accuracy
    score = invoke("score", "d.h5:test", "-m", "c.h5", "--accuracy", "--json")
    assert_ok(score)
    assert json.loads(score.stdout) == {"n": N_TEST, "accuracy": obj["accuracy"]}
    both = json.loads(invoke("score", "d.h5:test", "-m", "c.h5", "--accuracy", "--mser",
                             "--json").stdout)
    assert set(both) == {"n", "mser", "mser_mean_field", "accuracy"}

    # data without labels: predictions only
    result = invoke("classify", "plain.h5", "-m", "c.h5")
    assert_ok(result)
    assert len(result.stdout.split()) == N_TEST and "accuracy" not in result.stderr


def test_errors_png_shows_the_misclassified_images(here):
    # rotated.h5: the test images with wrong labels, so that most predictions are errors
    result = invoke("classify", "rotated.h5", "-m", "c.h5", "--json")
    errors = json.loads(result.stdout)["errors"]
    assert errors > N_TEST // 2
    result = invoke("classify", "rotated.h5", "-m", "c.h5", "--errors", "wrong.png", "--force")
    assert_ok(result)
    assert f"wrote wrong.png: {errors} of {errors} misclassified images" in result.stderr
    with Image.open(here / "wrong.png") as img:
        shown = math.ceil(math.sqrt(errors))  # a square grid of 8x8 tiles, 1px gaps, 2x
        assert img.size[0] == 2 * (shown * (8 + 1) + 1)


def ideal(protos, dtype=np.float32):
    """A class RBM made by hand whose class-k distribution is prototype k with 12% of the
    pixels flipped: hidden unit k draws prototype k (weights +-2); its bias puts it at 4
    on the prototype, and U (60 on the diagonal, -60 off it) keeps the other units off
    under label k and lets unit k turn on from noise."""
    sign = 2.0 * protos - 1
    labels = LabelUnits((np.full((CLASSES, CLASSES), -60.0) + 120 * np.eye(CLASSES))
                        .astype(dtype), np.zeros(CLASSES, dtype))
    return LabelledRBM((2 * sign.T).astype(dtype), np.zeros(64, dtype),
                       (4 - 2.0 * protos.sum(axis=1)).astype(dtype), labels)


@pytest.fixture(scope="module")
def made(work):
    """ideal.h5 (that class RBM) and ideal-dbn.h5 (a DBN: a first layer that copies the
    pixels up and down, 8 I - 4, under that class RBM), with the prototypes."""
    ds = load_dataset(f"{work}/d.h5:train")
    protos = np.array([ds.images[ds.labels == k].mean(axis=0) > 127 for k in range(CLASSES)])
    top = ideal(protos)
    copy = BernoulliRBM(8 * np.eye(64, dtype=np.float32), np.full(64, -4, np.float32),
                        np.full(64, -4, np.float32))
    for name, model in (("ideal.h5", top), ("ideal-dbn.h5", DBN([copy, top]))):
        model.image_shape, model.binarization = (8, 8), "threshold"
        rbmcli.save(model, work / name, force=True)
    return protos


@pytest.mark.parametrize("model", ["ideal.h5", "ideal-dbn.h5"])
@pytest.mark.parametrize("method", ["gibbs", "mf"])
def test_sampling_a_label_gives_mostly_that_class(here, made, model, method):
    """40 chains clamped to each class, judged by the nearest prototype and by the model's
    own classifier: at least chance plus five binomial standard deviations of 40 draws
    (0.59) must be of the class. (Without the clamp, every class would get ~1/4.)"""
    per_class = 40
    for k in range(CLASSES):
        result = invoke("sample", "-m", model, "--label", k, "-n", per_class, "--steps", 100,
                        "-o", f"s{k}.h5", "--force", "--seed", k, "--method", method)
        assert_ok(result)
        ds = load_dataset(f"s{k}.h5")
        np.testing.assert_array_equal(ds.labels, np.full(per_class, k))
        x = ds.images.astype(np.float64)
        nearest = ((x[:, None, :] - made[None]) ** 2).sum(axis=2).argmin(axis=1)
        assert np.mean(nearest == k) >= above_chance(per_class), (k, nearest)
        predicted, _ = load_model(model).model.classify(ds.images)
        assert np.mean(predicted == k) >= above_chance(per_class), (k, predicted)


def test_unclamped_samples_of_the_ideal_model_cover_the_classes(here, made):
    """The same check can fail: chains that draw the label too land in every class."""
    assert_ok(invoke("sample", "-m", "ideal.h5", "-n", 200, "--steps", 100,
                     "-o", "free.h5", "--force"))
    x = load_dataset("free.h5").images.astype(np.float64)
    nearest = ((x[:, None, :] - made[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.bincount(nearest, minlength=CLASSES).max() < 0.5 * len(x)


def test_label_all_gives_a_row_per_class(here):
    result = invoke("sample", "-m", "c.h5", "--label", "all", "-n", 20, "--steps", 50,
                    "-o", "all.h5", "--force")
    assert_ok(result)
    assert "wrote all.h5: 20 samples (every class, gibbs, 50 steps)" in result.stderr
    np.testing.assert_array_equal(load_dataset("all.h5").labels, np.repeat(np.arange(4), 5))
    result = invoke("sample", "-m", "d-dbn.h5", "--label", "all", "-n", 8, "--steps", 30,
                    "-o", "all.png", "--gif", "all.gif", "--force", "--method", "pt",
                    "--replicas", 3)
    assert_ok(result)
    assert (here / "all.gif").exists() and (here / "all.png").exists()


def test_resume_of_label_training_equals_a_straight_run(here, tmp_path):
    for method in (["--pcd", "1"], ["--cd", "2", "--no-centering"]):
        common = ["d.h5", "--labels", "--force", *FAST, *method]
        assert_ok(invoke("train", *common, "-o", tmp_path / "a.h5", "--epochs", 3))
        assert_ok(invoke("train", *common, "-o", tmp_path / "b.h5", "--epochs", 2))
        result = invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 3,
                        "--no-pictures")
        assert_ok(result)
        a, b = load_model(tmp_path / "a.h5"), load_model(tmp_path / "b.h5")
        for x, y in zip(a.model.parameter_arrays(), b.model.parameter_arrays()):
            np.testing.assert_array_equal(x, y)
        assert a.state.keys() == b.state.keys() and "velocity_label_weights" in a.state
        for key in a.state:
            np.testing.assert_array_equal(a.state[key], b.state[key], err_msg=key)
        np.testing.assert_array_equal(a.history["class_error_train"],
                                      b.history["class_error_train"])


@pytest.mark.parametrize("args, message, code", [
    (["classify", "d.h5:test", "-m", "u.h5"],
     "this bernoulli-rbm has no label units (train it with --labels)", 2),
    (["sample", "-m", "u.h5", "--label", "1", "-o", "x.png"],
     "--label needs a model trained with --labels", 2),
    (["sample", "-m", "c.h5", "--label", "7", "-o", "x.png"],
     "--label 7: not a class of the model (0..3, or all)", 2),
    (["sample", "-m", "c.h5", "--label", "two", "-o", "x.png"],
     "--label two: not a class of the model (0..3, or all)", 2),
    (["sample", "-m", "c.h5", "--method", "pt", "-o", "x.png"],
     "--method must be one of gibbs", 2),
    (["score", "d.h5:test", "-m", "u.h5", "--accuracy"],
     "--accuracy needs a model trained with --labels", 2),
    (["score", "plain.h5", "-m", "c.h5", "--accuracy"],
     "plain.h5: has no labels: --accuracy needs labelled data", 1),
    (["score", "d.h5:test", "-m", "c.h5", "--bracket"],
     "--bracket (reverse AIS) is not implemented for a model with label units", 2),
    (["classify", "plain.h5", "-m", "c.h5", "--errors", "e.png"],
     "plain.h5: has no labels: --errors needs labelled data", 1),
    (["train", "d.h5", "--labels", "--model", "grbm", "-o", "x.h5"],
     "--labels is for --model rbm and --model dbn (its top layer)", 2),
    (["train", "d.h5", "--labels", "--pt", "3", "-o", "x.h5"],
     "--labels trains by --cd or --pcd, not --pt", 2),
    (["train", "plain.h5", "--labels", "-o", "x.h5"],
     "plain.h5: has no labels; --labels needs labelled data (DATA)", 1),
    (["train", "d.h5", "--labels", "--model", "nice", "-o", "x.h5"],
     "--labels is for the RBM models, not flows", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--fine-tune", "up-down",
      "-o", "x.h5"], "--fine-tune up-down needs the top RBM's label units: add --labels", 2),
    (["train", "d.h5", "--labels", "--fine-tune", "up-down", "-o", "x.h5"],
     "--fine-tune is for --model dbn", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--labels",
      "--fine-tune-epochs", "3", "-o", "x.h5"],
     "--fine-tune-epochs needs --fine-tune up-down or backprop", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--labels", "--fine-tune",
      "backprop", "--fine-tune-cd", "3", "-o", "x.h5"],
     "--fine-tune-cd is for --fine-tune up-down", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--labels", "--fine-tune",
      "backprop", "--fine-tune-input", "grey", "-o", "x.h5"],
     "--fine-tune-input is for --fine-tune up-down", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--labels", "--fine-tune",
      "up-down", "--fine-tune-cd", "3,0", "-o", "x.h5"],
     "Invalid value for '--fine-tune-cd': 0 is not in the range x>=1.", 2),
    (["train", "d.h5", "--model", "dbn", "--hidden", "8,8", "--labels", "--visible",
      "gaussian", "--fine-tune", "up-down", "-o", "x.h5"],
     "--fine-tune up-down is for binary visible units, not --visible gaussian", 2),
])
def test_one_line_errors(here, args, message, code):
    assert_error(invoke(*args), message, code=code)
    assert not (here / "x.h5").exists() and not (here / "x.png").exists()


def test_up_down_fine_tuning_resumes_exactly(here, tmp_path, monkeypatch):
    """A straight run (2 layers x 2 epochs, then 4 of up-down) against one pretrained
    without fine-tuning, continued with --fine-tune on --resume, interrupted by Ctrl-C in
    the middle of a fine-tuning epoch and resumed again: the same parameters and history."""
    common = ["d.h5", "--model", "dbn", "--hidden", "16,12", "--labels", "--epochs", 2,
              "--lr", 0.05, "--batch-size", 20, "--no-pictures"]
    tune = ["--fine-tune", "up-down", "--fine-tune-epochs", 4, "--fine-tune-momentum", 0.5,
            "--fine-tune-l2", 1e-3, "--fine-tune-cd", "2,5", "--fine-tune-input", "grey"]
    result = invoke("train", *common, *tune, "-o", tmp_path / "a.h5")
    assert_ok(result)
    assert "up-down fine-tuning of the DBN, epochs 5-8" in result.stderr
    assert_ok(invoke("train", *common, "-o", tmp_path / "b.h5"))
    real = updown.up_down_update
    # 20 updates per epoch: the 30th is in the second epoch of up-down
    monkeypatch.setattr(updown, "up_down_update", interrupted_at_call(real, 30))
    result = invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 2,
                    *tune, "--no-pictures")
    assert result.exit_code == 130 and "holds 5 complete epochs" in result.output
    assert ("fine-tuning\tup-down, 1 of 4 epochs done, lr default, momentum 0.5, l2 0.001, "
            "CD 2,5, grey input" in invoke("info", tmp_path / "b.h5").output)
    monkeypatch.setattr(updown, "up_down_update", real)
    # the method named again without its momentum, decay, CD steps and input: the run
    # keeps its own
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 2,
                     *tune[:4], "--no-pictures"))
    a, b = load_model(tmp_path / "a.h5"), load_model(tmp_path / "b.h5")
    assert a.model.untied and a.epoch == b.epoch == 8
    for x, y in zip(a.model.parameter_arrays(), b.model.parameter_arrays()):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.history["layer"], [0, 0, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(a.history["cd_steps"], [np.nan] * 4 + [2, 2, 5, 5])
    np.testing.assert_array_equal(a.history["momentum"][4:], 0.5)
    assert sum(key.startswith("velocity_updown_") for key in a.state) == 9
    for key in a.state:
        np.testing.assert_array_equal(a.state[key], b.state[key], err_msg=key)
    assert a.history.keys() == b.history.keys()
    for key in a.history:
        if key != "seconds":
            np.testing.assert_array_equal(a.history[key], b.history[key], err_msg=key)
    with h5py.File(tmp_path / "a.h5") as f:   # the top RBM has no generative copy
        assert f["layers/0/generative_weights"].shape == (64, 16)
        assert "generative_weights" not in f["layers/1"]
    result = invoke("classify", "d.h5:test", "-m", tmp_path / "a.h5")
    assert_ok(result)
    assert "accuracy" in result.stderr


def test_up_down_with_grey_input_steps_on_the_grey_levels(here, tmp_path, monkeypatch):
    """--fine-tune-input grey: every up-down step sees its rows' grey levels in [0, 1],
    not binary rows; the per-epoch figures still use binary rows."""
    seen = []
    real = updown.up_down_update

    def spy(dbn, V, y, *args, **kwargs):
        seen.append(np.array(V))
        return real(dbn, V, y, *args, **kwargs)

    monkeypatch.setattr(updown, "up_down_update", spy)
    from rbmcli.io.datasets import write_dataset
    with h5py.File(here / "d.h5") as f:
        binary, labels = f["train/images"][()], f["train/labels"][()]
    rng = np.random.default_rng(3)
    grey = (0.6 * binary + rng.integers(0, 100, binary.shape)).astype(np.uint8)  # 0..252
    write_dataset(tmp_path / "grey.h5", {"train": {"images": grey, "labels": labels,
                                                   "image_shape": (8, 8)}})
    assert_ok(invoke("train", tmp_path / "grey.h5", "--model", "dbn", "--hidden", "16,12",
                     "--labels", "--epochs", 1, "--batch-size", 20, "--no-pictures",
                     "--fine-tune", "up-down", "--fine-tune-epochs", 1, "--fine-tune-input",
                     "grey", "-o", tmp_path / "g.h5"))
    levels = grey.reshape(len(grey), -1) / np.float32(255)
    assert len(seen) == len(grey) // 20 and all(V.dtype == np.float32 for V in seen)
    for V in seen:  # each batch: 20 of the training images' grey levels, none repeated
        distance = np.abs(V[:, None, :] - levels[None]).max(axis=2)
        assert distance.min(axis=1).max() < 1e-6
        assert len(set(distance.argmin(axis=1))) == len(V)
