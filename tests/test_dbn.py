"""Deep Belief Networks: layer shapes, the up and down passes, and the variational lower
bound against the exact log-likelihood of tiny DBNs computed by enumeration."""

import itertools

import numpy as np
import pytest

from rbmcli.models.dbn import DBN
from rbmcli.errors import InputError
from rbmcli.models.grbm import GaussianRBM
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.scoring.partition import log_partition_exact
from rbmcli.training.dbn import layer_above

import reference as ref

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def rbm(nv, nh, rng, scale=1.0):
    return BernoulliRBM(scale * rng.standard_normal((nv, nh)), rng.standard_normal(nv) * 0.5,
                        rng.standard_normal(nh) * 0.5)


def tiny_dbn(sizes=(5, 4, 3, 3), seed=0, gaussian=False):
    rng = np.random.default_rng(seed)
    layers = [rbm(a, b, rng) for a, b in zip(sizes[:-1], sizes[1:])]
    if gaussian:
        first = layers[0]
        layers[0] = GaussianRBM(0.5 * first.weights, first.visible_bias, first.hidden_bias,
                                0.2 * rng.standard_normal(sizes[0]))
    return DBN(layers)


def states(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), np.float64)


def exact_joint_terms(dbn, v):
    """log p(v, h_1, ..., h_{L-1}) (tensor over the enumerated hidden states) and the
    recognition log q(h | v), both float64, for a binary first layer; by plain NumPy."""
    L = len(dbn.layers)
    top = dbn.top
    log_z = ref.log_partition(top.weights, top.visible_bias, top.hidden_bias)
    layers = dbn.layers
    hs = [states(layer.n_hidden) for layer in layers[:-1]]
    results = []
    for combo in itertools.product(*[range(len(h)) for h in hs]):
        h = [hs[k][i] for k, i in enumerate(combo)]
        below = [v] + h
        logp = 0.0
        logq = 0.0
        for k in range(L - 1):
            W, b, c = (np.asarray(a, np.float64) for a in (layers[k].weights,
                                                          layers[k].visible_bias,
                                                          layers[k].hidden_bias))
            x, y = below[k], below[k + 1]
            pv = ref.sigmoid(b + W @ y)            # p(x | y), generative
            logp += np.sum(x * np.log(pv) + (1 - x) * np.log1p(-pv))
            qh = ref.sigmoid(c + x @ W)            # q(y | x), recognition
            logq += np.sum(y * np.log(qh) + (1 - y) * np.log1p(-qh))
        logp += -ref.free_energy(below[-1][None], top.weights, top.visible_bias,
                                 top.hidden_bias)[0] - log_z
        results.append((logp, logq))
    return np.array(results)


def test_layer_shapes_are_checked():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="layer 0 has 4 hidden units but layer 1 has 3"):
        DBN([rbm(5, 4, rng), rbm(3, 2, rng)])
    g = GaussianRBM(np.zeros((3, 3)), np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(InputError, match="layer 1 of a DBN must be a Bernoulli RBM"):
        DBN([rbm(5, 3, rng), g])
    d = tiny_dbn()
    assert d.n_visible == 5 and d.hidden_sizes == [4, 3, 3]


def test_up_pass_composes_the_hidden_conditionals():
    d = tiny_dbn()
    V = (np.random.default_rng(1).random((6, 5)) < 0.5).astype(np.uint8)
    P = d.up(V)
    assert [p.shape for p in P] == [(6, 4), (6, 3), (6, 3)]
    h1 = ref.hidden_probs(V, d.layers[0].weights, d.layers[0].hidden_bias)
    h2 = ref.hidden_probs(h1, d.layers[1].weights, d.layers[1].hidden_bias)
    assert np.allclose(P[0], h1, atol=1e-6) and np.allclose(P[1], h2, atol=1e-6)


def test_down_pass_samples_the_generative_conditionals():
    """Mean image over many down passes from fixed top-level states h_2 = sum over h_1 of
    p(h_1 | h_2) P(v | h_1), by enumeration."""
    d = tiny_dbn(sizes=(5, 4, 3, 2))
    h2 = np.array([1, 0, 1], np.uint8)
    W1, b1 = d.layers[1].weights.astype(np.float64), d.layers[1].visible_bias
    W0, b0 = d.layers[0].weights.astype(np.float64), d.layers[0].visible_bias
    p_h1 = ref.sigmoid(b1 + W1 @ h2)
    exact = np.zeros(5)
    for h1 in states(4):
        w = np.prod(np.where(h1 == 1, p_h1, 1 - p_h1))
        exact += w * ref.sigmoid(b0 + W0 @ h1)
    n = 20000
    images = d.down(np.repeat(h2[None], n, axis=0), np.random.default_rng(0))
    assert images.shape == (n, 5)
    se = images.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(images.mean(axis=0) - exact) < 4.5 * se + 1e-9)
    mf = d.down(h2[None].astype(np.float64), None, mean_field=True)
    assert np.allclose(mf[0], ref.sigmoid(b0 + W0 @ p_h1), atol=1e-6)


