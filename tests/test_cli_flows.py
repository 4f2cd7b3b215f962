"""The commands with flow models: train (--model nice|realnvp|glow|maf), sample, score,
inpaint and info, through Click's CliRunner."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from clihelpers import assert_error, assert_ok
from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset
from rbmcli.flows.data import to_logit_space
from rbmcli.io.modelfile import load_model

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def bars(n, seed):
    """4x4 grey images with a bright bar in a random row."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 4, 4))
    img[np.arange(n), rng.integers(0, 4, n)] = 220
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8).reshape(n, 16)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A data file and a glow trained on it for 2 epochs."""
    folder = tmp_path_factory.mktemp("flows")
    data = folder / "bars.h5"
    write_dataset(data, {"train": {"images": bars(300, 0), "image_shape": (4, 4)},
                         "test": {"images": bars(60, 1), "image_shape": (4, 4)}})
    model = folder / "glow.h5"
    result = CliRunner().invoke(cli, ["train", str(data), "--model", "glow", "--layers", "2",
                                      "--hidden-units", "16", "--epochs", "2", "--holdout",
                                      "60", "--batch-size", "30", "--threads", "1",
                                      "-o", str(model)])
    assert_ok(result)
    return data, model


def train_args(data, out, *extra):
    return ["train", str(data), "--model", "realnvp", "--layers", "2", "--hidden-units", "8",
            "--holdout", "60", "--batch-size", "30", "--no-pictures", "-o", str(out), *extra]


def test_train_writes_a_flow_model_and_logs_on_stderr(files, tmp_path):
    data, model = files
    assert model.with_name("glow-samples.png").exists()
    ff = load_model(model)
    assert ff.model.flow_type == "glow" and ff.epoch == 2
    assert len(ff.history["valid_ll"]) == 2
    with h5py.File(model) as f:
        assert f.attrs["model_type"] == "flow" and "current.00.shift" in f["state"]
    result = CliRunner().invoke(cli, train_args(data, tmp_path / "r.h5",
                                                                "--epochs", "1"))
    assert_ok(result)
    assert result.stdout == ""
    assert "epoch 1/1" in result.stderr and "valid ll" in result.stderr


def test_resume_equals_an_uninterrupted_run(files, tmp_path):
    data, _ = files
    runner = CliRunner()
    assert_ok(runner.invoke(cli, train_args(data, tmp_path / "a.h5", "--epochs", "2")))
    assert_ok(runner.invoke(cli, train_args(data, tmp_path / "b.h5", "--epochs", "1")))
    assert_ok(runner.invoke(cli, train_args(data, tmp_path / "b.h5", "--epochs", "2",
                                            "--resume")))
    a, b = load_model(tmp_path / "a.h5"), load_model(tmp_path / "b.h5")
    for name, value in a.model.params.items():
        np.testing.assert_array_equal(value, b.model.params[name])
    result = runner.invoke(cli, train_args(data, tmp_path / "b.h5", "--epochs", "3",
                                           "--resume", "--layers", "3"))
    assert_error(result, f"{tmp_path / 'b.h5'}: checkpoint has --layers 2, not 3")
    # --resume without --model continues the flow in the checkpoint
    result = runner.invoke(cli, ["train", str(data), "-o", str(tmp_path / "b.h5"), "--resume",
                                 "--epochs", "3", "--no-pictures"])
    assert_ok(result)
    assert load_model(tmp_path / "b.h5").epoch == 3


def test_option_mix_ups_are_usage_errors(files, tmp_path):
    data, _ = files
    runner = CliRunner()
    result = runner.invoke(cli, train_args(data, tmp_path / "x.h5", "--hidden", "5"))
    assert_error(result, "--hidden is for the RBM models, not flows", code=2)
    result = runner.invoke(cli, ["train", str(data), "--layers", "3", "-o",
                                 str(tmp_path / "x.h5")])
    assert_error(result, "--layers is for flow models (--model nice|realnvp|glow|maf)", code=2)
    result = runner.invoke(cli, train_args(data, tmp_path / "x.h5", "--holdout", "300"))
    assert_error(result, f"{data}: has 300 images; --holdout 300 leaves none to train on")
    assert not (tmp_path / "x.h5").exists()


def test_nan_guard_keeps_the_last_good_epoch(files, tmp_path, monkeypatch):
    from rbmcli.flows import model as flow_model

    data, _ = files
    out = tmp_path / "n.h5"
    assert_ok(CliRunner().invoke(cli, train_args(data, out, "--epochs", "1")))
    before = out.read_bytes()
    monkeypatch.setattr(flow_model.FlowModel, "loss_and_grads",
                        lambda self, y: (float("nan"), {}))
    result = CliRunner().invoke(cli, train_args(data, out, "--epochs", "2", "--resume"))
    assert_error(result, f"{out}: training diverged in epoch 2/2: the loss became nan "
                 f"(gradient norm 0.0); {out} keeps epoch 1; try a smaller --lr (now 0.001)")
    assert out.read_bytes() == before


def test_a_flow_diverging_on_one_image_blames_the_data(tmp_path, monkeypatch):
    """A flow's likelihood on a single image has no maximum: the message says to train
    on more images, not to lower the learning rate (which would not help)."""
    from rbmcli.flows import model as flow_model

    data = tmp_path / "one.h5"
    write_dataset(data, {"": {"images": np.full((1, 16), 200, np.uint8),
                              "image_shape": (4, 4)}})
    monkeypatch.setattr(flow_model.FlowModel, "loss_and_grads",
                        lambda self, y: (float("nan"), {}))
    out = tmp_path / "f.h5"
    result = CliRunner().invoke(cli, train_args(data, out, "--epochs", "1", "--holdout", "0"))
    assert_error(result, f"{out}: training diverged in epoch 1/1: the loss became nan "
                 "(gradient norm 0.0); nothing was saved; 1 training image is too few for a "
                 "flow: its density can grow without bound on them; train on more images")


def test_score_ll_is_the_exact_log_likelihood(files):
    data, model = files
    result = CliRunner().invoke(cli, ["score", f"{data}:test", "-m",
                                                      str(model), "--ll", "--json"])
    assert_ok(result)
    import json

    got = json.loads(result.stdout)
    ff = load_model(model)
    with h5py.File(data) as f:
        pixels = f["test/images"][()]
    y, logdet = to_logit_space(pixels, np.random.default_rng([0, 17]), ff.lam, ff.model.dtype)
    ll = ff.model.log_prob(y)
    assert got["n"] == 60
    assert got["ll"] == pytest.approx(ll.mean(), rel=1e-9)
    bpp = -(ll + logdet - 16 * np.log(256)) / (16 * np.log(2))
    assert got["bpp"] == pytest.approx(bpp.mean(), rel=1e-9)
    assert 0 < got["bpp"] < 8
    result = CliRunner().invoke(cli, ["score", f"{data}:test", "-m", str(model), "--mser"])
    assert_error(result, "--mser is for RBMs; flows have --ll (exact)", code=2)


def test_sample_png_and_hdf5(files, tmp_path):
    data, model = files
    runner = CliRunner()
    assert_ok(runner.invoke(cli, ["sample", "-m", str(model), "-n", "9", "--temperature",
                                  "0.5", "-o", str(tmp_path / "s.png")]))
    assert Image.open(tmp_path / "s.png").size[0] > 0
    result = runner.invoke(cli, ["sample", "-m", str(model), "-n", "5", "-o",
                                 str(tmp_path / "s.h5")])
    assert_ok(result)
    with h5py.File(tmp_path / "s.h5") as f:
        images = f["images"][()]
        assert f.attrs["method"] == "flow" and f.attrs["temperature"] == 1.0
    assert images.shape == (5, 16) and images.min() >= 0 and images.max() <= 1
    result = runner.invoke(cli, ["sample", "-m", str(model), "--method", "pt", "-o",
                                 str(tmp_path / "t.png")])
    assert_error(result, "--method is for RBMs, not flows", code=2)


def test_inpaint_png_and_data_file(files, tmp_path):
    data, model = files
    img = np.zeros((4, 4, 2), np.uint8)
    img[1, :, 0] = 220
    img[:2, :, 1] = 255  # top half known, bottom transparent
    Image.fromarray(img, "LA").save(tmp_path / "half.png")
    runner = CliRunner()
    result = runner.invoke(cli, ["inpaint", str(tmp_path / "half.png"), "-m", str(model),
                                 "--steps", "40", "--samples", "3", "-o",
                                 str(tmp_path / "filled.png")])
    assert_ok(result)
    assert "MALA acceptance" in result.stderr
    assert Image.open(tmp_path / "filled.png").size == (2 * (5 * 5 + 1), 2 * (4 + 2))
    result = runner.invoke(cli, ["inpaint", f"{data}:test", "-n", "4", "-m", str(model),
                                 "--steps", "30", "--samples", "2", "-o",
                                 str(tmp_path / "panel.png")])
    assert_ok(result)
    lines = dict(line.split("\t") for line in result.stdout.splitlines())
    assert set(lines) == {"error_unknown", "error_mean_image"}
    assert 0 <= float(lines["error_unknown"]) <= 1


def test_info_describes_a_flow(files):
    _, model = files
    result = CliRunner().invoke(cli, ["info", str(model)])
    assert_ok(result)
    assert "model\tflow (glow)" in result.stdout
    assert "valid ll\tbest" in result.stdout
