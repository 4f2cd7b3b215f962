"""Statistical tests of the sampling kernels against exact enumeration on tiny RBMs.

Every test draws from many *independent* chains (one key per chain, fresh keys every
sweep) and keeps only the final state of each chain, so the N samples of a test are
independent and the effective sample size is N. Burn-in is not guessed: for plain and
clamped Gibbs the exact transition matrix of the visible chain is built by
enumeration (``reference.gibbs_transition``) and the test asserts that the exact
distribution after the chosen number of sweeps is within 1e-6 (TV) of the target,
far below the statistical tolerance, so any failure is the kernels' fault.

Tolerances (all at a false-alarm level of about 1e-6 per check, seeds fixed):

* Means of 0/1 (or [0, 1]) quantities: |mean - exact| < Z * SE with Z = 5 and
  SE = sd / sqrt(N) (sd of a Bernoulli(p) is sqrt(p(1-p)); for P(h|v) averages and
  products we use the sample sd). A two-sided 5-sigma deviation has probability
  5.7e-7 per coordinate; with < 100 coordinates per test the family-wise false
  alarm rate is < 6e-5.
* Whole distributions over the 2**n states, two tests:
  - total variation: with p_hat the empirical frequencies of N samples,
    E[TV] = 0.5 sum_s E|p_hat_s - p_s| <= 0.5 sum_s sqrt(p_s (1 - p_s) / N)
    (Jensen), and changing one sample moves TV by at most 1/N, so McDiarmid gives
    P(TV > E[TV] + t) <= exp(-2 N t^2); t = sqrt(log(1/alpha) / (2N)), alpha = 1e-6.
    This bound is rigorous (no asymptotics) but conservative.
  - Pearson chi-square over the states, pooling states whose expected count is
    below 5 into one bin; critical value at alpha = 1e-6 from the Wilson-Hilferty
    approximation of the chi-square quantile (good to a few % at these df).
* Power: each test also runs the *same* samples through the same check against a
  deliberately wrong reference (beta applied to the free energy instead of the
  energy, a 5% weight error, a neighbouring temperature, the unclamped marginal...)
  and asserts that check rejects it, so the tolerances are not vacuous.
"""

import numpy as np
import pytest

import reference as ref
from rbmcli.kernels.rbm.conditionals import hidden_probs_binary
from rbmcli.kernels.rbm.free_energy import free_energy_binary
from rbmcli.kernels.rbm.gibbs import gibbs_sweeps
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.kernels.rbm.tempering import pt_swap_pass, pt_sweep
from rbmcli.models.rbm import transposed_tiles

Z = 5.0
ALPHA = 1e-6
Z_ALPHA = 4.753  # one-sided standard normal quantile for 1e-6
MIXED_TV = 1e-6  # exact TV to the target required after burn-in


# --------------------------------------------------------------------------- statistics helpers

def tv_bound(p, n, alpha=ALPHA):
    """Upper (1 - alpha) bound on TV(empirical of n iid draws from p, p); see module doc."""
    p = np.asarray(p, np.float64)
    return 0.5 * np.sum(np.sqrt(p * (1 - p) / n)) + np.sqrt(np.log(1 / alpha) / (2 * n))


def chi2_critical(df, z=Z_ALPHA):
    """Wilson-Hilferty approximation of the upper quantile of chi-square(df)."""
    a = 2.0 / (9.0 * df)
    return df * (1 - a + z * np.sqrt(a)) ** 3


def chi2_statistic(counts, p, min_expected=5.0):
    """Pearson X^2 of ``counts`` against probabilities ``p``; states whose expected
    count is below ``min_expected`` are pooled into one bin. Returns (X^2, df)."""
    n = counts.sum()
    expected = n * np.asarray(p, np.float64)
    small = expected < min_expected
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:  # nothing pooled
        obs, exp = obs[:-1], exp[:-1]
    if exp[-1] < min_expected and len(exp) > 1:  # a too-small pooled bin joins the smallest
        j = np.argmin(exp[:-1])
        obs[j] += obs[-1]
        exp[j] += exp[-1]
        obs, exp = obs[:-1], exp[:-1]
    return float(np.sum((obs - exp) ** 2 / exp)), len(exp) - 1


