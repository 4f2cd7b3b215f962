"""The Gaussian-Bernoulli RBM: conditionals, free energy and log Z against numerical
integration over v and enumeration over h; AIS against exact log Z; training stability."""

import itertools

import numpy as np
import pytest

from rbmcli.errors import InputError
from rbmcli.models.grbm import GaussianRBM, Standardizer, LOG_SIGMA_MAX, LOG_SIGMA_MIN, STD_FLOOR
from rbmcli.scoring.grbm_partition import ais_log_partition, log_partition_exact
from rbmcli.training.grbm import (GaussianTrainer, GaussianTrainOptions, StandardizedData,
                               new_grbm)

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def tiny(nv=2, nh=3, seed=0, dtype=np.float64, scale=0.8):
    rng = np.random.default_rng(seed)
    arrays = (scale * rng.standard_normal((nv, nh)), 0.5 * rng.standard_normal(nv),
              0.5 * rng.standard_normal(nh), 0.3 * rng.standard_normal(nv))
    return GaussianRBM(*(a.astype(dtype) for a in arrays))


def all_hidden(nh):
    return np.array(list(itertools.product([0, 1], repeat=nh)), np.float64)


def energy_ref(v, h, m):
    """The energy of the docstring, written out term by term (float64, one state)."""
    W, b, c = (np.asarray(a, np.float64) for a in (m.weights, m.visible_bias, m.hidden_bias))
    s = np.exp(np.asarray(m.log_sigma, np.float64))
    return (np.sum((v - b) ** 2 / (2 * s ** 2)) - np.sum((v / s)[:, None] * W * h[None, :])
            - c @ h)


def grid(m, n=241, width=9.0):
    """A 2-D integration grid around the visible means (nv must be 2)."""
    s = np.exp(np.asarray(m.log_sigma, np.float64))
    axes = [np.linspace(-width, width, n) * s[i] * 2 + m.visible_bias[i] for i in range(2)]
    X, Y = np.meshgrid(*axes, indexing="ij")
    dA = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
    return np.stack([X.ravel(), Y.ravel()], axis=1), dA


def test_energy_and_free_energy_match_the_definitions():
    m = tiny()
    rng = np.random.default_rng(1)
    V = rng.standard_normal((5, 2))
    H = all_hidden(3)
    for v in V:
        e = [energy_ref(v, h, m) for h in H]
        assert np.allclose(m.energy(np.tile(v, (len(H), 1)), H), e, rtol=1e-12, atol=1e-12)
        # F(v) = -log sum_h exp(-E(v, h))
        assert m.free_energy(v[None])[0] == pytest.approx(-np.logaddexp.reduce(-np.array(e)),
                                                          rel=1e-12, abs=1e-12)


def test_hidden_conditional_by_enumeration():
    m = tiny(nv=3, nh=4)
    v = np.array([0.3, -1.2, 2.0])
    H = all_hidden(4)
    logp = -np.array([energy_ref(v, h, m) for h in H])
    p = np.exp(logp - np.logaddexp.reduce(logp))
    marg = p @ H  # P(h_j = 1 | v)
    assert np.allclose(m.hidden_probs(v[None])[0], marg, atol=1e-12)


def test_visible_conditional_by_numerical_integration():
    """p(v | h) = exp(-E(v, h)) / integral: its mean and covariance on a grid match
    Normal(b + sigma W h, diag(sigma^2))."""
    m = tiny()
    V, dA = grid(m)
    for h in all_hidden(3):
        mean = m.visible_mean(h[None])[0]
        W, b, c = m.weights, m.visible_bias, m.hidden_bias
        s = np.exp(m.log_sigma)
        e = np.sum((V - b) ** 2 / (2 * s ** 2), axis=1) - (V / s) @ W @ h - c @ h
        w = np.exp(-(e - e.min()))
        w /= w.sum()
        mu = w @ V
        cov = (V - mu).T @ ((V - mu) * w[:, None])
        s2 = np.exp(2 * np.asarray(m.log_sigma, np.float64))
        assert np.allclose(mu, mean, atol=1e-6)
        assert np.allclose(cov, np.diag(s2), atol=1e-6)


def test_exact_log_partition_by_numerical_integration():
    m = tiny()
    V, dA = grid(m)
    F = m.free_energy(V)
    log_z_num = np.logaddexp.reduce(-F) + np.log(dA)
    assert log_partition_exact(m) == pytest.approx(log_z_num, abs=1e-6)


def test_exact_log_partition_against_brute_force_in_more_dimensions():
    """nv = 5: integrate each h's Gaussian in closed form independently of the code."""
    m = tiny(nv=5, nh=4, seed=3)
    W, b, c = (np.asarray(a, np.float64) for a in (m.weights, m.visible_bias, m.hidden_bias))
    s = np.exp(np.asarray(m.log_sigma, np.float64))
    terms = []
    for h in all_hidden(4):
        mean = b + s * (W @ h)
        # -E(v, h) = -|v - mean|^2 / (2 s^2) + (|mean|^2 - |b|^2) / (2 s^2) ... + c.h
        const = np.sum((mean ** 2 - b ** 2) / (2 * s ** 2)) + c @ h
        terms.append(const + np.sum(np.log(np.sqrt(2 * np.pi) * s)))
    assert log_partition_exact(m) == pytest.approx(np.logaddexp.reduce(terms), abs=1e-10)


