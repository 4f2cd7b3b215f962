"""rbmcli.scoring.bernoulli and the /partition cache of rbmcli.io.modelfile, against direct references.

* pseudo-log-likelihood: each term log P(x_i | x_-i) from the reference's exact
  conditional of one pixel given the others (``reference.conditional_distribution``);
  the random-subset estimator is unbiased (its mean over 400 draws lies within 5
  standard errors of the exact value).
* MSER: the mean-field version equals ``mean((x - P(v | P(h|x)))**2)``; the sampled
  version's mean over 20,000 repeats of one row lies within 5 standard errors of its
  exact expectation ``mean_i [x_i (1 - q_i) + (1 - x_i) q_i]``, with
  ``q_i = sum_h P(h|x) P(v_i = 1 | h)`` by enumerating h.
* the cache: a checksum that sees every parameter, an atomic rewrite that keeps every
  other group, refusal to write over a model that changed meanwhile, reuse and
  invalidation by :func:`rbmcli.scoring.bernoulli.estimate_log_partition`.
"""

import h5py
import numpy as np
import pytest

import reference as ref
from rbmcli.io import modelfile
from rbmcli.scoring import bernoulli as scoring
from rbmcli.errors import InputError
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.io.modelfile import ModelFile, save_model


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def random_rbm(nv, nh, seed, dtype=np.float64, w_scale=1.0):
    rng = np.random.default_rng(seed)
    return BernoulliRBM((w_scale * rng.standard_normal((nv, nh))).astype(dtype),
                        rng.standard_normal(nv).astype(dtype),
                        rng.standard_normal(nh).astype(dtype))


def params(model):
    return [np.asarray(a, np.float64) for a in (model.weights, model.visible_bias,
                                                 model.hidden_bias)]


def random_rows(n, nv, seed, p=0.4):
    return (np.random.default_rng(seed).random((n, nv)) < p).astype(np.uint8)


# --------------------------------------------------------------------------- metrics


def reference_pseudo_ll(model, V):
    W, b, c = params(model)
    out = np.zeros(len(V))
    for s, x in enumerate(V):
        for i in range(len(x)):
            mask = np.ones(len(x), bool)
            mask[i] = False
            p = ref.conditional_distribution(mask, x, W, b, c)   # over x_i in (0, 1)
            out[s] += np.log(p[x[i]])
    return out


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_pseudo_log_likelihood_equals_the_sum_of_exact_conditionals(dtype, tol):
    model = random_rbm(10, 7, seed=1, dtype=dtype)
    V = random_rows(13, 10, seed=2)
    got = scoring.pseudo_log_likelihood(model, V)
    np.testing.assert_allclose(got, reference_pseudo_ll(model, V), rtol=tol, atol=tol)
    # chunking does not matter
    np.testing.assert_array_equal(got, scoring.pseudo_log_likelihood(model, V, max_bytes=150))


def test_pseudo_log_likelihood_of_a_factorial_model():
    """W = 0: the pixels are independent and log P(x_i | x_-i) = log P(x_i)."""
    b = np.array([-2.0, 0.0, 1.5])
    model = BernoulliRBM(np.zeros((3, 2)), b, np.array([0.3, -1.0]))
    V = np.array([[1, 0, 1], [0, 0, 0]], np.uint8)
    want = np.sum(V * -ref.softplus(-b) + (1 - V) * -ref.softplus(b), axis=1)
    np.testing.assert_allclose(scoring.pseudo_log_likelihood(model, V), want, rtol=1e-12)


def test_pseudo_log_likelihood_subset_estimator_is_unbiased():
    model = random_rbm(12, 5, seed=3)
    V = random_rows(1, 12, seed=4)
    exact = scoring.pseudo_log_likelihood(model, V)[0]
    rng = np.random.default_rng(5)
    draws = scoring.pseudo_log_likelihood(model, np.repeat(V, 400, axis=0), n_pixels=3,
                                          rng=rng)
    assert abs(draws.mean() - exact) < 5 * draws.std(ddof=1) / np.sqrt(len(draws))
    assert draws.std() > 0            # really a random subset
    full = scoring.pseudo_log_likelihood(model, V, n_pixels=12, rng=rng)
    assert full[0] == exact
    with pytest.raises(InputError, match="needs an rng"):
        scoring.pseudo_log_likelihood(model, V, n_pixels=3)