@pytest.mark.parametrize("sizes", [(5, 4, 3), (4, 3, 3, 2)], ids=["2-layer", "3-layer"])
def test_bound_against_exact_log_likelihood(sizes):
    d = tiny_dbn(sizes=sizes, seed=2)
    top = d.top
    log_z = log_partition_exact(top)
    rng = np.random.default_rng(3)
    V = (rng.random((3, sizes[0])) < 0.5).astype(np.uint8)
    samples = 4000
    bound, mc_sd = d.log_likelihood_bound(V, log_z, np.random.default_rng(4), samples=samples)
    for i, v in enumerate(V.astype(np.float64)):
        terms = exact_joint_terms(d, v)
        logp, logq = terms[:, 0], terms[:, 1]
        exact_ll = np.logaddexp.reduce(logp)
        q = np.exp(logq)
        assert q.sum() == pytest.approx(1.0)
        expected_bound = np.sum(q * (logp - logq))
        assert expected_bound <= exact_ll + 1e-12
        assert exact_ll - expected_bound > 1e-3      # not tight by accident
        assert abs(bound[i] - expected_bound) < 4.5 * mc_sd[i]
        assert mc_sd[i] < 0.05


def test_gaussian_first_layer_bound_is_below_the_exact_log_likelihood():
    """log p(v) = log sum_{h1, h2} p(v | h1) p_top(h1) with Gaussian p(v | h1), exactly."""
    d = tiny_dbn(sizes=(3, 4, 2), gaussian=True, seed=5)
    g, top = d.layers[0], d.top
    log_z = log_partition_exact(top)
    V = np.random.default_rng(0).standard_normal((4, 3))
    H1 = states(4)
    log_ptop = -ref.free_energy(H1, top.weights, top.visible_bias, top.hidden_bias) - log_z
    bound, mc_sd = d.log_likelihood_bound(V, log_z, np.random.default_rng(1), samples=3000)
    for i, v in enumerate(V):
        log_pv = g.visible_log_density(np.repeat(v[None], len(H1), axis=0), H1)
        exact_ll = np.logaddexp.reduce(log_pv + log_ptop)
        assert bound[i] <= exact_ll + 4.5 * mc_sd[i]
        # the expected bound, by enumeration over h1
        q = np.prod(np.where(H1 == 1, g.hidden_probs(v[None])[0], 1 - g.hidden_probs(v[None])[0]),
                    axis=1)
        expected = np.sum(q * (log_pv + log_ptop - np.log(q)))
        assert abs(bound[i] - expected) < 4.5 * mc_sd[i]