def test_sampling_matches_the_conditionals():
    m = tiny(nv=3, nh=4)
    rng = np.random.default_rng(5)
    n = 20000
    h = np.array([[1, 0, 1, 1]], np.uint8)
    mean, V = m.sample_visible(np.repeat(h, n, axis=0), rng)
    se = np.exp(m.log_sigma) / np.sqrt(n)
    assert np.all(np.abs(V.mean(axis=0) - mean[0]) < 4 * se)
    assert np.allclose(V.std(axis=0), np.exp(m.log_sigma), rtol=4 / np.sqrt(n) * 2)
    v = np.array([[0.5, -0.5, 1.0]])
    p = m.hidden_probs(v)[0]
    _, H = m.sample_hidden(np.repeat(v, n, axis=0), rng)
    assert np.all(np.abs(H.mean(axis=0) - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_gibbs_chain_reaches_the_exact_visible_mean():
    """E[v] under the model, exactly: sum_h P(h) (b + sigma W h), P(h) from the closed-form
    integral over v."""
    m = tiny(nv=2, nh=3, scale=0.6)
    W, b, c = (np.asarray(a, np.float64) for a in (m.weights, m.visible_bias, m.hidden_bias))
    s = np.exp(np.asarray(m.log_sigma, np.float64))
    H = all_hidden(3)
    WH = H @ W.T
    logp = H @ c + WH @ (b / s) + 0.5 * np.sum(WH ** 2, axis=1)
    ph = np.exp(logp - np.logaddexp.reduce(logp))
    exact = ph @ (b + s * WH)
    rng = np.random.default_rng(2)
    V, _ = m.gibbs(np.zeros((4000, 2)), 50, rng)
    se = V.std(axis=0) / np.sqrt(len(V))
    assert np.all(np.abs(V.mean(axis=0) - exact) < 4.5 * se)


def test_clamped_gibbs_keeps_known_units():
    m = tiny(nv=3, nh=2)
    V0 = np.array([[1.5, 0.0, -2.0]] * 3)
    V, _ = m.gibbs(V0, 10, np.random.default_rng(0), clamp=np.array([True, False, True]))
    assert np.all(V[:, [0, 2]] == V0[:, [0, 2]])
    assert np.all(V[:, 1] != 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_ais_matches_exact_log_partition(seed):
    m = tiny(nv=6, nh=8, seed=seed, scale=0.5)
    exact = log_partition_exact(m)
    est = ais_log_partition(m, runs=200, steps=1000, seed=seed)
    assert est.log_z_sd < 0.05
    assert abs(est.log_z - exact) < max(4 * est.log_z_sd, 0.01)


def test_float32_and_float64_agree():
    m64 = tiny(nv=4, nh=3)
    m32 = GaussianRBM(*(a.astype(np.float32) for a in (m64.weights, m64.visible_bias,
                                                       m64.hidden_bias, m64.log_sigma)))
    V = np.random.default_rng(0).standard_normal((10, 4))
    assert np.allclose(m32.free_energy(V), m64.free_energy(V), rtol=1e-5, atol=1e-4)
    assert np.allclose(m32.hidden_probs(V), m64.hidden_probs(V), atol=1e-6)


def test_inputs_are_not_modified():
    m = tiny(nv=3, nh=2)
    V = np.random.default_rng(0).standard_normal((4, 3))
    copy = V.copy()
    m.gibbs(V, 3, np.random.default_rng(0))
    m.free_energy(V)
    assert np.array_equal(V, copy)


def test_standardizer_round_trip_and_floor():
    x = np.random.default_rng(0).random((50, 6))
    x[:, 0] = 0.0  # a pixel that never changes
    st = Standardizer.fit(x)
    assert st.std[0] == STD_FLOOR
    v = st.forward(x, np.float64)
    assert np.allclose(st.inverse(v), x)
    assert np.allclose(v[:, 1:].mean(axis=0), 0, atol=1e-12)
    assert np.allclose(v[:, 1:].std(axis=0), 1)


def test_log_sigma_is_clipped_on_construction():
    m = GaussianRBM(np.zeros((2, 1)), np.zeros(2), np.zeros(1), np.array([-100.0, 100.0]))
    assert m.log_sigma.tolist() == [LOG_SIGMA_MIN, LOG_SIGMA_MAX]


# ------------------------------------------------------------------------------ training

def blobs(n=300, nv=16, seed=0):
    """Grey images in [0, 1]: two prototypes (pixels 0.1 or 0.9) plus noise."""
    rng = np.random.default_rng(seed)
    protos = 0.1 + 0.8 * (rng.random((2, nv)) < 0.5)
    idx = rng.integers(0, 2, n)
    return np.clip(protos[idx] + 0.1 * rng.standard_normal((n, nv)), 0, 1)


def make_trainer(method="cd", steps=1, lr=0.03, seed=0, sigma="learn", images=None, **kw):
    images = blobs() if images is None else images
    opts = GaussianTrainOptions(n_hidden=8, method=method, steps=steps, batch_size=20, lr=lr,
                                seed=seed, sigma=sigma, dtype="float64", **kw)
    model = new_grbm(opts, images)
    data = StandardizedData(images, model.standardizer, model.dtype)
    return GaussianTrainer(model, opts, data, data, np.random.default_rng([seed, 1])), model


@pytest.mark.parametrize("method,steps", [("cd", 1), ("pcd", 1), ("pt", 4)])
def test_training_lowers_the_reconstruction_error(method, steps):
    trainer, model = make_trainer(method, steps)
    first = trainer.evaluate(0)["mser_train"]
    metrics = [trainer.run_epoch() for _ in range(8)]
    assert all(np.isfinite(m["mser_train"]) for m in metrics)
    assert metrics[-1]["mser_train"] < 0.6 * first
    if method == "pt":
        assert metrics[-1]["swap_acceptance"].shape == (3,)
        assert np.all(metrics[-1]["swap_acceptance"] > 0)


def test_gradient_matches_the_exact_gradient_of_the_log_likelihood():
    """With exact negative statistics (the model's own expectations, by enumeration over h
    and closed form over v), <pos> - <neg> is d/dtheta mean log p(v): compare with finite
    differences of the exact log-likelihood."""
    trainer, model = make_trainer(images=blobs(n=40, nv=3))
    V = trainer.train.images[:40]
    rng = np.random.default_rng(0)
    # a large sample from the model stands in for the negative phase
    v_neg, _ = model.gibbs(rng.standard_normal((60000, 3)), 30, rng)
    grads = trainer.gradients(V, v_neg)

    def mean_ll(m):
        return -m.free_energy(V).mean() - log_partition_exact(m)

    for name, param in model.parameters().items():
        for idx in [(0, 0), (2, 5)] if param.ndim == 2 else [(0,), (param.size - 1,)]:
            old = param[idx]
            eps = 1e-5
            param[idx] = old + eps
            up = mean_ll(model)
            param[idx] = old - eps
            down = mean_ll(model)
            param[idx] = old
            fd = (up - down) / (2 * eps)
            assert grads[name][idx] == pytest.approx(fd, abs=0.03), name


def test_sigma_stays_positive_and_finite_under_a_hostile_learning_rate():
    trainer, model = make_trainer(lr=50.0, sigma_lr=1.0, momentum=0.9)
    for _ in range(3):
        try:
            trainer.run_epoch()
        except Exception:  # the weights may diverge; sigma must not
            pass
        assert np.all(np.isfinite(model.sigma))
        assert np.all(model.sigma >= np.exp(LOG_SIGMA_MIN) * (1 - 1e-12))
        assert np.all(model.sigma <= np.exp(LOG_SIGMA_MAX) * (1 + 1e-12))


def test_reconstruction_error_does_not_blow_up_at_the_default_rate():
    trainer, model = make_trainer(lr=GaussianTrainOptions.lr, method="pcd")
    errs = [trainer.run_epoch()["mser_train"] for _ in range(20)]
    assert max(errs[5:]) < 1.5 * min(errs[:5])
    assert errs[-1] < errs[0]


def test_fixed_sigma_stays_one():
    trainer, model = make_trainer(sigma="fixed")
    trainer.run_epoch()
    assert np.all(model.log_sigma == 0)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 5.0])
def test_fixed_sigma_stays_at_sigma_init(sigma):
    trainer, model = make_trainer(sigma="fixed", sigma_init=sigma)
    want = model.dtype.type(np.log(sigma))
    assert np.all(model.log_sigma == want)
    trainer.run_epoch()
    assert np.all(model.log_sigma == want)
    assert np.isfinite(trainer.evaluate(0)["mser_train"])


def test_learned_sigma_starts_at_sigma_init_and_moves():
    trainer, model = make_trainer(sigma_init=0.5)
    assert np.allclose(model.sigma, 0.5)
    trainer.run_epoch()
    assert not np.allclose(model.sigma, 0.5)


@pytest.mark.parametrize("sigma", [0.05, 6.0])
def test_initial_sigma_outside_the_clipped_range_is_refused(sigma):
    with pytest.raises(InputError, match="outside"):
        GaussianRBM.initialize(4, 2, np.random.default_rng(0), sigma=sigma)


def test_snapshot_restore_repeats_an_epoch_exactly():
    trainer, model = make_trainer("pcd")
    snap = trainer.snapshot()
    trainer.run_epoch()
    after = {k: v.copy() for k, v in model.parameters().items()}
    trainer.restore(snap)
    trainer.run_epoch()
    for k, v in model.parameters().items():
        assert np.array_equal(v, after[k])
