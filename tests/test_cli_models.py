"""``rbm train --model grbm|dbn`` and sample, inpaint, score, info, transform on those model
files, through Click's CliRunner on tiny data (8x8 grey blobs, 400 + 100 images)."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from rbmcli.cli.main import cli
from rbmcli.io.datasets import write_dataset
from rbmcli.models.dbn import DBN
from rbmcli.models.grbm import GaussianRBM

from rbmcli.io.modelfile import load_model, save_model

from clihelpers import assert_error, assert_ok

pytestmark = pytest.mark.usefixtures("one_numba_thread")

FAST = ["--batch-size", "20", "--no-pictures"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """d.h5 (train 400, test 100 grey 8x8 images), g.h5 (GRBM), b.h5 (DBN 16,8,12) and
    gd.h5 (DBN with a Gaussian first layer), trained once for the module."""
    import os
    path = tmp_path_factory.mktemp("models")
    old = os.getcwd()
    os.chdir(path)
    try:
        rng = np.random.default_rng(0)
        protos = rng.random((4, 64))

        def blobs(n):
            idx = rng.integers(0, 4, n)
            x = np.clip(protos[idx] + 0.1 * rng.standard_normal((n, 64)), 0, 1)
            return (x * 255).astype(np.uint8), idx.astype(np.uint8)

        (tr, tl), (te, tel) = blobs(400), blobs(100)
        write_dataset("d.h5", {"train": {"images": tr, "labels": tl, "image_shape": (8, 8)},
                               "test": {"images": te, "labels": tel, "image_shape": (8, 8)}})
        assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 16, "--epochs", 3,
                         "--sigma", "learn", "--sigma-init", 1, "--cd", 1, "--lr", 0.005,
                         "-o", "g.h5", "--validate", "d.h5:test", *FAST))
        assert_ok(invoke("train", "d.h5", "--model", "dbn", "--hidden", "16,8,12", "--epochs", 2,
                         "--lr", 0.1, "-o", "b.h5", *FAST))
        assert_ok(invoke("train", "d.h5", "--model", "dbn", "--visible", "gaussian", "--hidden",
                         "16,8", "--epochs", 2, "--lr", 0.01, "-o", "gd.h5", *FAST))
    finally:
        os.chdir(old)
    return path


@pytest.fixture
def work(folder, monkeypatch):
    monkeypatch.chdir(folder)
    return folder


# --------------------------------------------------------------------------- files


def test_grbm_file_schema(work):
    with h5py.File("g.h5", "r") as f:
        assert f.attrs["model_type"] == "gaussian-rbm"
        assert f.attrs["binarization"] == "none"
        assert f["log_sigma"].shape == (64,) and f["standardize_std"].shape == (64,)
        assert np.all(f["standardize_std"][()] >= 0.1)
        assert len(f["history/sigma_mean"]) == 3
    mf = load_model("g.h5")
    assert isinstance(mf.model, GaussianRBM) and mf.model.n_hidden == 16


def test_dbn_file_schema(work):
    with h5py.File("b.h5", "r") as f:
        assert f.attrs["model_type"] == "dbn"
        assert sorted(f["layers"]) == ["0", "1", "2"]
        assert f["layers/1"].attrs["model_type"] == "bernoulli-rbm"
        assert f["layers/2/weights"].shape == (8, 12)
        assert f["history/layer"][()].tolist() == [0, 0, 1, 1, 2, 2]
    mf = load_model("b.h5")
    assert isinstance(mf.model, DBN) and mf.model.hidden_sizes == [16, 8, 12]
    gd = load_model("gd.h5").model
    assert isinstance(gd.layers[0], GaussianRBM) and gd.hidden_sizes == [16, 8]


def test_dbn_centering_reaches_every_layer(work, tmp_path):
    """--centering trains every binary layer with the centered gradient: the weights differ
    from the plain run's in every layer, and the checkpointed visible offset of the last
    layer is the mean of that layer's training input (the up pass of the data)."""
    from rbmcli.io.datasets import load_dataset
    from rbmcli.training.dbn import DBNTrainOptions, first_layer_rows

    common = ("d.h5", "--model", "dbn", "--hidden", "16,8,12", "--epochs", 2, "--lr", 0.1,
              "--pcd", 1, *FAST)
    assert_ok(invoke("train", *common, "-o", tmp_path / "p.h5"))
    assert_ok(invoke("train", *common, "--centering", "-o", tmp_path / "c.h5"))
    plain, cent = load_model(tmp_path / "p.h5"), load_model(tmp_path / "c.h5")
    assert cent.hyperparameters["centering"] is True
    opts = DBNTrainOptions.from_dict(cent.hyperparameters)
    assert all(opts.layer_options(k).centering for k in range(3))
    for lp, lc in zip(plain.model.layers, cent.model.layers):
        assert not np.allclose(lp.weights, lc.weights)
    # the input of the last layer: samples of a stochastic up pass (UpPassRows); its
    # offset is one pass's mean of P(h_2 | h_1): within five standard deviations of the
    # mean of 40 independent passes
    first = first_layer_rows(load_dataset("d.h5").images, opts, cent.model.layers[0])[0]
    rng = np.random.default_rng(123)
    means = []
    for _ in range(40):
        x = first.rows(np.arange(len(first)), rng)
        x = (rng.random((len(x), 16)) < cent.model.layers[0].hidden_probs(x)).astype(np.uint8)
        means.append(cent.model.layers[1].hidden_probs(x).mean(axis=0, dtype=np.float64))
    means = np.array(means)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        offset = f["state/offset_visible"][()]
    spread = means.std(axis=0, ddof=1) * np.sqrt(1 + 1 / len(means))
    assert np.all(np.abs(offset - means.mean(axis=0)) <= 5 * spread + 1e-6)


