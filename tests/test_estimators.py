"""rbmcli.estimators.BernoulliRBM: the scikit-learn drop-in.

* scikit-learn's own estimator checks, with no expected failures;
* one update against a plain NumPy reimplementation of scikit-learn's ``_fit``, given
  the same uniforms (the kernels draw from counter-based keys: :func:`uniforms` rebuilds
  them), on the binary (apply_update) and the dense (BLAS) paths, with a short batch;
* the binary and dense paths against each other for whole fits (the same keys give the
  same draws, so they agree to float tolerance), with and without momentum, priors and
  centering;
* sparse = dense, float32 stays float32, the exact pseudo-likelihood by brute force,
  exact and AIS log-likelihoods against enumeration, save/load and ``rbm sample -m``,
  Pipeline / GridSearchCV / clone / pickle.

Every random test has a fixed seed.
"""

import pickle

import numba
import numpy as np
import pytest

pytest.importorskip("sklearn")
import scipy.sparse as sp  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import reference as ref  # noqa: E402
from kernel_uniforms import step_uniforms  # noqa: E402
from rbmcli import estimators  # noqa: E402
from rbmcli.estimators import BernoulliRBM  # noqa: E402

DIGITS = load_digits().data / 16.0          # (1797, 64) grey levels in [0, 1]
DIGITS_BINARY = (DIGITS >= 0.5).astype(np.float64)


# --------------------------------------------------------------------------- sklearn checks