def test_mean_field_reconstruction_error():
    model = random_rbm(9, 4, seed=6)
    V = random_rows(20, 9, seed=7)
    W, b, c = params(model)
    R = ref.visible_probs(ref.hidden_probs(V, W, c), W, b)
    np.testing.assert_allclose(scoring.mean_field_reconstruction_errors(model, V),
                               np.mean((V - R) ** 2, axis=1), rtol=1e-12)


def test_sampled_reconstruction_error_has_the_exact_expectation():
    model = random_rbm(9, 4, seed=8)
    x = random_rows(1, 9, seed=9)
    W, b, c = params(model)
    H = ref.all_binary_states(4).astype(np.float64)
    ph = ref.hidden_probs(x, W, c)[0]
    p_h = np.prod(np.where(H == 1, ph, 1 - ph), axis=1)
    q = p_h @ ref.visible_probs(H, W, b)
    expected = np.mean(x[0] * (1 - q) + (1 - x[0]) * q)
    errors = scoring.reconstruction_errors(model, np.repeat(x, 20000, axis=0),
                                           np.random.default_rng(10))
    assert abs(errors.mean() - expected) < 5 * errors.std() / np.sqrt(len(errors))
    # a wrong definition (mean field) is far off
    mean_field = scoring.mean_field_reconstruction_errors(model, x)[0]
    assert abs(mean_field - expected) > 10 * errors.std() / np.sqrt(len(errors))


def test_score_combines_the_metrics():
    model = random_rbm(8, 6, seed=11)
    V = random_rows(30, 8, seed=12)
    W, b, c = params(model)
    log_z = ref.log_partition(W, b, c)
    s = scoring.score(model, V, mser=True, free_energy=True, pseudo_ll=True,
                      log_partition={"log_z": log_z, "log_z_method": "exact"}, seed=3)
    assert list(s.summary) == ["n", "mser", "mser_mean_field", "free_energy", "pseudo_ll",
                               "ll", "ll_sd", "log_z", "log_z_method"]
    assert s.summary["n"] == 30
    F = ref.free_energy(V, W, b, c)
    np.testing.assert_allclose(s.per_sample["free_energy"], F, rtol=1e-12)
    assert s.summary["ll"] == pytest.approx(ref.log_likelihood(V, W, b, c), rel=1e-12)
    assert s.summary["ll_sd"] == pytest.approx(np.std(F, ddof=1) / np.sqrt(30), rel=1e-12)
    for key in ("mser", "mser_mean_field", "free_energy", "pseudo_ll", "ll"):
        assert s.summary[key] == pytest.approx(np.mean(s.per_sample[key]), rel=1e-12)
    # the same seed gives the same sampled MSER
    again = scoring.score(model, V, mser=True, seed=3)
    np.testing.assert_array_equal(again.per_sample["mser"], s.per_sample["mser"])


def test_binarize_follows_the_model_file():
    images = np.array([[0, 127, 128, 255]], np.uint8)
    np.testing.assert_array_equal(scoring.binarize(images, "threshold"), [[0, 0, 1, 1]])
    grey = np.full((200, 50), 0.5)
    a = scoring.binarize(grey, "stochastic", seed=1)
    np.testing.assert_array_equal(a, scoring.binarize(grey, "stochastic", seed=1))
    assert not np.array_equal(a, scoring.binarize(grey, "stochastic", seed=2))
    assert 0.45 < a.mean() < 0.55
    with pytest.raises(InputError, match="unknown binarization 'fuzzy'"):
        scoring.binarize(grey, "fuzzy")