@pytest.mark.parametrize("name", ["g.h5", "b.h5", "gd.h5"])
def test_round_trip_is_exact(work, tmp_path, name):
    mf = load_model(name)
    save_model(tmp_path / "x.h5", mf)
    back = load_model(tmp_path / "x.h5")
    layers = getattr(mf.model, "layers", [mf.model])
    for a, b in zip(layers, getattr(back.model, "layers", [back.model])):
        assert type(a) is type(b)
        for key in ("weights", "visible_bias", "hidden_bias", "log_sigma"):
            if hasattr(a, key):
                np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        if hasattr(a, "standardizer"):
            np.testing.assert_array_equal(a.standardizer.std, b.standardizer.std)


def test_info(work):
    out = invoke("info", "g.h5").output
    assert "model\tgaussian-rbm" in out and "sigma\tmean" in out
    out = invoke("info", "b.h5").output
    assert "hidden\t16,8,12" in out
    assert "layers\tbernoulli-rbm 64-16, bernoulli-rbm 16-8, bernoulli-rbm 8-12" in out


# --------------------------------------------------------------------------- training


def test_grbm_defaults_are_the_recipe(work, tmp_path):
    """`rbm train --model grbm` with no method, sigma or learning-rate options is the
    recipe of benchmarks/quality/grbm.py (CD-50 from noise, sigma fixed at 0.5, lr 0.002
    decayed to 0, 3 epochs): the same hyperparameters as typing it out."""
    recipe = ["--cd", 50, "--cd-from", "noise", "--sigma", "fixed", "--sigma-init", 0.5,
              "--lr", 0.002, "--lr-final", 0, "--epochs", 3]
    for name, extra in (("dflt.h5", []), ("typed.h5", recipe)):
        assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 4, "--batch-size",
                         200, "-o", tmp_path / name, "--no-pictures", *extra))
    default, typed = (load_model(tmp_path / n).hyperparameters for n in ("dflt.h5", "typed.h5"))
    assert default == typed
    assert (default["method"], default["steps"], default["cd_from"]) == ("cd", 50, "noise")
    # a typed --cd starts from the data unless --cd-from says otherwise
    assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 4, "--cd", 2, "--epochs",
                     1, "-o", tmp_path / "cd2.h5", *FAST))
    assert load_model(tmp_path / "cd2.h5").hyperparameters["cd_from"] == "data"


def test_grbm_learns_and_sigma_moves(work):
    mf = load_model("g.h5")
    assert mf.history["mser_train"][-1] < mf.history["mser_train"][0]
    assert not np.allclose(mf.model.sigma, 1.0)


def test_grbm_fixed_sigma_init_is_kept_and_stored(work, tmp_path):
    assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 8, "--epochs", 2,
                     "--sigma", "fixed", "--sigma-init", 0.4, "-o", tmp_path / "s.h5", *FAST))
    mf = load_model(tmp_path / "s.h5")
    np.testing.assert_array_equal(mf.model.log_sigma, np.float32(np.log(0.4)))
    assert mf.hyperparameters["sigma_init"] == 0.4