def distribution_check(V, p):
    """Compare the rows of the binary matrix ``V`` (N, n) with the exact distribution
    ``p`` (2**n,). Returns a dict with ``ok`` (both tests pass) and the numbers."""
    N = V.shape[0]
    counts = np.bincount(ref.state_index(V), minlength=len(p))
    tv = ref.total_variation(counts / N, p)
    x2, df = chi2_statistic(counts, p)
    res = dict(tv=tv, tv_max=tv_bound(p, N), x2=x2, df=df, x2_max=chi2_critical(df))
    res["ok"] = res["tv"] <= res["tv_max"] and res["x2"] <= res["x2_max"]
    # "rejected" when either test fails
    return res


def assert_matches(V, p, what=""):
    r = distribution_check(V, p)
    assert r["ok"], f"{what}: {r}"
    return r


def assert_rejects(V, p_wrong, what=""):
    r = distribution_check(V, p_wrong)
    assert not r["ok"], f"{what}: a wrong reference was NOT rejected: {r}"
    return r


def mean_check(X, exact, sd=None):
    """max over coordinates of |mean(X) - exact| / SE (SE from ``sd`` or the sample sd)."""
    X = np.asarray(X, np.float64)
    N = X.shape[0]
    if sd is None:
        sd = X.std(axis=0, ddof=1)
    se = np.maximum(sd, 1e-12) / np.sqrt(N)
    return float(np.max(np.abs(X.mean(axis=0) - exact) / se))


def bernoulli_sd(p):
    p = np.asarray(p, np.float64)
    return np.sqrt(p * (1 - p))


def keys(rng, n):
    return rng.integers(0, 2 ** 64, size=n, dtype=np.uint64, endpoint=False)


def run_gibbs(W, b, c, V0, n_steps, rng, beta=1.0, clamp=None):
    """n_steps of gibbs_sweeps from V0 (copied); returns (V, HP_last)."""
    dt = W.dtype.type
    V = V0.copy()
    B, nv = V.shape
    nh = W.shape[1]
    HP = np.empty((B, nh), W.dtype)
    clamp = np.zeros((0, nv), np.uint8) if clamp is None else clamp
    gibbs_sweeps(V, W, transposed_tiles(W), b, c, np.full(B, beta, dt), keys(rng, B),
                 n_steps, clamp, np.zeros((0, nh), W.dtype), HP)
    return V, HP


def assert_mixed(W, b, c, p0, n_steps, target, **kw):
    """The *exact* distribution of the visible Gibbs chain after n_steps from p0
    is within MIXED_TV of ``target``: the burn-in is long enough."""
    T = ref.gibbs_transition(W, b, c, **kw)
    tv = ref.total_variation(ref.distribution_after(T, p0, n_steps), target)
    assert tv < MIXED_TV, f"burn-in too short: exact TV after {n_steps} sweeps = {tv:.2e}"


# --------------------------------------------------------------------------- models

def random_model(seed, nv, nh, dtype=np.float64, scale=1.0):
    """Weights ~ N(0, scale^2) (so that P(v) is far from uniform), biases ~ N(0, 0.5^2);
    rounded to ``dtype`` once: the references use the rounded values."""
    rng = np.random.default_rng(seed)
    W = (scale * rng.normal(size=(nv, nh))).astype(dtype)
    b = (0.5 * rng.normal(size=nv)).astype(dtype)
    c = (0.5 * rng.normal(size=nh)).astype(dtype)
    return W, b, c


@pytest.fixture(scope="module")
def model8x5():
    return random_model(0, 8, 5)


