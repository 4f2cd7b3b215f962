"""The samplers (rbmcli/samplers.py) against exact enumeration on tiny RBMs.

Statistical checks use tolerances derived from the number of chains, so they can
fail: a marginal estimated from N independent chains has standard deviation
sqrt(p (1 - p) / N); we allow 5 of those plus a small mixing allowance.
"""

import itertools

import numpy as np
import pytest

from rbmcli.models.rbm import BernoulliRBM
from rbmcli.sampling.bernoulli import (SAMPLERS, SampleResult, checkpoints, gibbs, ladder, mean_field,
                             noise, parallel_tempering)


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def random_rbm(nv=12, nh=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return BernoulliRBM(rng.standard_normal((nv, nh)).astype(dtype),
                        (0.5 * rng.standard_normal(nv)).astype(dtype),
                        (0.5 * rng.standard_normal(nh)).astype(dtype))


def bimodal_rbm(nv=8, w=5.0):
    """Hidden unit 0 switches between 'all on' and 'all off' (each ~92% per pixel), two
    modes of equal mass; a Gibbs chain crosses between them about once in 1000 sweeps."""
    W = np.zeros((nv, 2))
    W[:, 0] = w
    return BernoulliRBM(W, np.full(nv, -w / 2), np.array([-w * nv / 2, 0.0]))


def all_states(n):
    return np.array(list(itertools.product((0, 1), repeat=n)), np.uint8)


def free_energy(m, V):
    """NumPy reference: F(v) = -b.v - sum_j softplus(c_j + (vW)_j)."""
    V = V.astype(np.float64)
    return -V @ m.visible_bias - np.logaddexp(0, V @ m.weights + m.hidden_bias).sum(axis=1)


def exact_distribution(m):
    """P(v) over all 2^nv states (in the order of :func:`all_states`)."""
    S = all_states(m.n_visible)
    logp = -free_energy(m, S)
    p = np.exp(logp - logp.max())
    return S, p / p.sum()


def exact_conditional_marginals(m, known, values):
    """P(v_i = 1 | v_known = values) for every i, by enumeration of the unknown units."""
    S, p = exact_distribution(m)
    keep = (S[:, known] == values[known]).all(axis=1)
    p = p[keep] / p[keep].sum()
    return p @ S[keep]


def total_variation(m, states):
    S, p = exact_distribution(m)
    codes = states.astype(np.int64) @ (1 << np.arange(m.n_visible)[::-1])
    q = np.bincount(codes, minlength=len(S)) / len(codes)
    return 0.5 * np.abs(q - p).sum()


def check_marginals(estimate, exact, n, unknown):
    sd = np.sqrt(np.clip(exact * (1 - exact), 0, None) / n)
    err = np.abs(estimate - exact)[unknown]
    assert (err <= 5 * sd[unknown] + 0.01).all(), (err, sd[unknown])


def clamp_problem(m, n, seed=1):
    """Two inpainting problems, each on half of n chains: masks and known values."""
    rng = np.random.default_rng(seed)
    nv = m.n_visible
    known = np.zeros((2, nv), bool)
    known[0, [0, 3, 5, 6, 11]] = True
    known[1, [1, 2, 7, 8, 9, 10]] = True
    values = (rng.random((2, nv)) < 0.5).astype(np.uint8)
    rows = np.repeat([0, 1], n // 2)
    V0 = np.where(known[rows], values[rows], noise(n, nv, rng)).astype(np.uint8)
    return known, values, rows, V0


# ------------------------------------------------------------------- Gibbs and PT


@pytest.mark.parametrize("method", ["gibbs", "pt"])
def test_clamped_chains_sample_the_exact_conditional(method):
    m = random_rbm()
    n = 4000
    known, values, rows, V0 = clamp_problem(m, n)
    before = V0.copy()
    result = SAMPLERS[method](m, V0, 60, np.random.default_rng(2), clamp=known[rows],
                              replicas=4)
    np.testing.assert_array_equal(V0, before)                      # input untouched
    assert result.states.dtype == np.uint8 and result.states.shape == (n, 12)
    for problem in (0, 1):
        sel = rows == problem
        k = known[problem]
        # known units never change, in the states and in the images
        assert (result.states[sel][:, k] == values[problem, k]).all()
        assert (result.images[sel][:, k] == values[problem, k]).all()
        exact = exact_conditional_marginals(m, k, values[problem])
        check_marginals(result.states[sel].mean(axis=0), exact, sel.sum(), ~k)
        # the grey images are P(v | h): their mean is an estimate of the same marginals
        check_marginals(result.images[sel].mean(axis=0), exact, sel.sum(), ~k)


@pytest.mark.parametrize("method", ["gibbs", "pt"])
def test_running_mean_estimates_the_exact_conditional_marginals(method):
    """``mean`` averages P(v | h_t) over 80 sweeps per chain: it must hit the exact
    conditional marginals within 5 sd of 25 effective draws per chain (the tiny model
    mixes in a sweep or two; measured errors are below 0.15 sd of one draw per chain),
    far tighter than one draw per chain allows. Averaging P(v | P(h|v)) instead, a
    mean-field shortcut, misses by up to 2.2 sd and fails."""
    m = random_rbm(seed=9)
    n = 1000
    known, values, rows, V0 = clamp_problem(m, n, seed=10)
    result = SAMPLERS[method](m, V0, 100, np.random.default_rng(11), clamp=known[rows],
                              replicas=3, burn_in=20)
    assert result.mean.shape == (n, 12) and result.mean.dtype == np.float64
    for problem in (0, 1):
        sel = rows == problem
        k = known[problem]
        assert (result.mean[sel][:, k] == values[problem, k]).all()
        exact = exact_conditional_marginals(m, k, values[problem])
        sd = np.sqrt(np.clip(exact * (1 - exact), 0, None) / (25 * sel.sum()))
        err = np.abs(result.mean[sel].mean(axis=0) - exact)
        assert (err[~k] <= 5 * sd[~k]).all(), (err[~k], sd[~k])
    plain = SAMPLERS[method](m, V0, 100, np.random.default_rng(11), clamp=known[rows],
                             replicas=3)
    assert plain.mean is None


def test_running_mean_arguments():
    m = random_rbm()
    V0 = noise(4, 12, np.random.default_rng(0))
    for bad in (-1, 5, 2.5):
        with pytest.raises(ValueError, match="burn_in"):
            gibbs(m, V0, 5, np.random.default_rng(0), burn_in=bad)
    r = mean_field(m, V0, 5, np.random.default_rng(0), burn_in=0)
    np.testing.assert_array_equal(r.mean, r.images)


def test_clamped_pt_is_not_the_unclamped_chain_with_known_pixels_pasted():
    """Regression guard: resetting known pixels *after* a full tempering sweep leaves
    the hidden chain unconditioned; ours must match the conditional, not the prior."""
    m = random_rbm(seed=3)
    n = 4000
    known, values, rows, V0 = clamp_problem(m, n, seed=4)
    result = parallel_tempering(m, V0, 60, np.random.default_rng(5), clamp=known[rows],
                                replicas=3)
    S, p = exact_distribution(m)
    prior = p @ S
    sel = rows == 0
    exact = exact_conditional_marginals(m, known[0], values[0])
    est = result.states[sel].mean(axis=0)
    unknown = ~known[0]
    assert np.abs(exact - prior)[unknown].max() > 0.1   # the test can tell them apart
    check_marginals(est, exact, sel.sum(), unknown)


def test_unclamped_gibbs_matches_the_exact_distribution():
    m = random_rbm(nv=8, nh=4, seed=6)
    n = 4000
    result = gibbs(m, noise(n, 8, np.random.default_rng(0)), 50, np.random.default_rng(1))
    S, p = exact_distribution(m)
    check_marginals(result.states.mean(axis=0), p @ S, n, np.ones(8, bool))
    assert total_variation(m, result.states) < 0.1


def test_pt_mixes_a_bimodal_model_that_gibbs_cannot():
    m = bimodal_rbm()
    n, steps = 2000, 50
    V0 = np.zeros((n, m.n_visible), np.uint8)        # everyone starts in the 'off' mode
    tv_gibbs = total_variation(m, gibbs(m, V0, steps, np.random.default_rng(1)).states)
    pt = parallel_tempering(m, V0, steps, np.random.default_rng(1), replicas=10)
    tv_pt = total_variation(m, pt.states)
    assert tv_pt < tv_gibbs
    assert tv_gibbs > 0.35      # Gibbs stays in one of two equal modes: TV near 0.5
    assert tv_pt < 0.15         # sampling noise of 2000 draws is ~0.05
    # both modes are visited about equally
    on = pt.states.mean(axis=1) > 0.5
    assert abs(on.mean() - 0.5) < 5 * np.sqrt(0.25 / n)


def test_pt_swap_rates_and_ladder():
    m = random_rbm(seed=7)
    V0 = noise(50, 12, np.random.default_rng(0))
    r = parallel_tempering(m, V0, 20, np.random.default_rng(1), replicas=5)
    np.testing.assert_allclose(r.betas, [1, 0.75, 0.5, 0.25, 0])
    np.testing.assert_allclose(ladder(3), [1, 0.5, 0])
    assert r.swap_acceptance.shape == (4,)
    assert ((r.swap_acceptance >= 0) & (r.swap_acceptance <= 1)).all()
    one = parallel_tempering(m, V0, 1, np.random.default_rng(1), replicas=3)
    assert one.swap_acceptance[0] >= 0 and np.isnan(one.swap_acceptance[1])  # never tried


@pytest.mark.parametrize("method", ["gibbs", "pt", "mf"])
def test_result_shapes_ranges_and_reproducibility(method):
    m = random_rbm(dtype=np.float32)
    V0 = noise(7, 12, np.random.default_rng(0))
    a = SAMPLERS[method](m, V0, 13, np.random.default_rng(3), replicas=3)
    b = SAMPLERS[method](m, V0, 13, np.random.default_rng(3), replicas=3)
    assert isinstance(a, SampleResult) and a.method == method and a.steps == 13
    assert a.images.shape == (7, 12) and a.images.dtype == np.float32
    assert (a.images >= 0).all() and (a.images <= 1).all()
    assert a.states.shape == (7, 12) and a.states.dtype == np.uint8
    assert set(np.unique(a.states)) <= {0, 1}
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.states, b.states)


@pytest.mark.parametrize("method", ["gibbs", "pt", "mf"])
def test_recording_frames_does_not_change_the_result(method):
    m = random_rbm()
    V0 = noise(5, 12, np.random.default_rng(0))
    frames = []
    rec = SAMPLERS[method](m, V0, 250, np.random.default_rng(3), replicas=3,
                           on_step=lambda t, im: frames.append((t, im.copy())))
    plain = SAMPLERS[method](m, V0, 250, np.random.default_rng(3), replicas=3)
    np.testing.assert_array_equal(rec.images, plain.images)
    np.testing.assert_array_equal(rec.states, plain.states)
    steps = [t for t, _ in frames]
    assert steps[0] == 0 and steps[-1] == 250 and steps == sorted(steps)
    assert 40 <= len(frames) <= 70
    np.testing.assert_array_equal(frames[-1][1], rec.images)   # the last frame is the result
    for _, im in frames:
        assert im.shape == (5, 12) and (im >= 0).all() and (im <= 1).all()


def test_checkpoints():
    assert checkpoints(0) == []
    assert checkpoints(1) == [1]
    assert checkpoints(60) == list(range(1, 61))
    assert checkpoints(1000)[:2] == [17, 34] and checkpoints(1000)[-1] == 1000
    assert len(checkpoints(1000)) == 59


def test_float_start_is_drawn_as_bernoulli():
    m = random_rbm()
    V0 = np.zeros((3, 12))
    V0[:, :4] = 1.0
    r = gibbs(m, V0, 0, np.random.default_rng(0), clamp=V0 > 0)
    np.testing.assert_array_equal(r.states, V0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(V0=np.zeros((3, 11), np.uint8)), "expected V0 of shape"),
    (dict(V0=np.full((3, 12), 2, np.uint8)), "0/1 states"),
    (dict(V0=np.full((3, 12), 1.5)), r"in \[0, 1\]"),
    (dict(steps=-1), "non-negative"),
    (dict(clamp=np.ones((2, 12))), "does not fit"),
])
def test_bad_arguments(kwargs, message):
    m = random_rbm()
    args = dict(V0=np.zeros((3, 12), np.uint8), steps=2, clamp=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        gibbs(m, args["V0"], args["steps"], np.random.default_rng(0), clamp=args["clamp"])
    with pytest.raises(ValueError, match="replicas >= 2"):
        parallel_tempering(m, np.zeros((3, 12), np.uint8), 2, np.random.default_rng(0),
                           replicas=1)


# ---------------------------------------------------------------------- mean-field


@pytest.mark.parametrize("clamped", [False, True])
def test_mean_field_reaches_its_fixed_point(clamped):
    m = random_rbm(seed=8)
    n = 20
    rng = np.random.default_rng(0)
    V0 = noise(n, 12, rng)
    clamp = (rng.random((n, 12)) < 0.4) if clamped else None
    r = mean_field(m, V0, 500, rng, clamp=clamp)
    mu, lam = r.images.astype(np.float64), r.hidden
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    np.testing.assert_allclose(lam, sig(m.hidden_bias + mu @ m.weights), atol=1e-12)
    residual = np.abs(mu - sig(m.visible_bias + lam @ m.weights.T))
    unknown = ~clamp if clamped else np.ones_like(mu, bool)
    assert residual[unknown].max() < 1e-6
    if clamped:
        assert (mu[clamp] == V0[clamp]).all()
    np.testing.assert_array_equal(r.states, (mu >= 0.5).astype(np.uint8))


def test_mean_field_is_deterministic_and_ignores_the_rng():
    m = random_rbm(seed=9)
    V0 = noise(4, 12, np.random.default_rng(0))
    a = mean_field(m, V0, 30, np.random.default_rng(1))
    b = mean_field(m, V0, 30, np.random.default_rng(2))
    np.testing.assert_array_equal(a.images, b.images)


def test_energy_matches_the_definition():
    m = random_rbm(seed=10)
    rng = np.random.default_rng(0)
    V = noise(6, 12, rng)
    H = noise(6, 5, rng)
    expected = [-(v @ m.visible_bias) - (h @ m.hidden_bias) - v @ m.weights @ h
                for v, h in zip(V.astype(float), H.astype(float))]
    np.testing.assert_allclose(m.energy(V, H), expected, rtol=1e-12, atol=1e-12)


def test_mean_field_float32_agrees_with_float64():
    m64 = random_rbm(seed=11)
    m32 = BernoulliRBM(m64.weights.astype(np.float32), m64.visible_bias.astype(np.float32),
                       m64.hidden_bias.astype(np.float32))
    V0 = noise(10, 12, np.random.default_rng(0))
    before = V0.copy()
    a = mean_field(m64, V0, 300, None)
    b = mean_field(m32, V0, 300, None)
    np.testing.assert_array_equal(V0, before)
    assert b.images.dtype == np.float32
    np.testing.assert_allclose(b.images, a.images, atol=1e-4)