@pytest.mark.parametrize("value", [0.05, 5.5])
def test_sigma_init_outside_the_clipped_range_is_refused(work, tmp_path, value):
    result = invoke("train", "d.h5", "--model", "grbm", "--hidden", 8, "--epochs", 1,
                    "-o", tmp_path / "e.h5", "--sigma-init", value, *FAST)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith("Error: Invalid value for '--sigma-init'")


def test_grbm_resume_matches_an_uninterrupted_run(work, tmp_path):
    for args in (("-o", tmp_path / "a.h5", "--epochs", 3),
                 ("-o", tmp_path / "b.h5", "--epochs", 2)):
        assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 8, "--pcd", 1, *args,
                         "--lr", 0.005, "--lr-final", 0.005, *FAST))  # constant: see README
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 3,
                     *FAST))
    a, b = load_model(tmp_path / "a.h5").model, load_model(tmp_path / "b.h5").model
    for key in ("weights", "log_sigma", "visible_bias"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_dbn_resume_across_a_layer_boundary(work, tmp_path):
    common = ("--model", "dbn", "--hidden", "8,6", "--lr", 0.1, *FAST)
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "a.h5", "--epochs", 2, *common))
    # stop after layer 0 (epoch 2 of 4) by interrupting: emulate with a 1-epoch-per-layer file
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--epochs", 2, *common))
    full = load_model(tmp_path / "a.h5")
    # cut b.h5 back to its state after layer 0 and resume it
    part = load_model(tmp_path / "b.h5")
    part.model = DBN(part.model.layers[:1])
    part.epoch = 2
    part.state, part.rng_state = {}, None
    # the first layer's weights are those of the finished layer 0 of the full run
    np.testing.assert_array_equal(part.model.layers[0].weights, full.model.layers[0].weights)
    save_model(tmp_path / "b.h5", part)
    result = invoke("info", tmp_path / "b.h5")
    assert "training: 1 of 2 layers done" in result.output
    assert_error(invoke("sample", "-m", tmp_path / "b.h5", "-o", tmp_path / "s.png"),
                 f"{tmp_path / 'b.h5'}: the DBN is still in training (2 epochs over 1 of 2 "
                 "layers); finish it with 'rbm train --resume'")
    assert_ok(invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 2,
                     *FAST))
    resumed = load_model(tmp_path / "b.h5")
    for la, lb in zip(full.model.layers, resumed.model.layers):
        np.testing.assert_array_equal(la.weights, lb.weights)


@pytest.mark.parametrize("args, message", [
    (["--hidden", "5,5"], "--hidden H1,H2,...: a list of layer sizes is for --model dbn"),
    (["--model", "dbn", "--hidden", "5"],
     "--model dbn needs two or more layer sizes, e.g. --hidden 500,500,2000"),
    (["--sigma", "fixed"], "--sigma, --sigma-lr and --sigma-init are for Gaussian visible "
                           "units (--model grbm, or --model dbn --visible gaussian)"),
    (["--sigma-init", "0.5"], "--sigma, --sigma-lr and --sigma-init are for Gaussian visible "
                              "units (--model grbm, or --model dbn --visible gaussian)"),
    (["--model", "grbm", "--visible", "gaussian"], "--visible is for --model dbn"),
    (["--model", "grbm", "--centering"],
     "--centering is for binary visible units, not --model grbm or --visible gaussian"),
])
def test_bad_option_combinations(work, tmp_path, args, message):
    result = invoke("train", "d.h5", "-o", tmp_path / "x.h5", *args)
    assert_error(result, message, code=2)
    assert not (tmp_path / "x.h5").exists()


def test_hidden_sizes_are_checked(work, tmp_path):
    result = invoke("train", "d.h5", "-o", tmp_path / "x.h5", "--model", "dbn", "--hidden",
                    "5,0")
    assert_error(result, "Invalid value for '--hidden': 0 is not in the range x>=1.", code=2)