# --------------------------------------------------------------------------- (a) Gibbs marginals

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gibbs_matches_exact_distribution(dtype):
    W, b, c = random_model(0, 8, 5, dtype)
    Wd, bd, cd = (x.astype(np.float64) for x in (W, b, c))
    N, n_steps = 100_000, 40
    p = ref.visible_distribution(Wd, bd, cd)
    assert p.max() > 10 / 256  # the target is far from uniform
    p0 = np.zeros(256)
    p0[0] = 1.0
    assert_mixed(Wd, bd, cd, p0, n_steps, p)

    V, HP = run_gibbs(W, b, c, np.zeros((N, 8), np.uint8), n_steps, np.random.default_rng(1))
    Ev, Eh, Evh = ref.model_marginals(Wd, bd, cd)
    assert mean_check(V, Ev, bernoulli_sd(Ev)) < Z
    assert mean_check(HP, Eh) < Z          # HP_last = P(h|v): Rao-Blackwellised E[h]
    assert_matches(V, p, "Gibbs visible distribution")

    # Power: the same samples reject a model whose weights are 5% larger, and the
    # beta = 0.9 distribution.
    assert_rejects(V, ref.visible_distribution(1.05 * Wd, bd, cd), "W * 1.05")
    assert_rejects(V, ref.visible_distribution(Wd, bd, cd, 0.9), "beta = 0.9")
    Ev9 = ref.model_marginals(Wd, bd, cd, 0.9)[0]
    assert mean_check(V, Ev9, bernoulli_sd(Ev9)) > Z


def test_gibbs_tempered_chain_matches_exact(model8x5):
    """gibbs_sweeps at beta = 0.5 samples P_beta; a wrong tempering (beta applied to
    the free energy instead of the energy) is rejected by the same check."""
    W, b, c = model8x5
    beta, N, n_steps = 0.5, 60_000, 30
    p = ref.visible_distribution(W, b, c, beta)
    p0 = np.zeros(256)
    p0[0] = 1.0
    assert_mixed(W, b, c, p0, n_steps, p, beta=beta)
    V, HP = run_gibbs(W, b, c, np.zeros((N, 8), np.uint8), n_steps,
                      np.random.default_rng(2), beta=beta)
    assert_matches(V, p, "Gibbs at beta = 0.5")
    assert mean_check(HP, ref.model_marginals(W, b, c, beta)[1]) < Z
    logq = -beta * ref.free_energy(ref.all_binary_states(8), W, b, c)
    wrong = np.exp(logq - ref.logsumexp(logq))
    assert ref.total_variation(wrong, p) > 0.02
    assert_rejects(V, wrong, "beta * F_1(v)")


# --------------------------------------------------------------------------- (b) clamped Gibbs

def test_clamped_gibbs_matches_exact_conditional(model8x5):
    W, b, c = model8x5
    nv = 8
    known = np.zeros(nv, bool)
    known[[0, 3, 5]] = True
    free = np.flatnonzero(~known)
    patterns = [np.array([1, 0, 0, 0, 0, 1, 0, 0], np.uint8),
                np.array([0, 0, 0, 1, 0, 1, 0, 0], np.uint8)]
    N, n_steps = 40_000, 30
    rng = np.random.default_rng(3)
    V0 = (rng.random((2 * N, nv)) < 0.5).astype(np.uint8)  # random free units
    clamp = np.tile(known.astype(np.uint8), (2 * N, 1))
    for g, pat in enumerate(patterns):
        V0[g * N:(g + 1) * N, known] = pat[known]
    V, _ = run_gibbs(W, b, c, V0, n_steps, rng, clamp=clamp)
    # clamped units never change
    np.testing.assert_array_equal(V[:, known], V0[:, known])
    conds = []
    for g, pat in enumerate(patterns):
        cond = ref.conditional_distribution(known, pat, W, b, c)
        conds.append(cond)
        p0 = np.full(len(cond), 1.0 / len(cond))  # free units start uniform
        assert_mixed(W, b, c, p0, n_steps, cond, known_mask=known, known_values=pat)
        assert_matches(V[g * N:(g + 1) * N][:, free], cond, f"clamped pattern {g}")
    # Power: each group rejects the other pattern's conditional and the unclamped
    # marginal of the free units.
    joint = ref.visible_distribution(W, b, c)
    marg = np.bincount(ref.state_index(ref.all_binary_states(nv)[:, free]), weights=joint,
                       minlength=2 ** len(free))
    for g in range(2):
        Vg = V[g * N:(g + 1) * N][:, free]
        assert_rejects(Vg, conds[1 - g], "other pattern")
        assert_rejects(Vg, marg, "unclamped marginal")


# --------------------------------------------------------------------------- (c) free energy, log Z