@pytest.mark.parametrize("extra_scale, tol", [(0.0, 1e-12), (1e-3, 2e-3)])
def test_a_layer_stacked_on_an_rbm_starts_at_its_prior(extra_scale, tol):
    """``layer_above``: the new layer's marginal over its visible units is the prior the
    layer below implies over its hidden units, exactly with extra units of zero weight
    (they add a constant), nearly with the default tiny weights; and the DBN of the two
    then bounds log p(v) by the first layer's own log-likelihood, tightly (its q(h | v)
    is the first layer's exact posterior)."""
    below = rbm(5, 4, np.random.default_rng(5))
    above = layer_above(below, 7, np.random.default_rng(6), extra_scale)
    assert (above.n_visible, above.n_hidden) == (4, 7)
    W1, b1, c1 = (np.asarray(a, np.float64) for a in (below.weights, below.visible_bias,
                                                     below.hidden_bias))
    prior = ref.hidden_distribution(W1, b1, c1)                       # sum over v, 2**5
    W2, b2, c2 = (np.asarray(a, np.float64) for a in (above.weights, above.visible_bias,
                                                     above.hidden_bias))
    marginal = ref.visible_distribution(W2, b2, c2)                  # sum over h2, 2**7
    np.testing.assert_allclose(marginal, prior, rtol=tol, atol=0)
    d = DBN([below, above])
    log_z1 = ref.log_partition(W1, b1, c1)
    for v in ref.all_binary_states(5).astype(np.float64):
        terms = exact_joint_terms(d, v)
        logp, logq = terms[:, 0], terms[:, 1]                  # log p(v, h1), log q(h1 | v)
        bound = np.sum(np.exp(logq) * (logp - logq))
        first_layer = -ref.free_energy(v[None], W1, b1, c1)[0] - log_z1
        assert bound == pytest.approx(first_layer, abs=1e-9 if extra_scale == 0 else 5e-3)


def test_layer_above_needs_a_bernoulli_rbm_with_no_more_visible_units():
    below = rbm(5, 4, np.random.default_rng(5))
    assert layer_above(below, 4, np.random.default_rng(0)) is None   # 4 < 5 visible units
    gaussian = tiny_dbn(gaussian=True).layers[0]
    assert layer_above(gaussian, 9, np.random.default_rng(0)) is None


def test_upper_layers_train_on_samples_of_the_posterior():
    """The training rows of layer 2 are h_2 ~ q(h_2 | h_1), h_1 ~ q(h_1 | v), v ~
    Bernoulli(grey): every one of the 8 states of h_2 appears with its exact probability
    (enumerating v and h_1), within five binomial standard deviations of 40,000 draws. The
    mean-field pass of the grey levels, which upper layers used to train on, gives other
    probabilities."""
    from rbmcli.training.dbn import UpPassRows
    from rbmcli.training.rbm import Binarizer

    rng = np.random.default_rng(4)
    layers = [rbm(4, 3, rng, scale=2.0), rbm(3, 3, rng, scale=2.0)]
    grey = np.array([[0.9, 0.2, 0.6, 0.1]])
    rows = UpPassRows(Binarizer(np.repeat(grey, 40000, axis=0), "stochastic"), layers,
                      np.random.default_rng(0))
    h2 = rows.rows(np.arange(40000), np.random.default_rng(1))
    assert h2.shape == (40000, 3) and h2.dtype == np.uint8
    found = np.bincount(h2 @ np.array([4, 2, 1]), minlength=8) / len(h2)

    def bernoulli(x, p):
        return np.prod(np.where(x == 1, p, 1 - p), axis=-1)

    V, H1, H2 = states(4), states(3), states(3)
    p_v = bernoulli(V, grey[0])
    p_h1 = bernoulli(H1[None], layers[0].hidden_probs(V)[:, None])       # (16, 8)
    p_h2 = bernoulli(H2[None], layers[1].hidden_probs(H1)[:, None])       # (8, 8)
    exact = p_v @ p_h1 @ p_h2
    assert exact.sum() == pytest.approx(1)
    sd = np.sqrt(exact * (1 - exact) / len(h2))
    assert np.all(np.abs(found - exact) <= 5 * sd), (found, exact)
    mean_field = bernoulli(H2, layers[1].hidden_probs(layers[0].hidden_probs(grey))[0])
    assert np.max(np.abs(mean_field - exact) / sd) > 10
    np.testing.assert_allclose(rows.mean(), exact @ H2, atol=5 * sd.max())