def test_resume_with_another_model_type(work, tmp_path):
    import shutil
    shutil.copy("g.h5", tmp_path / "g.h5")
    result = invoke("train", "d.h5", "-o", tmp_path / "g.h5", "--resume", "--epochs", 5,
                    "--model", "rbm")
    assert_error(result, f"{tmp_path / 'g.h5'}: checkpoint is a gaussian-rbm, not --model rbm")


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("name", ["g.h5", "b.h5", "gd.h5"])
@pytest.mark.parametrize("method", ["gibbs", "pt", "mf"])
def test_sample_writes_pixels_and_reload_gives_identical_samples(work, tmp_path, name,
                                                                 method):
    out = [tmp_path / f"s{k}.h5" for k in range(2)]
    for path in out:
        assert_ok(invoke("sample", "-m", name, "-n", 6, "--steps", 20, "--method", method,
                         "--seed", 3, "-o", path))
    with h5py.File(out[0], "r") as f0, h5py.File(out[1], "r") as f1:
        a, b = f0["images"][()], f1["images"][()]
        assert a.shape == (6, 64) and a.min() >= 0 and a.max() <= 1
        np.testing.assert_array_equal(a, b)
        assert f0["states/images"].shape == (6, 64)
    # the same samples from the model in memory (before any file round trip)
    mf = load_model(name)
    rng = np.random.default_rng(3)
    V0 = (rng.random((6, 64)) < 0.5).astype(np.uint8)
    res = mf.model.samplers[method](mf.model, V0, 20, rng)
    np.testing.assert_allclose(res.images, a, rtol=0, atol=1e-6)


def test_grbm_samples_are_in_pixel_units_near_the_data(work):
    """Gibbs samples of the GRBM, mapped back to pixels, have the data's mean image to
    within a loose tolerance (the untrained model would give the same; this checks units)."""
    mf = load_model("g.h5")
    rng = np.random.default_rng(0)
    res = mf.model.samplers["gibbs"](mf.model, rng.random((200, 64)), 200, rng)
    with h5py.File("d.h5", "r") as f:
        mean = f["train/images"][()].mean(axis=0) / 255
    assert np.abs(res.images.mean(axis=0) - mean).mean() < 0.1


@pytest.mark.parametrize("name", ["g.h5", "b.h5", "gd.h5"])
def test_inpaint_data_file(work, tmp_path, name):
    result = invoke("inpaint", "d.h5:test", "-m", name, "-n", 10, "--steps", 20, "--samples",
                    2, "-o", tmp_path / "p.png")
    assert_ok(result)
    lines = dict(line.split("\t") for line in result.stdout.splitlines())
    assert float(lines["error_unknown"]) >= 0 and float(lines["error_mean_image"]) >= 0
    assert (tmp_path / "p.png").exists()


def test_dbn_inpaint_keeps_the_known_pixels(work):
    mf = load_model("b.h5")
    rng = np.random.default_rng(0)
    V0 = (rng.random((5, 64)) < 0.5).astype(np.uint8)
    known = np.zeros(64, bool)
    known[:32] = True
    res = mf.model.samplers["gibbs"](mf.model, V0, 10, rng, clamp=known)
    np.testing.assert_array_equal(res.images[:, :32], V0[:, :32])


def test_dbn_inpaint_other_methods_are_refused(work, tmp_path):
    result = invoke("inpaint", "d.h5:test", "-m", "b.h5", "-n", 2, "--method", "pt",
                    "-o", tmp_path / "p.png")
    assert_error(result, "--method pt: a dbn fills images by its up-down Gibbs scheme only; "
                         "use gibbs", code=2)


# --------------------------------------------------------------------------- scoring


def scores(*args):
    result = invoke("score", *args)
    assert_ok(result)
    return {k: v for k, v in (line.split("\t") for line in result.stdout.splitlines())}


def test_score_grbm_exact_and_ais_agree(work):
    exact = scores("d.h5:test", "-m", "g.h5", "--ll", "--mser")
    assert exact["log_z_method"] == "exact"
    ais = scores("d.h5:test", "-m", "g.h5", "--ais", "--ais-runs", 50, "--ais-steps", 500)
    assert abs(float(ais["log_z"]) - float(exact["log_z"])) < max(
        4 * float(ais["log_z_sd"]), 0.01)
    mf = load_model("g.h5")
    ll_pixels = float(exact["ll"]) + mf.model.standardizer.log_jacobian
    assert float(exact["ll_pixels"]) == pytest.approx(ll_pixels, abs=1e-6)
    assert 0 < float(exact["mser_pixels"]) < 0.2


