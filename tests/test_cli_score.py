"""``rbm score`` through Click's CliRunner (and once through the installed entry point).

Data: 8x8 images (four random prototypes, 3% of the pixels flipped), 60 training and
40 test images. Model: a random 64x12 RBM written with ``save_model`` (so log Z is
exact by enumerating 2**12 hidden states; ``--ais`` forces AIS with a short schedule
to keep the tests fast).
"""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import reference as ref
from rbmcli.cli import score as cmd_score
from rbmcli.io import modelfile
from rbmcli.scoring import bernoulli as scoring
from rbmcli.cli.main import cli

from clihelpers import assert_error, assert_ok
from rbmcli.io.datasets import binarize_threshold, write_dataset
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.io.modelfile import ModelFile, load_model, save_model

AIS = ["--ais", "--ais-runs", "30", "--ais-steps", "400"]


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def make_model(seed=0, nv=64, nh=12, binarization="threshold", scale=0.3):
    rng = np.random.default_rng(seed)
    model = BernoulliRBM((scale * rng.standard_normal((nv, nh))).astype(np.float32),
                         (rng.standard_normal(nv) - 0.5).astype(np.float32),
                         rng.standard_normal(nh).astype(np.float32))
    return ModelFile(model=model, hyperparameters={"n_hidden": nh, "method": "cd"},
                     image_shape=(8, nv // 8), binarization=binarization,
                     history={"epoch": np.array([1.0]), "mser_train": np.array([0.1])},
                     state={"chains": np.zeros((3, nv), np.uint8)}, epoch=1)


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with d.h5 (groups train: 60, test: 40) and m.h5."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    protos = rng.random((4, 64)) < 0.5

    def images(n):
        bits = protos[rng.integers(0, 4, n)] ^ (rng.random((n, 64)) < 0.03)
        return (bits * 255).astype(np.uint8)

    write_dataset("d.h5", {"train": {"images": images(60), "image_shape": (8, 8)},
                           "test": {"images": images(40), "image_shape": (8, 8)}})
    save_model("m.h5", make_model())
    return tmp_path



def metrics(result):
    """``metric<TAB>value`` lines of stdout as a dict (numbers as floats)."""
    out = {}
    for line in result.stdout.splitlines():
        key, value = line.split("\t")
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def binary_rows(spec="d.h5:test"):
    with h5py.File(spec.split(":")[0], "r") as f:
        return binarize_threshold(f[spec.split(":")[1]]["images"][()])


def file_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------- metrics


def test_default_metrics_are_mser_and_free_energy(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5")
    assert_ok(result)
    keys = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert keys == ["n", "mser", "mser_mean_field", "free_energy"]
    m = metrics(result)
    model = load_model("m.h5").model
    V = binary_rows()
    assert m["n"] == 40
    assert m["free_energy"] == pytest.approx(model.free_energy(V).mean(), rel=1e-9)
    assert m["mser_mean_field"] == pytest.approx(
        scoring.mean_field_reconstruction_errors(model, V).mean(), rel=1e-9)
    assert m["mser"] == pytest.approx(scoring.reconstruction_errors(
        model, V, np.random.default_rng([0, 2])).mean(), rel=1e-9)
    assert result.stderr == ""            # nothing to say, no progress bar in a pipe


def test_pseudo_ll(work):
    model = load_model("m.h5").model
    V = binary_rows()
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--pseudo-ll")
    assert_ok(result)
    assert list(metrics(result)) == ["n", "pseudo_ll"]
    assert metrics(result)["pseudo_ll"] == pytest.approx(
        scoring.pseudo_log_likelihood(model, V).mean(), rel=1e-9)
    subset = invoke("score", "d.h5:test", "-m", "m.h5", "--pseudo-ll-pixels", "8")
    assert_ok(subset)
    m = metrics(subset)
    assert list(m) == ["n", "pseudo_ll", "pseudo_ll_pixels"] and m["pseudo_ll_pixels"] == 8
    assert m["pseudo_ll"] == pytest.approx(metrics(result)["pseudo_ll"], rel=0.2)


def test_ll_is_exact_for_a_small_layer(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--ll")
    assert_ok(result)
    m = metrics(result)
    assert list(m) == ["n", "ll", "ll_sd", "log_z", "log_z_method"]
    assert m["log_z_method"] == "exact"
    model = load_model("m.h5").model
    W, b, c = (np.asarray(a, np.float64) for a in (model.weights, model.visible_bias,
                                                    model.hidden_bias))
    V = binary_rows()
    assert m["log_z"] == pytest.approx(ref.log_partition(W, b, c), rel=1e-9)
    assert m["ll"] == pytest.approx(ref.log_likelihood(V, W, b, c), rel=1e-6)
    F = model.free_energy(V)
    assert m["ll_sd"] == pytest.approx(np.std(F, ddof=1) / np.sqrt(40), rel=1e-6)
    assert result.stderr.startswith("log Z: exact, enumerating 2**12 states")
    assert "partition" not in h5py.File("m.h5", "r")     # exact results are not cached


def test_ll_by_ais_is_cached_and_reused(work):
    exact = metrics(invoke("score", "d.h5:test", "-m", "m.h5", "--ll"))
    first = invoke("score", "d.h5:test", "-m", "m.h5", *AIS)
    assert_ok(first)
    m = metrics(first)
    assert list(m) == ["n", "ll", "ll_sd", "log_z", "log_z_sd", "log_z_lo", "log_z_hi",
                       "log_z_method", "ais_runs", "ais_steps"]
    assert (m["log_z_method"], m["ais_runs"], m["ais_steps"]) == ("ais", 30, 400)
    assert abs(m["log_z"] - exact["log_z"]) < 4 * m["log_z_sd"] + 1e-3
    assert m["ll"] == pytest.approx(exact["ll"] + exact["log_z"] - m["log_z"], rel=1e-6)
    notes = first.stderr.splitlines()
    assert len(notes) == 2
    assert notes[0].startswith("log Z: forward AIS, 30 runs x 400 steps, base rates of "
                               "d.h5:test: ") and notes[0].endswith(" s")
    assert notes[1] == "log Z: cached in m.h5"
    with h5py.File("m.h5", "r") as f:
        g = f["partition"]
        assert g.attrs["method"] == "ais" and int(g.attrs["runs"]) == 30
        assert int(g.attrs["steps"]) == 400 and int(g.attrs["seed"]) == 0
        assert g.attrs["log_z"] == pytest.approx(m["log_z"], rel=1e-9)
        assert g.attrs["checksum"] == modelfile.parameter_checksum(load_model("m.h5").model)
        assert g["base_bias"].shape == (64,)
        # the rest of the model file is intact
        assert f["history/mser_train"][()].tolist() == [0.1]
        assert f["state/chains"].shape == (3, 64)

    second = invoke("score", "d.h5:test", "-m", "m.h5", *AIS)
    assert_ok(second)
    assert second.stdout == first.stdout
    assert second.stderr == ("log Z: reusing the AIS estimate cached in m.h5 (30 runs x 400 "
                             "steps, seed 0, base rates of d.h5:test)\n")
    # other data: the same log Z
    other = invoke("score", "d.h5:train", "-m", "m.h5", *AIS)
    assert "reusing" in other.stderr
    assert metrics(other)["log_z"] == m["log_z"]


def test_a_changed_model_invalidates_the_cache(work):
    assert_ok(invoke("score", "d.h5:test", "-m", "m.h5", *AIS))
    cached = modelfile.read_partition_cache("m.h5")
    mf = load_model("m.h5")
    weights = mf.model.weights.copy()
    weights[0, 0] += 0.5
    mf.model.weights = weights                # "retrain", keeping the stale cache
    save_model("m.h5", mf)
    modelfile.write_partition_cache("m.h5", {k: v for k, v in cached.items()
                                             if k != "base_bias"},
                                    modelfile.parameter_checksum(mf.model),
                                    {"base_bias": cached["base_bias"]})
    result = invoke("score", "d.h5:test", "-m", "m.h5", *AIS)
    assert_ok(result)
    assert result.stderr.splitlines()[0] == (
        "log Z: the estimate cached in m.h5 is for other parameters; recomputing")
    assert metrics(result)["log_z"] != cached["log_z"]
    assert modelfile.read_partition_cache("m.h5")["checksum"] == \
        modelfile.parameter_checksum(mf.model)


def test_threads_do_not_change_the_result(work):
    one = invoke("score", "d.h5:test", "-m", "m.h5", *AIS, "--no-cache", "--mser",
                 "--threads", "1")
    two = invoke("score", "d.h5:test", "-m", "m.h5", *AIS, "--no-cache", "--mser",
                 "--threads", "2")
    assert_ok(one)
    assert_ok(two)
    assert one.stdout == two.stdout


def test_other_ais_settings_and_no_cache(work):
    assert_ok(invoke("score", "d.h5:test", "-m", "m.h5", *AIS))
    before = file_bytes("m.h5")
    result = invoke("score", "d.h5:test", "-m", "m.h5", *AIS[:-1], "500", "--no-cache")
    assert_ok(result)
    assert "cache" not in result.stderr
    assert file_bytes("m.h5") == before
    result = invoke("score", "d.h5:test", "-m", "m.h5", *AIS, "--seed", "3")
    assert result.stderr.splitlines()[0] == (
        "log Z: the estimate cached in m.h5 has other settings (runs 30, steps 400, seed 0); "
        "recomputing")


def test_bracket(work):
    exact = metrics(invoke("score", "d.h5:test", "-m", "m.h5", "--ll"))
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--bracket", "--ais-runs", "30",
                    "--ais-steps", "400", "--reverse-burn-in", "100")
    assert_ok(result)
    m = metrics(result)
    assert m["log_z_method"] == "exact" and m["log_z"] == exact["log_z"]
    for key in ("log_z_ais", "log_z_ais_sd", "log_z_reverse", "log_z_reverse_sd",
                "log_z_reverse_lo", "log_z_reverse_hi", "ll_ais", "ll_reverse"):
        assert key in m, key
    assert m["reverse_burn_in"] == 100
    assert abs(m["log_z_ais"] - exact["log_z"]) < 4 * m["log_z_ais_sd"] + 1e-3
    assert abs(m["log_z_reverse"] - exact["log_z"]) < 4 * m["log_z_reverse_sd"] + 1e-3
    assert m["ll_ais"] == pytest.approx(m["ll"] + m["log_z"] - m["log_z_ais"], abs=1e-6)
    assert m["ll_reverse"] == pytest.approx(m["ll"] + m["log_z"] - m["log_z_reverse"],
                                            abs=1e-6)
    assert "log Z: reverse AIS, 30 runs x 400 steps from 100 Gibbs sweeps started at " \
           "d.h5:test" in result.stderr
    again = invoke("score", "d.h5:test", "-m", "m.h5", "--bracket", "--ais-runs", "30",
                   "--ais-steps", "400", "--reverse-burn-in", "100")
    assert "reusing the reverse AIS estimate cached in m.h5" in again.stderr
    assert again.stdout == result.stdout


def test_base_option(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5", *AIS, "--base", "d.h5:train")
    assert_ok(result)
    assert "base rates of d.h5:train" in result.stderr
    assert modelfile.read_partition_cache("m.h5")["base"] == "d.h5:train"
    V = binarize_threshold(h5py.File("d.h5", "r")["train/images"][()])
    np.testing.assert_allclose(modelfile.read_partition_cache("m.h5")["base_bias"],
                               scoring.pt.base_rate_biases(V))


# --------------------------------------------------------------------------- output forms


def test_json(work):
    text = invoke("score", "d.h5:test", "-m", "m.h5", "--mser", "--free-energy", "--ll")
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--mser", "--free-energy", "--ll",
                    "--json")
    assert_ok(result)
    obj = json.loads(result.stdout)
    assert list(obj) == list(metrics(text))
    for key, value in metrics(text).items():
        assert obj[key] == (pytest.approx(value, rel=1e-9) if isinstance(value, float)
                            else value)


def test_json_turns_infinities_into_null(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--ais", "--ais-runs", "2",
                    "--ais-steps", "3", "--json", "--no-cache")
    assert_ok(result)
    obj = json.loads(result.stdout)          # strict JSON: no Infinity
    assert obj["log_z_lo"] is None or np.isfinite(obj["log_z_lo"])


def test_per_sample(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--mser", "--free-energy",
                    "--pseudo-ll", "--ll", "--per-sample")
    assert_ok(result)
    lines = result.stdout.splitlines()
    assert lines[0] == "index\tmser\tmser_mean_field\tfree_energy\tpseudo_ll\tll"
    assert len(lines) == 41
    rows = np.array([[float(x) for x in line.split("\t")] for line in lines[1:]])
    np.testing.assert_array_equal(rows[:, 0], np.arange(40))
    summary = metrics(invoke("score", "d.h5:test", "-m", "m.h5", "--mser", "--free-energy",
                             "--pseudo-ll", "--ll"))
    for col, key in enumerate(["mser", "mser_mean_field", "free_energy", "pseudo_ll", "ll"], 1):
        assert rows[:, col].mean() == pytest.approx(summary[key], rel=1e-8), key
    model = load_model("m.h5").model
    np.testing.assert_allclose(rows[:, 3], model.free_energy(binary_rows()), rtol=1e-9)


def test_per_sample_json(work):
    result = invoke("score", "d.h5:test", "-m", "m.h5", "--free-energy", "--per-sample",
                    "--json")
    assert_ok(result)
    obj = json.loads(result.stdout)
    assert obj["n"] == 40 and len(obj["per_sample"]["free_energy"]) == 40
    assert np.mean(obj["per_sample"]["free_energy"]) == pytest.approx(obj["free_energy"])


# --------------------------------------------------------------------------- stdin


def stdin_bytes(group="test"):
    import io
    buf = io.BytesIO()
    with h5py.File("d.h5", "r") as src, h5py.File(buf, "w") as f:
        f["images"] = src[group]["images"][()]
    return buf.getvalue()


@pytest.mark.parametrize("args", [["-"], []], ids=["dash", "default"])
def test_data_from_stdin(work, args):
    want = invoke("score", "d.h5:test", "-m", "m.h5", "--free-energy", "--mser")
    result = invoke("score", *args, "-m", "m.h5", "--free-energy", "--mser",
                    input=stdin_bytes())
    assert_ok(result)
    assert result.stdout == want.stdout


def test_stdin_group_and_ais_source_name(work):
    # Click reads "-:test" as an option unless it follows "--"
    result = invoke("score", "-m", "m.h5", "--free-energy", "--", "-:test",
                    input=file_bytes("d.h5"))
    assert_ok(result)
    assert metrics(result)["n"] == 40
    result = invoke("score", "-", "-m", "m.h5", *AIS, "--no-cache", input=stdin_bytes())
    assert_ok(result)
    assert "base rates of <stdin>" in result.stderr


def test_no_data_on_a_terminal_is_a_usage_error(work, monkeypatch):
    monkeypatch.setattr(cmd_score, "_stdin_is_a_terminal", lambda: True)
    result = invoke("score", "-m", "m.h5")
    assert_error(result, "no DATA: give FILE.h5[:GROUP], or pipe HDF5 bytes into standard "
                         "input", code=2)


def test_model_from_the_environment(work, monkeypatch):
    os.rename("m.h5", "env.h5")
    monkeypatch.setenv("RBM_MODEL", "env.h5")
    assert_ok(invoke("score", "d.h5:test", "--free-energy"))


def test_stochastic_binarization_uses_the_seed(work):
    save_model("s.h5", make_model(binarization="stochastic"))
    grey = (np.random.default_rng(1).random((50, 64)) * 255).astype(np.uint8)
    write_dataset("g.h5", {"": {"images": grey}})
    a = invoke("score", "g.h5", "-m", "s.h5", "--free-energy")
    b = invoke("score", "g.h5", "-m", "s.h5", "--free-energy")
    c = invoke("score", "g.h5", "-m", "s.h5", "--free-energy", "--seed", "1")
    assert a.stdout == b.stdout != c.stdout
    model = load_model("s.h5").model
    V = scoring.binarize(grey, "stochastic", seed=0)
    assert metrics(a)["free_energy"] == pytest.approx(model.free_energy(V).mean(), rel=1e-9)


# --------------------------------------------------------------------------- bad input


def _nan(name):
    write_dataset(name, {"": {"images": np.where(np.eye(4, 64) > 0, np.nan, 0.5)}})


@pytest.mark.parametrize("setup, args, message, code", [
    (None, ["missing.h5", "-m", "m.h5"], "missing.h5: no such file", 1),
    (None, ["d.h5:test", "-m", "nope.h5"],
     "nope.h5: no such model file (train one with 'rbm train DATA')", 1),
    (None, ["d.h5:test", "-m", "d.h5"],
     "d.h5: not an rbm model file: expected format 'rbm-model', found 'rbm-data' (it looks "
     "like a data file)", 1),
    (lambda: write_dataset("wide.h5", {"": {"images": np.zeros((5, 100), np.uint8)}}),
     ["wide.h5", "-m", "m.h5"],
     "wide.h5: has 100 pixels per image but the model in m.h5 has 64 visible units", 1),
    (lambda: write_dataset("wide.h5", {"": {"images": np.zeros((5, 100), np.uint8)}}),
     ["d.h5:test", "-m", "m.h5", "--ll", "--base", "wide.h5"],
     "wide.h5: has 100 pixels per image but the model in m.h5 has 64 visible units", 1),
    (lambda: _nan("nan.h5"), ["nan.h5", "-m", "m.h5"],
     "nan.h5: images contain NaN or infinite values", 1),
    (None, ["d.h5:valid", "-m", "m.h5"], "d.h5: no group 'valid' (groups: test, train)", 1),
    (None, ["d.h5:test", "-m", "m.h5", "--exact", "--ais"], "choose one of --exact, --ais", 2),
    (None, ["-", "-m", "m.h5", "--ll", "--base", "-"],
     "DATA and --base cannot both be standard input", 2),
    (None, ["d.h5:test", "-m", "m.h5", "--ais-steps", "2"],
     "Invalid value for '--ais-steps': 2 is not in the range x>=3.", 2),
    (None, ["d.h5:test", "-m", "m.h5", "--ais-runs", "0"],
     "Invalid value for '--ais-runs': 0 is not in the range x>=1.", 2),
    (None, ["d.h5:test", "-m", "m.h5", "--pseudo-ll-pixels", "0"],
     "Invalid value for '--pseudo-ll-pixels': 0 is not in the range x>=1.", 2),
    (lambda: save_model("big.h5", make_model(nv=64, nh=40)),
     ["d.h5:test", "-m", "big.h5", "--exact"],
     "--exact: the smaller layer has 40 units; enumerating 2**40 states is not "
     "feasible (at most 2**30); use AIS", 2),
], ids=["data-missing", "model-missing", "model-is-data", "data-too-wide", "base-too-wide",
        "nan", "no-group", "exact-and-ais", "two-stdins", "steps", "runs", "pll-pixels",
        "exact-too-big"])
def test_bad_input_gives_a_one_line_error(work, setup, args, message, code):
    if setup:
        setup()
    before = {name: file_bytes(name) for name in os.listdir(work)}
    result = invoke("score", *args)
    assert_error(result, message, code)
    assert {name: file_bytes(name) for name in os.listdir(work)} == before


def test_stdin_that_is_not_hdf5(work):
    result = invoke("score", "-m", "m.h5", input=b"hello\n")
    assert_error(result, "<stdin>: not an HDF5 file")
    wide = invoke("score", "-", "-m", "m.h5", input=_wide_bytes())
    assert_error(wide, "<stdin>: has 100 pixels per image but the model in m.h5 has 64 "
                       "visible units")


def _wide_bytes():
    import io
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f["images"] = np.zeros((3, 100), np.uint8)
    return buf.getvalue()


# --------------------------------------------------------------------------- help, entry point


def test_help_has_examples():
    result = invoke("score", "--help")
    assert_ok(result)
    assert "Examples:" in result.output and "rbm score mnist.h5:test" in result.output
    assert "score" in invoke("--help").output


def test_installed_entry_point_reads_a_pipe(work):
    exe = shutil.which("rbm") or os.path.join(os.path.dirname(sys.executable), "rbm")
    if not os.path.exists(exe):
        pytest.skip("the rbm console script is not installed")
    env = dict(os.environ, RBM_THREADS="1")
    proc = subprocess.run([exe, "score", "-m", "m.h5", "--free-energy", "--json"],
                          input=stdin_bytes(), capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    obj = json.loads(proc.stdout)
    assert obj["n"] == 40
    want = metrics(invoke("score", "d.h5:test", "-m", "m.h5", "--free-energy"))
    assert obj["free_energy"] == pytest.approx(want["free_energy"], rel=1e-9)
    bad = subprocess.run([exe, "score", "d.h5:test", "-m", "nope.h5"], capture_output=True,
                         env=env, timeout=300)
    assert bad.returncode == 1
    assert bad.stderr.decode().strip() == ("Error: nope.h5: no such model file (train one "
                                           "with 'rbm train DATA')")