@parametrize_with_checks([
    BernoulliRBM(),
    BernoulliRBM(method="cd", k=2, momentum=0.5, l2=1e-4),
    BernoulliRBM(method="pt", n_temperatures=3, centering=True, l1=1e-5, n_jobs=1),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- the update

def _record_keys(monkeypatch):
    """Make the estimator's key draws visible: returns the list they are appended to."""
    drawn = []
    original = estimators._keys

    def recording(rng, n):
        keys = original(rng, n)
        drawn.append(keys.copy())
        return keys

    monkeypatch.setattr(estimators, "_keys", recording)
    return drawn


def sklearn_update(W, b, c, h_samples, v_pos, lr, keys):
    """scikit-learn's ``BernoulliRBM._fit`` in float64 NumPy (W is (nh, nv) as
    ``components_``), with the uniforms of the kernels' keys instead of its RandomState:
    ``v-`` from step 1, ``h_samples`` from step 2."""
    W, b, c = (np.array(a, np.float64) for a in (W, b, c))
    h_pos = ref.sigmoid(v_pos @ W.T + c)
    v_neg = (step_uniforms(keys, 1, W.shape[1]) < ref.sigmoid(h_samples @ W + b)).astype(float)
    h_neg = ref.sigmoid(v_neg @ W.T + c)
    rate = lr / v_pos.shape[0]
    W += rate * (v_pos.T @ h_pos - v_neg.T @ h_neg).T
    c += rate * (h_pos.sum(0) - h_neg.sum(0))
    b += rate * (v_pos.sum(0) - v_neg.sum(0))
    h_new = (step_uniforms(keys, 2, W.shape[0]) < h_neg).astype(float)
    return W, b, c, h_new


@pytest.mark.parametrize("data", ["binary", "grey"])
@pytest.mark.parametrize("rows", [10, 7])  # 7: fewer data rows than chains
def test_updates_match_numpy_sklearn(monkeypatch, data, rows):
    X = (DIGITS_BINARY if data == "binary" else DIGITS)[:40]
    rbm = BernoulliRBM(n_components=12, batch_size=10, learning_rate=0.3, random_state=3)
    rbm.partial_fit(X[:10])  # start from trained, non-zero chains
    drawn = _record_keys(monkeypatch)
    # copies: like scikit-learn's, the updates change the fitted arrays in place
    W, b, c, H = (np.array(a) for a in (rbm.components_, rbm.intercept_visible_,
                                         rbm.intercept_hidden_, rbm.h_samples_))
    for start in (10, 20, 30):
        batch = X[start:start + rows]
        rbm.partial_fit(batch)
        W, b, c, H = sklearn_update(W, b, c, H, batch, 0.3, drawn[-1])
        np.testing.assert_allclose(rbm.components_, W, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rbm.intercept_visible_, b, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rbm.intercept_hidden_, c, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(rbm.h_samples_, H)
    assert len(drawn) == 3 and (H.sum() > 0) and (H.sum() < H.size)


@pytest.mark.parametrize("options", [
    {},
    {"momentum": 0.7, "l2": 1e-3, "l1": 1e-4},
    {"momentum": 0.5, "centering": True},
    {"method": "cd", "k": 2},
    {"method": "pt", "n_temperatures": 4},
])
def test_binary_fast_path_equals_dense_path(monkeypatch, options):
    """The kernels' gather-add update and the BLAS update see the same Bernoulli draws
    (the same keys), so whole fits agree to float64 round-off. 1797 rows in batches of
    10 include short batches (the sklearn scaling fix-up)."""
    X = DIGITS_BINARY[:397]
    fast = BernoulliRBM(n_components=16, n_iter=2, random_state=0, **options).fit(X)
    monkeypatch.setattr(estimators, "_is_binary", lambda X: False)
    dense = BernoulliRBM(n_components=16, n_iter=2, random_state=0, **options).fit(X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_allclose(getattr(fast, name), getattr(dense, name), rtol=1e-8,
                                   atol=1e-10, err_msg=name)


def test_statistically_like_sklearn():
    """Not bit for bit (other random streams), but the same algorithm: over 4 seeds,
    the mean exact pseudo-likelihood of scikit-learn's fits (scored by our exact
    score) and ours agree within 0.5 nats on digits."""
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    X = DIGITS[:600]
    ours, theirs = [], []
    for seed in range(4):
        kw = dict(n_components=32, n_iter=5, batch_size=10, random_state=seed)
        ours.append(BernoulliRBM(**kw).fit(X).score_samples(X).mean())
        sk = SklearnRBM(**kw).fit(X)
        mirror = BernoulliRBM(n_components=32)
        for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_",
                     "n_features_in_"):
            setattr(mirror, name, getattr(sk, name))
        theirs.append(mirror.score_samples(X).mean())
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.5, (ours, theirs)


# --------------------------------------------------------------------------- inputs, dtypes

@pytest.mark.parametrize("X", [DIGITS[:200], DIGITS_BINARY[:200]], ids=["grey", "binary"])
def test_sparse_and_dense_give_the_same_model(X):
    kw = dict(n_components=10, n_iter=2, random_state=1)
    dense = BernoulliRBM(**kw).fit(X)
    sparse = BernoulliRBM(**kw).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.components_, dense.components_, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(sparse.h_samples_, dense.h_samples_)
    np.testing.assert_allclose(sparse.transform(sp.csr_matrix(X)), dense.transform(X),
                               rtol=1e-10)
    np.testing.assert_allclose(sparse.score_samples(sp.csr_matrix(X)), dense.score_samples(X),
                               rtol=1e-10)


@pytest.mark.parametrize("X", [DIGITS[:200], DIGITS_BINARY[:200]], ids=["grey", "binary"])
def test_float32_stays_float32(X):
    X32 = X.astype(np.float32)
    rbm = BernoulliRBM(n_components=10, n_iter=2, random_state=1).fit(X32)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        assert getattr(rbm, name).dtype == np.float32, name
    assert rbm.transform(X32).dtype == np.float32
    # float32 and float64 fits draw the same states from the same keys
    rbm64 = BernoulliRBM(n_components=10, n_iter=2, random_state=1).fit(X)
    np.testing.assert_array_equal(rbm64.h_samples_, rbm.h_samples_)
    np.testing.assert_allclose(rbm64.components_, rbm.components_, rtol=1e-3, atol=1e-6)
    rbm.partial_fit(X32[:20])
    assert rbm.components_.dtype == np.float32


def test_n_jobs_restores_thread_count():
    before = numba.get_num_threads()
    BernoulliRBM(n_components=8, n_iter=1, n_jobs=1, random_state=0).fit(DIGITS_BINARY[:50])
    assert numba.get_num_threads() == before


# --------------------------------------------------------------------------- scores

def brute_force_pseudo_likelihood(X, rbm):
    W = rbm.components_.T.astype(np.float64)
    b, c = rbm.intercept_visible_, rbm.intercept_hidden_
    F = ref.free_energy(X, W, b, c)
    total = np.zeros(X.shape[0])
    for i in range(X.shape[1]):
        flipped = X.copy()
        flipped[:, i] = 1 - flipped[:, i]
        total += np.log(ref.sigmoid(ref.free_energy(flipped, W, b, c) - F))
    return total


@pytest.mark.parametrize("X", [DIGITS[:30], DIGITS_BINARY[:30]], ids=["grey", "binary"])
def test_exact_pseudo_likelihood(X):
    rbm = BernoulliRBM(n_components=12, n_iter=3, random_state=0).fit(DIGITS[:300])
    got = rbm.score_samples(X)
    np.testing.assert_allclose(got, brute_force_pseudo_likelihood(X, rbm), rtol=1e-10)
    # deterministic, and a row's score does not depend on the other rows
    np.testing.assert_array_equal(rbm.score_samples(X[::-1])[::-1], got)
    np.testing.assert_array_equal(rbm.score_samples(X[5:6]), got[5:6])


def test_binary_pseudo_likelihood_is_sum_of_conditionals():
    """For binary rows it is sum_i log P(v_i | v_-i) of the enumerated distribution."""
    rng = np.random.default_rng(0)
    rbm = BernoulliRBM(n_components=5)
    rbm.components_ = rng.normal(0, 1, (5, 6))
    rbm.intercept_visible_ = rng.normal(0, 1, 6)
    rbm.intercept_hidden_ = rng.normal(0, 1, 5)
    rbm.h_samples_ = np.zeros((10, 5))
    rbm.n_features_in_ = 6
    V = ref.all_binary_states(6).astype(np.float64)
    p = ref.visible_distribution(rbm.components_.T, rbm.intercept_visible_,
                                 rbm.intercept_hidden_)
    expected = np.zeros(len(V))
    for i in range(6):
        flipped = V.copy()
        flipped[:, i] = 1 - flipped[:, i]
        q = p[ref.state_index(flipped.astype(np.uint8))]
        expected += np.log(p / (p + q))
    np.testing.assert_allclose(rbm.score_samples(V), expected, rtol=1e-10)


def test_pseudo_likelihood_does_not_underflow_or_overflow():
    X = np.vstack([np.zeros(1000), np.ones(1000)])
    rbm = BernoulliRBM(n_components=10, batch_size=2, n_iter=10, random_state=42).fit(X)
    with np.errstate(under="raise", over="raise", invalid="raise"):
        scores = rbm.score_samples([np.arange(1000) * 100])
        assert np.isfinite(scores).all()
        assert (rbm.score_samples(X) < -300).all()


def test_log_likelihood_exact_matches_enumeration():
    rbm = BernoulliRBM(n_components=6, n_iter=3, random_state=0).fit(DIGITS_BINARY[:200, :10])
    X = DIGITS_BINARY[200:230, :10]
    result = rbm.log_likelihood(X)
    W, b, c = rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_
    expected = -ref.free_energy(X, W, b, c) - ref.log_partition(W, b, c)
    assert result.method == "exact"
    np.testing.assert_allclose(result.per_sample, expected, rtol=1e-10)
    assert result.mean == pytest.approx(ref.log_likelihood(X.astype(np.uint8), W, b, c),
                                        rel=1e-10)
    assert result.lower == result.upper == result.mean
    assert set(result.details) == {"log_z", "log_z_method"}  # no AIS beside it


def test_log_likelihood_ais_bracket_contains_exact():
    # float32, the dtype the library's own tests compile the AIS kernels for
    data = DIGITS_BINARY[:, :12].astype(np.float32)
    rbm = BernoulliRBM(n_components=10, n_iter=5, random_state=0).fit(data[:300])
    X = data[300:400]
    exact = rbm.log_likelihood(X)
    ais = rbm.log_likelihood(X, method="ais", ais_runs=100, ais_steps=2000,
                             reverse_burn_in=500, seed=1)
    assert ais.method == "ais"
    assert ais.lower - 0.05 <= exact.mean <= ais.upper + 0.05
    assert abs(ais.mean - exact.mean) < 0.1
    assert "log_z_reverse" in ais.details


# --------------------------------------------------------------------------- extras

def test_sample_and_inpaint():
    rbm = BernoulliRBM(n_components=32, n_iter=10, random_state=0).fit(
        DIGITS_BINARY.astype(np.float32))
    S = rbm.sample(5, n_steps=50, random_state=0)
    assert S.shape == (5, 64) and S.dtype == np.float32 and set(np.unique(S)) <= {0.0, 1.0}
    np.testing.assert_array_equal(S, rbm.sample(5, n_steps=50, random_state=0))
    P = rbm.sample(3, n_steps=20, method="pt", random_state=1, return_probabilities=True)
    assert P.shape == (3, 64) and 0 <= P.min() and P.max() <= 1
    X = DIGITS_BINARY[:20]
    known = np.zeros(64, bool)
    known[:40] = True  # top five rows of the 8x8 digit known
    filled = rbm.inpaint(X, known, n_steps=100, n_samples=5, random_state=0)
    np.testing.assert_array_equal(filled[:, known], X[:, known])
    assert 0 <= filled.min() and filled.max() <= 1
    # the posterior mean beats the pixel means on the unknown part
    err = np.mean((filled[:, ~known] - X[:, ~known]) ** 2)
    base = np.mean((DIGITS_BINARY.mean(0)[~known] - X[:, ~known]) ** 2)
    assert err < base


def test_save_load_round_trip_and_rbm_sample(tmp_path):
    from rbmcli.cli.main import cli

    rbm = BernoulliRBM(n_components=16, n_iter=2, batch_size=20, learning_rate=0.05,
                       random_state=0, momentum=0.3).fit(DIGITS_BINARY[:200])
    path = tmp_path / "digits.rbm"
    rbm.save(path)
    back = BernoulliRBM.load(path)
    assert back.get_params() == rbm.get_params()
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rbm, name), err_msg=name)
    np.testing.assert_array_equal(back.transform(DIGITS[:5]), rbm.transform(DIGITS[:5]))
    back.partial_fit(DIGITS_BINARY[:20])  # a loaded model trains on
    result = CliRunner().invoke(cli, ["sample", "-m", str(path), "-n", "4", "--steps", "5",
                                      "-o", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.png").is_file()
    result = CliRunner().invoke(cli, ["info", str(path)])
    assert result.exit_code == 0 and "8x8" in result.output, result.output


# --------------------------------------------------------------------------- composition

def test_pipeline_gridsearch_clone_pickle():
    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    X, y = DIGITS, load_digits().target
    pipe = Pipeline([("rbm", BernoulliRBM(n_iter=3, random_state=0)),
                     ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"rbm__n_components": [16, 64]}, cv=2)
    search.fit(X, y)
    assert search.best_params_ == {"rbm__n_components": 64}
    # scikit-learn's RBM in the same pipeline scores about the same (0.70 here)
    theirs = clone(pipe).set_params(rbm=SklearnRBM(n_components=64, n_iter=3,
                                                   random_state=0))
    their_score = GridSearchCV(theirs, {"rbm__n_components": [64]}, cv=2).fit(X, y).best_score_
    assert abs(search.best_score_ - their_score) < 0.05, (search.best_score_, their_score)
    best = search.best_estimator_
    assert best.score(X, y) > 0.75
    rbm = best.named_steps["rbm"]
    twin = clone(rbm)
    assert twin.get_params() == rbm.get_params() and not hasattr(twin, "components_")
    twin.set_params(n_components=7, method="cd")
    assert twin.n_components == 7 and twin.method == "cd"
    restored = pickle.loads(pickle.dumps(best))
    np.testing.assert_array_equal(restored.named_steps["rbm"].transform(X),
                                  rbm.transform(X))
    np.testing.assert_array_equal(restored.predict(X), best.predict(X))