def test_score_dbn_bound(work):
    s = scores("d.h5:test", "-m", "b.h5", "--ll")
    assert s["log_z_method_top"] == "exact" and s["bound_samples"] == "10"
    assert float(s["ll_bound"]) < 0
    default = scores("d.h5:test", "-m", "b.h5")
    assert set(default) == {"n", "mser"}


@pytest.mark.parametrize("name, args, message", [
    ("b.h5", ["--free-energy"], "--free-energy: a dbn has no free energy of v; --ll gives its "
                                "lower bound"),
    ("g.h5", ["--pseudo-ll"], "--pseudo-ll is for Bernoulli RBMs, not a gaussian-rbm"),
    ("g.h5", ["--bracket"], "--bracket (reverse AIS) is for Bernoulli RBMs, not a gaussian-rbm"),
])
def test_score_options_that_do_not_apply(work, name, args, message):
    assert_error(invoke("score", "d.h5:test", "-m", name, *args), message, code=2)


# --------------------------------------------------------------------------- transform


def test_transform_every_group_and_one_layer(work, tmp_path):
    assert_ok(invoke("transform", "d.h5", "-m", "b.h5", "-o", tmp_path / "f.h5"))
    mf = load_model("b.h5")
    with h5py.File(tmp_path / "f.h5", "r") as f, h5py.File("d.h5", "r") as d:
        assert f["train/images"].shape == (400, 12) and f["test/images"].shape == (100, 12)
        np.testing.assert_array_equal(f["test/labels"][()], d["test/labels"][()])
        bits = (d["test/images"][()] >= 128).astype(np.uint8)
        np.testing.assert_allclose(f["test/images"][()], mf.model.up(bits)[-1], atol=1e-6)
    assert_ok(invoke("transform", "d.h5:test", "-m", "g.h5", "--layer", 1, "-o",
                     tmp_path / "g.h5"))
    with h5py.File(tmp_path / "g.h5", "r") as f:
        assert f["images"].shape == (100, 16)
    assert_error(invoke("transform", "d.h5", "-m", "b.h5", "--layer", 4, "-o",
                        tmp_path / "x.h5"), "--layer 4: the model has 3 hidden layers", code=2)


@pytest.mark.parametrize("name, edit, message", [
    ("g.h5", lambda f: f.__delitem__("log_sigma"), "model file lacks dataset 'log_sigma'"),
    ("g.h5", lambda f: f.__setitem__("standardize_std", np.zeros(64)) if not
     f.__delitem__("standardize_std") else None, "standardize_std must be positive"),
    ("b.h5", lambda f: f.__delitem__("layers/1/weights") or f.__setitem__(
        "layers/1/weights", np.zeros((7, 8), np.float32)),
     "layer 1: inconsistent shapes: weights (7, 8), visible_bias (16,), hidden_bias (8,)"),
    ("b.h5", lambda f: f["layers/2"].attrs.__setitem__("model_type", "gaussian-rbm"),
     "layer 2: model file lacks dataset 'log_sigma'"),
    ("b.h5", lambda f: f.__delitem__("layers"), "dbn model file lacks group 'layers/0'"),
], ids=["no-log-sigma", "zero-std", "layer-shape", "gaussian-upper-layer", "no-layers"])
def test_bad_model_files(work, tmp_path, name, edit, message):
    import shutil
    path = tmp_path / name
    shutil.copy(name, path)
    with h5py.File(path, "r+") as f:
        edit(f)
    assert_error(invoke("sample", "-m", path, "-o", tmp_path / "s.png"), f"{path}: {message}")


def test_dbn_resume_refuses_other_epochs(work, tmp_path):
    import shutil
    shutil.copy("b.h5", tmp_path / "b.h5")
    result = invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 3)
    assert_error(result, f"{tmp_path / 'b.h5'}: a DBN resumes with the --epochs per layer it "
                         "started with (2), not 3")
    result = invoke("train", "d.h5", "-o", tmp_path / "b.h5", "--resume", "--epochs", 2)
    assert_error(result, f"{tmp_path / 'b.h5'}: already trained: 3 layers x 2 epochs")