def test_metrics_refuse_bad_rows():
    model = random_rbm(8, 6, seed=13)
    with pytest.raises(InputError, match=r"shape \(N, 8\), found \(3, 7\)"):
        scoring.mean_field_reconstruction_errors(model, np.zeros((3, 7), np.uint8))
    with pytest.raises(InputError, match="must be 0 or 1"):
        scoring.pseudo_log_likelihood(model, np.full((3, 8), 0.5))


# --------------------------------------------------------------------------- the cache


def write_model(path, model, **extra):
    mf = ModelFile(model=model, hyperparameters={"n_hidden": model.n_hidden},
                   image_shape=(1, model.n_visible), binarization="threshold",
                   history={"epoch": np.array([1.0, 2.0])},
                   state={"chains": np.ones((2, model.n_visible), np.uint8)}, epoch=2, **extra)
    save_model(path, mf)


def snapshot(path):
    """Every dataset and attribute of an HDF5 file but /partition."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if name.startswith("partition"):
                return
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = np.asarray(v).tolist()
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tolist()
        f.visititems(visit)
        for k, v in f.attrs.items():
            out[f"/@{k}"] = np.asarray(v).tolist()
    return out


def test_parameter_checksum_sees_every_parameter():
    model = random_rbm(5, 4, seed=14)
    base = modelfile.parameter_checksum(model)
    assert base == modelfile.parameter_checksum(random_rbm(5, 4, seed=14))
    for name in ("weights", "visible_bias", "hidden_bias"):
        other = random_rbm(5, 4, seed=14)
        changed = getattr(other, name).copy()
        changed.flat[0] += 1e-12
        setattr(other, name, changed)
        assert modelfile.parameter_checksum(other) != base, name
    assert modelfile.parameter_checksum(random_rbm(5, 4, seed=14, dtype=np.float32)) != base


def test_write_partition_cache_keeps_everything_else(tmp_path):
    path = tmp_path / "m.h5"
    model = random_rbm(5, 4, seed=15)
    write_model(path, model)
    before = snapshot(path)
    assert modelfile.read_partition_cache(path) == {}
    checksum = modelfile.parameter_checksum(model)
    assert modelfile.write_partition_cache(path, {"log_z": 1.5, "method": "ais"}, checksum,
                                           {"base_bias": np.arange(5.0)})
    assert snapshot(path) == before
    cache = modelfile.read_partition_cache(path)
    assert cache["log_z"] == 1.5 and cache["method"] == "ais"
    np.testing.assert_array_equal(cache["base_bias"], np.arange(5.0))
    # rewriting replaces the group
    assert modelfile.write_partition_cache(path, {"log_z": 2.5}, checksum)
    assert modelfile.read_partition_cache(path) == {"log_z": 2.5}
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]     # no temporary left
    # the model reader ignores the group, and retraining (save_model) drops it
    mf = modelfile.load_model(path)
    save_model(path, mf)
    assert modelfile.read_partition_cache(path) == {}


def test_write_partition_cache_refuses_a_changed_model(tmp_path):
    path = tmp_path / "m.h5"
    model = random_rbm(5, 4, seed=16)
    write_model(path, model)
    old = modelfile.parameter_checksum(model)
    write_model(path, random_rbm(5, 4, seed=17))          # retrained meanwhile
    with open(path, "rb") as fh:
        before = fh.read()
    assert modelfile.write_partition_cache(path, {"log_z": 1.0}, old) is False
    with open(path, "rb") as fh:
        assert fh.read() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]


def test_estimate_log_partition_exact_and_cached_ais(tmp_path):
    path = str(tmp_path / "m.h5")
    model = random_rbm(8, 6, seed=18)
    write_model(path, model)
    data = random_rows(50, 8, seed=19)
    W, b, c = params(model)
    exact = ref.log_partition_joint(W, b, c)
    notes = []
    opts = scoring.PartitionOptions(runs=20, steps=300, seed=1)

    out = scoring.estimate_log_partition(model, opts, data, data, model_path=path,
                                         log=notes.append)
    assert out == {"log_z": pytest.approx(exact, rel=1e-13), "log_z_method": "exact"}
    assert modelfile.read_partition_cache(path) == {}          # exact is not cached

    opts.method = "ais"
    first = scoring.estimate_log_partition(model, opts, data, data, model_path=path,
                                           base_source="d.h5", log=notes.append)
    assert first["log_z_method"] == "ais" and first["ais_runs"] == 20
    assert abs(first["log_z"] - exact) < 4 * first["log_z_sd"] + 1e-3
    assert first["log_z_lo"] < first["log_z"] < first["log_z_hi"]
    assert notes[-1] == f"log Z: cached in {path}"
    cache = modelfile.read_partition_cache(path)
    assert cache["checksum"] == modelfile.parameter_checksum(model)
    assert (cache["runs"], cache["steps"], cache["seed"], cache["base"]) == (20, 300, 1, "d.h5")

    notes.clear()
    again = scoring.estimate_log_partition(model, opts, None, None, model_path=path,
                                           log=notes.append)
    assert again == first
    assert notes == [f"log Z: reusing the AIS estimate cached in {path} (20 runs x 300 "
                     "steps, seed 1, base rates of d.h5)"]

    notes.clear()
    opts.bracket, opts.reverse_burn_in = True, 50
    bracket = scoring.estimate_log_partition(model, opts, data, data, model_path=path,
                                             log=notes.append)
    assert notes[0].startswith("log Z: reusing the AIS estimate")
    assert notes[1].startswith("log Z: reverse AIS, 20 runs x 300 steps from 50 Gibbs")
    assert bracket["log_z_ais"] == first["log_z"]
    assert abs(bracket["log_z_reverse"] - exact) < 4 * bracket["log_z_reverse_sd"] + 1e-3
    assert "log_z_reverse" in modelfile.read_partition_cache(path)

    notes.clear()
    opts.bracket = False
    opts.steps = 301
    scoring.estimate_log_partition(model, opts, data, data, model_path=path, log=notes.append)
    assert notes[0] == (f"log Z: the estimate cached in {path} has other settings (runs 20, "
                        "steps 300, seed 1); recomputing")

    # the model was retrained, and its file still holds the old cache
    notes.clear()
    changed = random_rbm(8, 6, seed=20)
    write_model(path, changed)
    modelfile.write_partition_cache(path, cache, modelfile.parameter_checksum(changed))
    scoring.estimate_log_partition(changed, opts, data, data, model_path=path,
                                   log=notes.append)
    assert notes[0] == (f"log Z: the estimate cached in {path} is for other parameters; "
                        "recomputing")
    assert notes[-1] == f"log Z: cached in {path}"
    assert modelfile.read_partition_cache(path)["checksum"] == \
        modelfile.parameter_checksum(changed)
    # the file changed while the old model was being scored: its cache is not written
    notes.clear()
    scoring.estimate_log_partition(model, opts, data, data, model_path=path, log=notes.append)
    assert notes[-1] == f"log Z: not cached: {path} changed while log Z was being estimated"
    assert modelfile.read_partition_cache(path)["checksum"] == \
        modelfile.parameter_checksum(changed)


def test_estimate_log_partition_survives_an_unwritable_cache(tmp_path, monkeypatch):
    path = str(tmp_path / "m.h5")
    model = random_rbm(8, 6, seed=21)
    write_model(path, model)

    def refuse(*args, **kwargs):
        raise InputError("cannot write: Permission denied", path)

    monkeypatch.setattr(scoring, "write_partition_cache", refuse)  # the name scoring calls
    notes = []
    out = scoring.estimate_log_partition(
        model, scoring.PartitionOptions(method="ais", runs=5, steps=30), random_rows(9, 8, 1),
        None, model_path=path, log=notes.append)
    assert np.isfinite(out["log_z"])
    assert notes[-1] == f"log Z: could not cache the estimate: {path}: cannot write: " \
                        "Permission denied"