def test_reference_is_self_consistent(model8x5):
    """The reference's routes agree: log Z over v, over h and over (v, h); moments from
    enumerating v, h, or the joint table."""
    W, b, c = model8x5
    for beta in (1.0, 0.4):
        lz_joint = ref.log_partition_joint(W, b, c, beta)
        lz_v = float(ref.logsumexp(-ref.free_energy(ref.all_binary_states(8), W, b, c, beta)))
        lz_h = float(ref.logsumexp(-ref.free_energy_hidden(ref.all_binary_states(5), W, b, c, beta)))
        assert lz_v == pytest.approx(lz_joint, abs=1e-12)
        assert lz_h == pytest.approx(lz_joint, abs=1e-12)
        assert ref.log_partition(W, b, c, beta) == pytest.approx(lz_joint, abs=1e-12)
        P = ref.joint_distribution(W, b, c, beta)
        VS, HS = ref.all_binary_states(8), ref.all_binary_states(5)
        np.testing.assert_allclose(P.sum(1), ref.visible_distribution(W, b, c, beta), atol=1e-14)
        np.testing.assert_allclose(P.sum(0), ref.hidden_distribution(W, b, c, beta), atol=1e-14)
        Ev, Eh, Evh = ref.model_marginals(W, b, c, beta)
        np.testing.assert_allclose(Ev, P.sum(1) @ VS, atol=1e-13)
        np.testing.assert_allclose(Eh, P.sum(0) @ HS, atol=1e-13)
        np.testing.assert_allclose(Evh, VS.T.astype(float) @ P @ HS, atol=1e-13)
        # the other enumeration route of model_marginals (transpose the model)
        Eh2, Ev2, Ehv2 = ref.model_marginals(W.T, c, b, beta)
        np.testing.assert_allclose(Ev2, Ev, atol=1e-13)
        np.testing.assert_allclose(Ehv2.T, Evh, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_free_energy_and_log_partition(dtype):
    W, b, c = random_model(0, 8, 5, dtype)
    Wd, bd, cd = (x.astype(np.float64) for x in (W, b, c))
    VS = ref.all_binary_states(8)
    # float32: F is accumulated in float64 from float32 pre-activations (|error| ~1e-6
    # per unit); 1e-5 absolute on log Z and on each F is ample.
    atol = 1e-10 if dtype == np.float64 else 1e-5
    for beta in (1.0, 0.7, 0.1):
        F = np.empty(len(VS))
        free_energy_binary(VS, W, b, c, dtype(beta), F)
        np.testing.assert_allclose(F, ref.free_energy(VS, Wd, bd, cd, beta), rtol=0, atol=atol)
        log_z = float(ref.logsumexp(-F))
        assert log_z == pytest.approx(ref.log_partition_joint(Wd, bd, cd, beta), abs=atol)
        np.testing.assert_allclose(np.exp(-F - log_z), ref.visible_distribution(Wd, bd, cd, beta),
                                   rtol=10 * atol)
        # F_beta(v) = -log sum_h exp(-beta E(v, h)), brute force for a few states
        for s in (0, 77, 255):
            HS = ref.all_binary_states(5)
            e = ref.energy(np.repeat(VS[s:s + 1], 32, 0), HS, Wd, bd, cd)
            assert F[s] == pytest.approx(-float(ref.logsumexp(-beta * e)), abs=atol)


# --------------------------------------------------------------------------- (d) gradient

def test_reference_gradient_matches_finite_differences(model8x5):
    W, b, c = model8x5
    data = (np.random.default_rng(4).random((50, 8)) < 0.3).astype(np.uint8)
    gW, gb, gc = ref.log_likelihood_gradient(data, W, b, c)
    eps = 1e-5

    def num_grad(param, index):
        plus = [x.copy() for x in (W, b, c)]
        minus = [x.copy() for x in (W, b, c)]
        plus[param][index] += eps
        minus[param][index] -= eps
        return (ref.log_likelihood(data, *plus) - ref.log_likelihood(data, *minus)) / (2 * eps)

    for param, g in enumerate((gW, gb, gc)):
        for index in np.ndindex(g.shape):
            assert g[index] == pytest.approx(num_grad(param, index), abs=1e-8)


def test_gradient_is_data_minus_long_chain_statistics(model8x5):
    """Exact gradient = data statistics - model statistics; the model statistics
    estimated from N independent Gibbs chains (V^T HP_last / N), and the same through
    apply_update (lr = 1, no momentum or priors), agree within 5 SE per entry."""
    W, b, c = model8x5
    nv, nh = W.shape
    data = (np.random.default_rng(5).random((50, nv)) < 0.3).astype(np.uint8)
    gW, gb, gc = ref.log_likelihood_gradient(data, W, b, c)
    N, n_steps = 80_000, 40
    p0 = np.zeros(2 ** nv)
    p0[0] = 1.0
    assert_mixed(W, b, c, p0, n_steps, ref.visible_distribution(W, b, c))
    V, HP = run_gibbs(W, b, c, np.zeros((N, nv), np.uint8), n_steps, np.random.default_rng(6))
    Vf = V.astype(np.float64)
    prods = (Vf[:, :, None] * HP[:, None, :]).reshape(N, -1)  # v_i * P(h_j | v), iid over chains
    HP_data = np.empty((len(data), nh))
    hidden_probs_binary(data, W, c, HP_data)
    dvh_data = data.T.astype(np.float64) @ HP_data / len(data)
    # entries: exact model statistic = data statistic - exact gradient
    assert mean_check(prods, (dvh_data - gW).ravel()) < Z
    assert mean_check(Vf, data.mean(0) - gb, bernoulli_sd(data.mean(0) - gb)) < Z
    assert mean_check(HP, HP_data.mean(0) - gc) < Z

    # The same estimate through the update kernel: with lr = 1 the parameter change is
    # data term - sampled model term; its error against the exact gradient is the
    # Monte Carlo error of the model term, so the same SEs apply.
    W2, b2, c2 = W.copy(), b.copy(), c.copy()
    apply_update(W2, transposed_tiles(W2), b2, c2, np.zeros_like(W), np.zeros_like(b),
                 np.zeros_like(c), data, HP_data, V, HP, 1.0, 0.0, 0.0, 0.0, np.zeros(0),
                 np.zeros(0))
    se_W = prods.std(0, ddof=1).reshape(nv, nh) / np.sqrt(N)
    se_b = Vf.std(0, ddof=1) / np.sqrt(N)
    se_c = HP.std(0, ddof=1) / np.sqrt(N)
    assert np.max(np.abs((W2 - W) - gW) / se_W) < Z
    assert np.max(np.abs((b2 - b) - gb) / se_b) < Z
    assert np.max(np.abs((c2 - c) - gc) / se_c) < Z

    # Power: the gradient of a model with 5% larger weights is rejected.
    gW_wrong = ref.log_likelihood_gradient(data, 1.05 * W, b, c)[0]
    assert np.max(np.abs((W2 - W) - gW_wrong) / se_W) > Z


# --------------------------------------------------------------------------- (e) parallel tempering

def run_pt(W, b, c, betas, V0, H0, n_sweeps, rng, count_last=0):
    """Parallel tempering: n_sweeps of pt_sweep, each followed by a swap pass of
    alternating parity. Returns (V, H, E, accepted, attempted), where the counters
    cover the last ``count_last`` swap passes only (0: all)."""
    K = len(betas)
    R = V0.shape[0]
    C = R // K
    V, H = V0.copy(), H0.copy()
    WT = transposed_tiles(W)
    betas = np.asarray(betas, W.dtype)
    betas_r = np.repeat(betas, C)
    E = np.empty(R)
    HP = np.empty((R, W.shape[1]), W.dtype)
    acc = np.zeros(K - 1, np.int64)
    att = np.zeros(K - 1, np.int64)
    for t in range(n_sweeps):
        if count_last and t == n_sweeps - count_last:
            acc[:] = 0
            att[:] = 0
        pt_sweep(V, H, W, WT, b, c, betas_r, keys(rng, R), E, HP)
        pt_swap_pass(V, H, E, betas, C, keys(rng, 1)[0], t % 2, acc, att)
    return V, H, E, acc, att


def exact_swap_acceptance(W, b, c, beta0, beta1):
    """E[min(1, exp((beta0 - beta1)(E0 - E1)))] with (v0, h0) ~ P_beta0 and
    (v1, h1) ~ P_beta1 independent: the stationary acceptance rate of a swap."""
    nv, nh = W.shape
    VS, HS = ref.all_binary_states(nv), ref.all_binary_states(nh)
    V = np.repeat(VS, len(HS), axis=0)
    H = np.tile(HS, (len(VS), 1))
    e = ref.energy(V, H, W, b, c)
    p0 = ref.joint_distribution(W, b, c, beta0).ravel()
    p1 = ref.joint_distribution(W, b, c, beta1).ravel()
    total = 0.0
    for chunk in np.array_split(np.arange(len(e)), 8):
        a = np.minimum(1.0, np.exp((beta0 - beta1) * (e[chunk, None] - e[None, :])))
        total += p0[chunk] @ a @ p1
    return total


def test_parallel_tempering_every_slot_matches_exact():
    W, b, c = random_model(7, 7, 4, scale=1.2)
    nv, nh = W.shape
    betas = np.array([1.0, 0.7, 0.4, 0.1])
    K, C, n_sweeps = 4, 40_000, 40
    rng = np.random.default_rng(8)
    V, H, E, acc, att = run_pt(W, b, c, betas, np.zeros((K * C, nv), np.uint8),
                               np.zeros((K * C, nh), np.uint8), n_sweeps, rng, count_last=2)
    # Sweeps alone would mix every temperature (swaps leave the product distribution
    # invariant, so they can only help; not a proof, but the burn-in is not a guess):
    # the first sweep draws v from P_beta(v | h = 0), then n_sweeps - 1 full steps.
    VS = ref.all_binary_states(nv)
    for beta in betas:
        vp = ref.visible_probs(np.zeros((1, nh)), W, b, beta)[0]
        p1 = np.prod(np.where(VS == 1, vp, 1 - vp), axis=1)
        assert_mixed(W, b, c, p1, n_sweeps - 1, ref.visible_distribution(W, b, c, beta),
                     beta=beta)
    # E is the untempered energy of the (permuted) states
    np.testing.assert_allclose(E, ref.energy(V, H, W, b, c), rtol=1e-12, atol=1e-12)
    for k, beta in enumerate(betas):
        Vk, Hk = V[k * C:(k + 1) * C], H[k * C:(k + 1) * C]
        p = ref.visible_distribution(W, b, c, beta)
        assert_matches(Vk, p, f"PT slot {k} (beta = {beta})")
        Eh = ref.model_marginals(W, b, c, beta)[1]
        assert mean_check(Hk, Eh, bernoulli_sd(Eh)) < Z
        # the joint (v, h) of the slot too: 2**11 states
        assert_matches(np.hstack([Vk, Hk]), ref.joint_distribution(W, b, c, beta).T.ravel(),
                       f"PT slot {k} joint")
        # Power: the neighbouring temperatures and the misapplied beta are rejected
        for k2 in (k - 1, k + 1):
            if 0 <= k2 < K:
                assert_rejects(Vk, ref.visible_distribution(W, b, c, betas[k2]), "other beta")
        if beta != 1.0:
            logq = -beta * ref.free_energy(ref.all_binary_states(nv), W, b, c)
            assert_rejects(Vk, np.exp(logq - ref.logsumexp(logq)), "beta * F_1(v)")
    # Swap acceptance over the last two passes (one per parity: C independent
    # attempts per pair, at stationarity) matches the exact stationary rate.
    np.testing.assert_array_equal(att, [C, C, C])
    for k in range(K - 1):
        a = exact_swap_acceptance(W, b, c, betas[k], betas[k + 1])
        assert 0.05 < a < 0.95
        assert abs(acc[k] / C - a) < Z * np.sqrt(a * (1 - a) / C), (k, acc[k] / C, a)


def bimodal_model(w=5.0):
    """Two opposite patterns x = 11110000 and its complement: hidden unit 0 has weights
    +w(2x - 1), hidden unit 1 the opposite, hidden biases -2w. P(v) has two modes of
    equal mass and plain Gibbs crosses between them only rarely."""
    x = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = 2.0 * x - 1.0
    W = np.stack([w * s, -w * s], axis=1)
    return W, np.zeros(8), np.full(2, -2.0 * w), x


def test_parallel_tempering_beats_gibbs_on_a_bimodal_model():
    W, b, c, x = bimodal_model()
    nv, nh = W.shape
    betas = np.array([1.0, 0.7, 0.4, 0.1])
    K, C, n_sweeps = 4, 20_000, 100  # PT needs ~100 sweeps here (w = 5), Gibbs thousands
    p = ref.visible_distribution(W, b, c)
    ix = ref.state_index(x[None])[0]
    assert p[ix] == pytest.approx(p[255 - ix]) and p[ix] > 0.3  # two equal, sharp modes
    rng = np.random.default_rng(9)
    # Same start: every chain in mode x, hidden unit 0 on.
    V0 = np.tile(x.astype(np.uint8), (K * C, 1))
    H0 = np.tile(np.array([1, 0], np.uint8), (K * C, 1))
    V, H, E, acc, att = run_pt(W, b, c, betas, V0, H0, n_sweeps, rng)
    Vg, _ = run_gibbs(W, b, c, V0[:C], n_sweeps, rng)
    tv_pt = ref.total_variation(ref.empirical_distribution(V[:C]), p)
    tv_gibbs = ref.total_variation(ref.empirical_distribution(Vg), p)
    # Plain Gibbs: its exact distribution after n_sweeps from x is still far from P,
    # and its samples agree with that exact (unmixed) distribution.
    p0 = np.zeros(256)
    p0[ix] = 1.0
    p_gibbs = ref.distribution_after(ref.gibbs_transition(W, b, c), p0, n_sweeps)
    assert ref.total_variation(p_gibbs, p) > 0.3
    assert_matches(Vg, p_gibbs, "plain Gibbs after n sweeps (exact, unmixed)")
    # PT's beta = 1 slot is statistically indistinguishable from P, and far closer
    # than Gibbs; Gibbs' samples are rejected as samples of P.
    assert_matches(V[:C], p, "PT beta = 1 on the bimodal model")
    assert_rejects(Vg, p, "plain Gibbs on the bimodal model")
    assert tv_pt < tv_gibbs / 5, (tv_pt, tv_gibbs)
    assert np.all(acc > 0)


def test_cd_from_noise_update_is_the_exact_gradient(model8x5):
    """Trainer with ``cd_from = "noise"`` and K = 40 sweeps (enough to mix from any start,
    checked exactly): its update (lr = 1, no momentum) averaged over many batches is the
    exact log-likelihood gradient within 5 SE per entry; CD-1 from the data, whose bias
    is large on this model, is rejected by the same check."""
    from rbmcli.models.rbm import BernoulliRBM
    from rbmcli.training.rbm import Binarizer, Trainer, TrainOptions

    W, b, c = model8x5
    nv, nh = W.shape
    data = (np.random.default_rng(5).random((50, nv)) < 0.3).astype(np.uint8)
    gW, gb, gc = ref.log_likelihood_gradient(data, W, b, c)
    for p0 in np.eye(2 ** nv)[[0, 2 ** nv - 1]]:                 # all-off and all-on starts
        assert_mixed(W, b, c, p0, 40, ref.visible_distribution(W, b, c))

    def mean_updates(cd_from, steps, n_updates):
        opts = TrainOptions(n_hidden=nh, method="cd", steps=steps, batch_size=len(data),
                            lr=1.0, momentum=0.0, dtype="float64", cd_from=cd_from)
        model = BernoulliRBM(W.copy(), b.copy(), c.copy())
        trainer = Trainer(model, opts, Binarizer(data * 255, "threshold"), None,
                          np.random.default_rng(7))
        trainer.lr, trainer.momentum = 1.0, 0.0
        deltas = []
        for _ in range(n_updates):
            trainer.update(data)
            deltas.append(np.concatenate([(model.weights - W).ravel(),
                                          model.visible_bias - b, model.hidden_bias - c]))
            model.weights = W  # also rewrites the tiled transpose
            for x, x0 in ((model.visible_bias, b), (model.hidden_bias, c)):
                x[...] = x0
            trainer.state["velocity_weights"][...] = 0
            trainer.state["velocity_visible_bias"][...] = 0
            trainer.state["velocity_hidden_bias"][...] = 0
        return np.array(deltas)

    exact = np.concatenate([gW.ravel(), gb, gc])
    assert mean_check(mean_updates("noise", 40, 1000), exact) < Z
    assert mean_check(mean_updates("data", 1, 1000), exact) > Z