def test_grbm_and_dbn_layers_follow_the_lr_schedule(work, tmp_path):
    assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 4, "--epochs", 3, "--lr",
                     0.01, "--lr-final", 0.001, "-o", tmp_path / "g.h5", *FAST))
    np.testing.assert_allclose(load_model(tmp_path / "g.h5").history["lr"], [0.01, 0.0055, 0.001])
    assert_ok(invoke("train", "d.h5", "--model", "dbn", "--hidden", "4,4", "--epochs", 2,
                     "--lr", 0.01, "--lr-final", 0.001, "-o", tmp_path / "b.h5", *FAST))
    np.testing.assert_allclose(load_model(tmp_path / "b.h5").history["lr"],
                               [0.01, 0.001, 0.01, 0.001])


def test_grbm_cd_from_noise_is_stored_and_sets_the_sampling_steps(work, tmp_path):
    """--cd 4 --cd-from noise: stored in the hyperparameters, and `rbm sample` then runs
    4 Gibbs sweeps by default (the chain length the model was trained for); --steps
    still wins, and PT keeps its own default."""
    out = tmp_path / "n.h5"
    assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 8, "--epochs", 2,
                     "--cd", 4, "--cd-from", "noise", "--sigma", "fixed", "--sigma-init", 0.5,
                     "--lr", 0.01, "-o", out, "--validate", "d.h5:test", *FAST))
    mf = load_model(out)
    assert mf.hyperparameters["cd_from"] == "noise" and mf.hyperparameters["steps"] == 4
    assert np.isfinite(mf.history["mser_valid"]).all()
    for extra, steps in (([], 4), (["--steps", 9], 9), (["--method", "pt"], 1000)):
        assert_ok(invoke("sample", "-m", out, "-n", 3, "-o", tmp_path / "s.h5", "--force",
                         *extra))
        with h5py.File(tmp_path / "s.h5", "r") as f:
            assert f.attrs["steps"] == steps


def test_grbm_cd_from_noise_chains_do_not_see_the_batch():
    """The GRBM's negative phase from noise gives the same chains for any batch (same
    RNG state); from the data it does not."""
    from rbmcli.training.grbm import GaussianTrainer, GaussianTrainOptions, StandardizedData, new_grbm
    rng = np.random.default_rng(0)
    images = rng.random((40, 16))
    for cd_from, same in (("noise", True), ("data", False)):
        opts = GaussianTrainOptions(n_hidden=4, method="cd", steps=2, batch_size=20,
                                    dtype="float64", cd_from=cd_from)
        model = new_grbm(opts, images)
        model.weights[...] = rng.normal(size=model.weights.shape)  # v matters for h
        data = StandardizedData(images, model.standardizer, model.dtype)
        negatives = []
        for rows in (np.arange(20), np.arange(20, 40)):
            trainer = GaussianTrainer(model, opts, data, None, np.random.default_rng(3))
            negatives.append(trainer.negative_phase(data.rows(rows, None)))
        assert np.array_equal(*negatives) == same


def test_dbn_on_a_given_first_layer(work, tmp_path):
    """--first-layer R: layer 0 is R's RBM unchanged, only the layers above train (their
    epochs only in the history), and the run resumes like any DBN."""
    r, out = tmp_path / "r.h5", tmp_path / "fl.h5"
    assert_ok(invoke("train", "d.h5", "--hidden", 16, "--epochs", 2, "--binarize", "threshold",
                     "-o", r, *FAST))
    assert_ok(invoke("train", "d.h5", "--model", "dbn", "--hidden", "16,8", "--epochs", 2,
                     "--first-layer", r, "-o", out, *FAST))
    rbm, dbn = load_model(r).model, load_model(out)
    assert len(dbn.model.layers) == 2
    np.testing.assert_array_equal(dbn.model.layers[0].weights, rbm.weights)
    np.testing.assert_array_equal(dbn.history["epoch"], [3, 4])
    assert dbn.hyperparameters["first_layer"] == str(r)
    assert_ok(invoke("score", "d.h5:test", "-m", out, "--ll"))


@pytest.mark.parametrize("args, message", [
    (["--hidden", "12,8"], "holds a 64-16 RBM; layer 0 of this DBN is 64-12"),
    (["--hidden", "16,8", "--binarize", "stochastic"],
     "was trained on threshold-binarised data; this DBN uses --binarize stochastic"),
    (["--hidden", "16,8", "--visible", "gaussian"],
     "holds a bernoulli-rbm; layer 0 of this DBN is a gaussian-rbm"),
    (["--hidden", "16,8", "--dtype", "float64"],
     "holds float32 parameters; this DBN uses --dtype float64"),
])
def test_dbn_first_layer_mismatches_are_refused(work, tmp_path, args, message):
    r = tmp_path / "r.h5"
    assert_ok(invoke("train", "d.h5", "--hidden", 16, "--epochs", 1, "--binarize", "threshold",
                     "-o", r, *FAST))
    result = invoke("train", "d.h5", "--model", "dbn", "--epochs", 1, "--first-layer", r,
                    "-o", tmp_path / "x.h5", *args, *FAST)
    assert_error(result, f"{r}: {message}")
    assert not (tmp_path / "x.h5").exists()


def test_first_layer_is_for_dbn(work, tmp_path):
    result = invoke("train", "d.h5", "--first-layer", "g.h5", "-o", tmp_path / "x.h5", *FAST)
    assert_error(result, "--first-layer is for --model dbn", code=2)


def test_info_says_the_chains_start_from_noise(work, tmp_path):
    out = tmp_path / "n.h5"
    assert_ok(invoke("train", "d.h5", "--model", "grbm", "--hidden", 4, "--cd", 2, "--cd-from",
                     "noise", "--epochs", 1, "-o", out, *FAST))
    assert "training\tcd (2 steps, from noise), lr" in invoke("info", out).output
    assert "training\tcd (1 steps), lr" in invoke("info", "g.h5").output


def test_a_run_that_learned_nothing_says_so(work, tmp_path):
    """A GRBM at a learning rate far too high stays finite but reconstructs worse than
    the mean image: the run ends with a warning naming the rate (exit 0, the file kept);
    the module's GRBM, trained at a sane rate, ended without it."""
    result = invoke("train", "d.h5", "--model", "grbm", "--hidden", 16, "--epochs", 2,
                    "--cd", 1, "--lr", 50, "-o", tmp_path / "bad.h5", *FAST)
    assert_ok(result)
    mf = load_model(tmp_path / "bad.h5")
    assert np.isfinite(mf.model.weights).all()
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "times" in warning[0]
    assert "that of the mean row in place of every row" in warning[0]
    assert warning[0].endswith("if more epochs do not help, try a smaller --lr (now 50.0)")
    result = invoke("train", "d.h5", "--model", "grbm", "--hidden", 16, "--epochs", 2,
                    "--cd", 1, "--lr", 0.005, "-o", tmp_path / "good.h5", *FAST)
    assert_ok(result)
    assert "warning:" not in result.stderr


@pytest.mark.parametrize("args, start", [([], "flipped"), (["--labels"], "random"),
                                         (["--stack-start", "flipped", "--labels"], "flipped"),
                                         (["--stack-start", "random"], "random")])
def test_dbn_stack_start(work, tmp_path, args, start):
    """--stack-start: layer 2 (20 hidden units over layer 1's 8, whose own visible layer
    has 16 units) starts as layer 1 turned upside down (flipped) or from random weights;
    the default is random with --labels, flipped without. A tiny rate keeps each layer
    near its start."""
    out = tmp_path / "s.h5"
    assert_ok(invoke("train", "d.h5", "--model", "dbn", "--hidden", "16,8,20", "--epochs", 1,
                     "--lr", 1e-6, "--momentum", 0, "-o", out, *args, *FAST))
    mf = load_model(out)
    assert mf.hyperparameters["stack_start"] == start
    below, top = mf.model.layers[1], mf.model.layers[2]
    copied = np.abs(top.weights[:, :16] - below.weights.T).max()
    if start == "flipped":
        assert copied < 1e-4
    else:
        assert copied > 1e-3
    assert f"stack start\t{start} (" in invoke("info", out).output
    other = "flipped" if start == "random" else "random"
    resumed = invoke("train", "d.h5", "-o", out, "--resume", "--epochs", 1, "--stack-start",
                     other, *FAST)
    assert_error(resumed, f"{out}: checkpoint has --stack-start {start}, not {other}")


def test_stack_start_is_for_dbn(work, tmp_path):
    result = invoke("train", "d.h5", "--stack-start", "random", "-o", tmp_path / "x.h5", *FAST)
    assert_error(result, "--stack-start is for --model dbn", code=2)
