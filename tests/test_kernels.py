"""Every Numba kernel against the plain NumPy references in ``reference.py``.

Deterministic checks: tiny hand-checkable inputs, seeded random inputs in float32
and float64, read-only inputs left unchanged, the documented random-key schedule
(reproduced with the kernels' own ``rng`` helpers through small njit wrappers),
exact 0/1 probabilities, thread-count independence and float32/float64 agreement.
Statistical checks against exact enumeration live in ``test_exact.py``.

Tolerances: float64 results must match the float64 reference to ~1e-12 relative;
float32 ones to ~1e-5 (the kernels sum in float32 with fast-math reassociation and
use a polynomial ``expf``, so the last few bits may differ from NumPy's).
"""

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import reference as ref
from kernel_uniforms import step_uniforms
from rbmcli.kernels.intrinsics.masks import active_units, changed_units
from rbmcli.kernels.rbm.rowops import softplus as nb_softplus
from rbmcli.kernels.intrinsics.sigmoid import sigmoid as nb_sigmoid
from rbmcli.kernels.intrinsics.strips import aligned_matrix, strip_cols, strip_sum
from rbmcli.kernels.intrinsics.tiles import tile_pair_gather
from rbmcli.kernels.intrinsics.transpose import copy_transposed
from rbmcli.kernels.rbm.conditionals import hidden_probs_binary, sample_hidden, sample_visible
from rbmcli.kernels.rbm.free_energy import (free_energy_binary, free_energy_from_preactivation,
                                           label_softplus_sums)
from rbmcli.kernels.rbm.gibbs import gibbs_sweeps
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.kernels.rbm.velocity import velocity_step
from rbmcli.kernels.rbm.labeltop import label_probs, tile_top_weights, top_step
from rbmcli.kernels.rng import uniform
from rbmcli.kernels.rbm.tempering import pt_swap_pass, pt_sweep
from rbmcli.models.rbm import transposed_tiles, untiled

DTYPES = [np.float32, np.float64]
ROOT = Path(__file__).resolve().parents[1]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}
# float32 vs float64 on the same inputs: probabilities within this absolute error.
F32_PROB_ATOL = 2e-6


# --------------------------------------------------------------------------- njit wrappers

@numba.njit
def _uniforms_at(key, counters):
    out = np.empty(counters.shape[0])
    for i in range(counters.shape[0]):
        out[i] = uniform(key, counters[i])
    return out


@numba.njit
def _sigmoid_array(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = nb_sigmoid(x[i])
    return out


@numba.njit
def _softplus_array(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = nb_softplus(x[i])
    return out


# --------------------------------------------------------------------------- helpers

def make_model(seed, nv, nh, dtype, scale=1.0):
    """Random (W, WT, b, c) in ``dtype``, C-contiguous, WT = W.T in tiles."""
    rng = np.random.default_rng(seed)
    W = (scale * rng.normal(size=(nv, nh))).astype(dtype)
    b = (0.5 * rng.normal(size=nv)).astype(dtype)
    c = (0.5 * rng.normal(size=nh)).astype(dtype)
    return W, transposed_tiles(W), b, c


def assert_tiles_hold(WT, W):
    """WT is exactly W.T in tiles, with zeros past the last visible unit."""
    np.testing.assert_array_equal(untiled(WT, W.shape[0]), W)
    np.testing.assert_array_equal(WT, transposed_tiles(W))


def binary(rng, shape, p=0.4):
    V = (rng.random(shape) < p).astype(np.uint8)
    if shape[0] >= 2:  # always include the all-off and the all-on rows
        V[0] = 0
        V[1] = 1
    return V


def keys_for(rng, n):
    return rng.integers(0, 2 ** 64, size=n, dtype=np.uint64, endpoint=False)


def snapshot(*arrays):
    return [a.copy() for a in arrays]


def assert_unchanged(before, after):
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)


def no_flip_risk(U, P, margin=1e-6):
    """True when no uniform is within ``margin`` of its probability, so a rounding
    difference between kernel and reference (float32: ~1e-7 on a probability) cannot
    flip a Bernoulli draw."""
    return bool(np.all(np.abs(U - P) > margin))


@pytest.fixture
def threads_1_and_2():
    """Yields a function ``run(f)`` that returns ``(f() with 1 thread, f() with 2)``."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has fewer than 2 threads")
    saved = numba.get_num_threads()

    def run(f):
        try:
            numba.set_num_threads(1)
            r1 = f()
            numba.set_num_threads(2)
            r2 = f()
        finally:
            numba.set_num_threads(saved)
        return r1, r2

    yield run
    numba.set_num_threads(saved)


# --------------------------------------------------------------------------- inlined helpers

def test_sigmoid_float64_matches_reference():
    x = np.concatenate([np.linspace(-40, 40, 4001), [-1e3, 1e3, -np.inf, np.inf, 0.0]])
    got = _sigmoid_array(x)
    np.testing.assert_allclose(got, ref.sigmoid(x), rtol=1e-14, atol=0)
    assert got[-1] == 0.5 and got[-5] == 0.0 and got[-4] == 1.0


def test_sigmoid_float32_polynomial_exp():
    # Cephes expf has ~1e-7 relative error; the sigmoid inherits at most that plus
    # float32 rounding: 1e-6 relative is a comfortable bound over the useful range.
    x = np.linspace(-30, 30, 6001).astype(np.float32)
    got = _sigmoid_array(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref.sigmoid(x), rtol=1e-6, atol=0)
    assert _sigmoid_array(np.float32([0.0]))[0] == 0.5
    # Beyond the clamp at |x| = 87 the result saturates to finite values in [0, 1].
    ext = _sigmoid_array(np.float32([-1e4, -200, 200, 1e4, -np.inf, np.inf]))
    assert np.all(np.isfinite(ext)) and np.all((ext >= 0) & (ext <= 1))
    np.testing.assert_array_equal(ext[2:4], 1.0)
    np.testing.assert_array_equal(ext[5], 1.0)
    assert np.all(ext[[0, 1, 4]] < 1e-37)
    # monotone (non-decreasing) on a fine grid
    assert np.all(np.diff(got) >= 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softplus_stable(dtype):
    x = np.concatenate([np.linspace(-50, 50, 1001), [-800.0, 800.0, 0.0]]).astype(dtype)
    got = _softplus_array(x)
    np.testing.assert_allclose(got, ref.softplus(x), rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert np.all(np.isfinite(got))
    assert got[-2] == pytest.approx(800.0) and got[-1] == pytest.approx(np.log(2.0))


# --------------------------------------------------------------------------- conditionals

@pytest.mark.parametrize("dtype", DTYPES)
def test_hidden_probs_binary_by_hand(dtype):
    W = np.array([[1.0, 0.0], [0.0, -1.0]], dtype)
    c = np.array([0.0, 0.5], dtype)
    V = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.uint8)
    HP = np.full((4, 2), np.nan, dtype)
    hidden_probs_binary(V, W, c, HP)
    s = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = [[0.5, s(0.5)], [s(1.0), s(0.5)], [0.5, s(-0.5)], [s(1.0), s(-0.5)]]
    # s(1) = 0.7310585786300049, s(0.5) = 0.6224593312018546, s(-0.5) = 0.3775406687981454
    np.testing.assert_allclose(HP, expected, **TOL[dtype])
    assert HP[3, 0] == pytest.approx(0.7310585786300049, rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hidden_probs_binary_random(dtype):
    rng = np.random.default_rng(1)
    # nv = 23: more than one block of 4 rows in the gather-add, and a remainder.
    W, _, _, c = make_model(2, 23, 19, dtype, scale=2.0)
    V = binary(rng, (37, 23))
    HP = np.empty((37, 19), dtype)
    before = snapshot(V, W, c)
    hidden_probs_binary(V, W, c, HP)
    assert_unchanged(before, (V, W, c))
    np.testing.assert_allclose(HP, ref.hidden_probs(V, W, c), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_hidden_probabilities_and_key_schedule(dtype):
    rng = np.random.default_rng(3)
    B, nv, nh = 41, 23, 19
    W, _, _, c = make_model(4, nv, nh, dtype)
    V = binary(rng, (B, nv))
    betas = rng.choice([0.0, 0.3, 1.0, 2.5], size=B).astype(dtype)
    keys = keys_for(rng, B)
    HP = np.empty((B, nh), dtype)
    H = np.full((B, nh), 7, np.uint8)
    before = snapshot(V, W, c, betas, keys)
    sample_hidden(V, W, c, betas, keys, HP, H)
    assert_unchanged(before, (V, W, c, betas, keys))
    np.testing.assert_allclose(HP, ref.sigmoid(betas[:, None] * (c + V @ W.astype(np.float64))),
                               **TOL[dtype])
    np.testing.assert_array_equal(HP[betas == 0], 0.5)
    # The draw is H = (u < HP) with u = uniform(step_key(key, 0), j).
    U = step_uniforms(keys, 0, nh)
    np.testing.assert_array_equal(H, (U < HP).astype(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_visible_probabilities_and_key_schedule(dtype):
    rng = np.random.default_rng(5)
    B, nv, nh = 41, 19, 23
    W, WT, b, _ = make_model(6, nv, nh, dtype)
    H = binary(rng, (B, nh))
    betas = rng.choice([0.0, 0.3, 1.0, 2.5], size=B).astype(dtype)
    keys = keys_for(rng, B)
    VP = np.empty((B, nv), dtype)
    V = np.full((B, nv), 7, np.uint8)
    before = snapshot(H, WT, b, betas, keys)
    sample_visible(H, WT, b, betas, keys, VP, V)
    assert_unchanged(before, (H, WT, b, betas, keys))
    expected = np.stack([ref.visible_probs(H[s:s + 1], W, b, betas[s])[0] for s in range(B)])
    np.testing.assert_allclose(VP, expected, **TOL[dtype])
    U = step_uniforms(keys, 1, nv)
    np.testing.assert_array_equal(V, (U < VP).astype(np.uint8))


def states_agree_where_no_rounding_can_flip(states, U, P, dtype):
    """``states == (U < P)`` wherever ``|U - P|`` exceeds the dtype's rounding margin, and
    such near-ties are rare (so the check covers nearly every draw)."""
    margin = 1e-5 if dtype == np.float32 else 1e-10
    safe = np.abs(U - P) > margin
    assert safe.mean() > 0.999
    np.testing.assert_array_equal(states[safe], (U < P)[safe].astype(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [1, 7, 40])
def test_top_step_draws_the_label_top_conditional_with_its_keys(dtype, B):
    """T ~ Bernoulli(sigmoid(c + P W + L U)) with the uniforms of step_key(keys[s], step),
    for real label probabilities and one-hot labels, odd and even batches (chains go in
    pairs), 37 top units (a tile and a part)."""
    rng = np.random.default_rng(21)
    nv, nh, C = 29, 37, 4
    W, _, _, c = make_model(22, nv, nh, dtype)
    U = rng.normal(size=(C, nh)).astype(dtype)
    P = binary(rng, (B, nv), 0.3)
    keys = keys_for(rng, B)
    L = rng.dirichlet(np.ones(C), size=B).astype(dtype)
    for labels in (L, np.eye(C, dtype=dtype)[rng.integers(0, C, B)]):
        by_top = transposed_tiles(np.ascontiguousarray(W.T))
        T = np.full((B, nh), 7, np.uint8)
        before = snapshot(P, by_top, c, U, labels, keys)
        top_step(P, by_top, c, U, labels, keys, 3, T)
        assert_unchanged(before, (P, by_top, c, U, labels, keys))
        expected = ref.sigmoid(c.astype(np.float64) + P @ W.astype(np.float64)
                               + labels.astype(np.float64) @ U.astype(np.float64))
        states_agree_where_no_rounding_can_flip(T, step_uniforms(keys, 3, nh), expected,
                                                dtype)
    assert 0.2 < T.mean() < 0.8  # the draws are not all one value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nv, nh", [(29, 37), (32, 48), (5, 3)])
def test_tile_top_weights_writes_both_tiled_copies(dtype, nv, nh):
    """Exactly the NumPy tiled transposes of W and of W^T, zero past the last unit, into
    buffers that held garbage."""
    W = make_model(24, nv, nh, dtype)[0]
    by_pen = np.full(transposed_tiles(W).shape, np.nan, dtype)
    by_top = np.full(transposed_tiles(np.ascontiguousarray(W.T)).shape, np.nan, dtype)
    tile_top_weights(W, by_pen, by_top)
    np.testing.assert_array_equal(by_pen, transposed_tiles(W))
    np.testing.assert_array_equal(by_top, transposed_tiles(np.ascontiguousarray(W.T)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_probs_are_the_softmax_given_the_top(dtype):
    rng = np.random.default_rng(23)
    B, nh, C = 9, 37, 10
    T = binary(rng, (B, nh), 0.2)
    U = (2 * rng.normal(size=(C, nh))).astype(dtype)
    d = rng.normal(size=C).astype(dtype)
    L = np.empty((B, C), dtype)
    label_probs(T, U, d, L)
    z = d.astype(np.float64) + T @ U.T.astype(np.float64)
    expected = np.exp(z - ref.logsumexp(z, axis=1)[:, None])
    np.testing.assert_allclose(L, expected, **TOL[dtype])
    np.testing.assert_allclose(L.sum(axis=1), 1, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_with_saturated_probabilities_is_deterministic(dtype):
    """|pre-activation| >= 1000: P is exactly 0 or 1 in float64 (exp overflows), and
    1.6e-38 or 1 in float32 (its exp is clamped at 87), so every key must give the
    same states (a uniform in [0, 1) with 53 bits is never below 1.6e-38 unless 0)."""
    rng = np.random.default_rng(7)
    B, nv, nh = 64, 9, 6
    W = (2000.0 * (2 * rng.integers(0, 2, (nv, nh)) - 1)).astype(dtype)
    WT = transposed_tiles(W)
    b = (1000.0 * (2 * rng.integers(0, 2, nv) - 1)).astype(dtype)
    c = (1000.0 * (2 * rng.integers(0, 2, nh) - 1)).astype(dtype)
    V = binary(rng, (B, nv), 0.5)
    H_in = binary(rng, (B, nh), 0.5)
    betas = np.ones(B, dtype)
    pre_h = c.astype(np.float64) + V @ W.astype(np.float64)  # odd multiples of 1000: never 0
    pre_v = b.astype(np.float64) + H_in @ W.T.astype(np.float64)
    for trial in range(3):
        keys = keys_for(rng, B)
        HP = np.empty((B, nh), dtype)
        H = np.empty((B, nh), np.uint8)
        sample_hidden(V, W, c, betas, keys, HP, H)
        np.testing.assert_array_equal(H, (pre_h > 0).astype(np.uint8))
        np.testing.assert_allclose(HP, (pre_h > 0).astype(np.float64), rtol=0, atol=1e-30)
        VP = np.empty((B, nv), dtype)
        Vout = np.empty((B, nv), np.uint8)
        sample_visible(H_in, WT, b, betas, keys, VP, Vout)
        np.testing.assert_array_equal(Vout, (pre_v > 0).astype(np.uint8))
        np.testing.assert_allclose(VP, (pre_v > 0).astype(np.float64), rtol=0, atol=1e-30)
        if dtype == np.float64:  # exactly 0 and 1 in float64
            assert set(np.unique(HP)) <= {0.0, 1.0} and set(np.unique(VP)) <= {0.0, 1.0}


# --------------------------------------------------------------------------- Gibbs sweeps

def gibbs_reference(V, W, b, c, betas, keys, n_steps, clamp=None):
    """NumPy re-implementation of gibbs_sweeps with the documented uniforms:
    step t draws h from step_key(key, 2t) and v from step_key(key, 2t + 1)."""
    V = V.copy()
    B, nv = V.shape
    nh = W.shape[1]
    beta = np.asarray(betas, np.float64)[:, None]
    HP_first = ref.sigmoid(beta * (c + V @ W.astype(np.float64)))
    ties = []
    for t in range(n_steps):
        hp = ref.sigmoid(beta * (c + V @ W.astype(np.float64)))
        Uh = step_uniforms(keys, 2 * t, nh)
        H = (Uh < hp).astype(np.uint8)
        vp = ref.sigmoid(beta * (b + H @ W.T.astype(np.float64)))
        Uv = step_uniforms(keys, 2 * t + 1, nv)
        new = (Uv < vp).astype(np.uint8)
        ties += [no_flip_risk(Uh, hp), no_flip_risk(Uv, vp)]
        V = new if clamp is None else np.where(clamp != 0, V, new)
    HP_last = ref.sigmoid(beta * (c + V @ W.astype(np.float64)))
    return V, HP_first, HP_last, all(ties)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_zero_steps(dtype):
    rng = np.random.default_rng(8)
    B, nv, nh = 10, 7, 5
    W, WT, b, c = make_model(9, nv, nh, dtype)
    V = binary(rng, (B, nv))
    V0 = V.copy()
    betas = np.linspace(0, 2, B).astype(dtype)
    HP_first = np.empty((B, nh), dtype)
    HP_last = np.empty((B, nh), dtype)
    gibbs_sweeps(V, W, WT, b, c, betas, keys_for(rng, B), 0, np.zeros((0, nv), np.uint8),
                 HP_first, HP_last)
    np.testing.assert_array_equal(V, V0)
    expected = ref.sigmoid(betas[:, None] * (c + V @ W.astype(np.float64)))
    np.testing.assert_allclose(HP_last, expected, **TOL[dtype])
    np.testing.assert_array_equal(HP_first, HP_last)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_matches_reference_with_documented_keys(dtype):
    rng = np.random.default_rng(10)
    B, nv, nh, n_steps = 40, 21, 18, 4
    W, WT, b, c = make_model(11, nv, nh, dtype)
    V = binary(rng, (B, nv))
    betas = rng.choice([0.0, 0.5, 1.0, 1.5], size=B).astype(dtype)
    keys = keys_for(rng, B)
    exp_V, exp_first, exp_last, safe = gibbs_reference(V, W, b, c, betas, keys, n_steps)
    assert safe, "seed gives a near-tie u ~ p; pick another seed"
    HP_first = np.empty((B, nh), dtype)
    HP_last = np.empty((B, nh), dtype)
    before = snapshot(W, WT, b, c, betas, keys)
    gibbs_sweeps(V, W, WT, b, c, betas, keys, n_steps, np.zeros((0, nv), np.uint8),
                 HP_first, HP_last)
    assert_unchanged(before, (W, WT, b, c, betas, keys))
    np.testing.assert_array_equal(V, exp_V)
    np.testing.assert_allclose(HP_first, exp_first, **TOL[dtype])
    np.testing.assert_allclose(HP_last, exp_last, **TOL[dtype])
    # skipping HP_first changes nothing else
    V2 = binary(np.random.default_rng(10), (B, nv))
    HP_last2 = np.empty((B, nh), dtype)
    gibbs_sweeps(V2, W, WT, b, c, betas, keys, n_steps, np.zeros((0, nv), np.uint8),
                 np.zeros((0, nh), dtype), HP_last2)
    np.testing.assert_array_equal(V2, V)
    np.testing.assert_array_equal(HP_last2, HP_last)


def test_model_and_kernels_agree_on_the_tile_width():
    """rbmcli.models.rbm keeps its own copy of the tile width (importing kernels would load
    Numba when a model is loaded); the two must not drift apart."""
    import rbmcli.kernels.intrinsics.tiles
    import rbmcli.models.rbm
    assert rbmcli.models.rbm.TILE == rbmcli.kernels.intrinsics.tiles.TILE


@numba.njit
def _tile_pair_sums(tile, lists, counts, bias, col):
    out = np.full((2, lists.shape[0], bias.shape[0]), np.nan, tile.dtype)
    for p in range(lists.shape[0]):
        tile_pair_gather(tile, lists[p], counts[p], bias, col, out[0, p], out[1, p])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_pair_gather_sums_the_listed_rows(dtype):
    """For each pair, bias[col:col + 16] + the rows of the shared list and of each
    chain's own list, written at col only, for lists of every length around the
    four-way unrolling (0 to 9 rows) and long ones, with repeated rows."""
    rng = np.random.default_rng(41)
    tile = rng.standard_normal((37, 16)).astype(dtype)
    bias = rng.standard_normal(48).astype(dtype)
    counts = np.array([[a, b, c] for a in (0, 3, 9, 37) for b in range(10)
                       for c in (0, 1, 5, 120)])
    lists = rng.integers(0, 37, (len(counts), 3, 120)).astype(np.int32)
    got = _tile_pair_sums(tile, lists, counts, bias, 16)
    for p, (m0, m1, m2) in enumerate(counts):
        shared = bias[16:32].astype(np.float64) + tile[lists[p, 0, :m0]].astype(np.float64).sum(0)
        for side, (own, m) in enumerate(((1, m1), (2, m2))):
            expected = shared + tile[lists[p, own, :m]].astype(np.float64).sum(0)
            # rounding grows with the number of rows added (up to 157 here)
            atol = TOL[dtype]["atol"] * max(1.0, (m0 + m) / 10)
            np.testing.assert_allclose(got[side, p, 16:32], expected,
                                       rtol=TOL[dtype]["rtol"], atol=atol)
            assert np.isnan(got[side, p, :16]).all() and np.isnan(got[side, p, 32:]).all()


@pytest.mark.parametrize("B, n", [(1, 20), (7, 64), (10, 130), (9, 500)])
def test_pair_lists_split_each_pair_into_shared_and_own_units(B, n):
    """Per pair of chains (the last one alone when B is odd): the units both have on,
    the first only, the second only, in increasing order (states other than 0/1
    count as on)."""
    from rbmcli.kernels.rbm.halfsteps import pair_lists
    rng = np.random.default_rng(B * n)
    H = ((rng.random((B, n)) < 0.35) * rng.integers(1, 256, (B, n))).astype(np.uint8)
    n_pairs = (B + 1) // 2
    lists = np.full((n_pairs, 3, n + 64), -1, np.int32)
    counts = np.zeros((n_pairs, 3), np.int64)
    pair_lists(H, lists, counts)
    for p in range(n_pairs):
        a = H[2 * p] != 0
        b = H[2 * p + 1] != 0 if 2 * p + 1 < B else np.zeros(n, bool)
        for k, expected in enumerate((a & b, a & ~b, b & ~a)):
            assert counts[p, k] == expected.sum()
            np.testing.assert_array_equal(lists[p, k, :counts[p, k]], np.flatnonzero(expected))


@numba.njit
def _strip_sums(rows, idx, counts):
    mat = aligned_matrix(rows.shape[0], strip_cols(rows.shape[1], rows), rows)
    mat[:, :rows.shape[1]] = rows
    mat[:, rows.shape[1]:] = 0
    out = np.full((idx.shape[0], mat.shape[1]), np.nan, rows.dtype)
    for s in range(idx.shape[0]):
        for col in range(0, mat.shape[1], strip_cols(1, mat)):
            strip_sum(mat, idx[s], counts[s], col, out[s])
    return out, mat.ctypes.data % 64, mat.shape[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 32, 64, 65, 500])
def test_strip_sum_sums_the_listed_rows(dtype, n_cols):
    """Strip by strip (64 float32 or 32 float64 columns), the sum of the listed rows,
    for lists of 0 to 5 rows (around the two-row unrolling), a long one with repeated
    rows, and row lengths that are and are not whole strips; the scratch matrix is
    64-byte aligned and its padding columns sum to zero."""
    rng = np.random.default_rng(n_cols)
    rows = rng.standard_normal((37, n_cols)).astype(dtype)
    counts = np.array([0, 1, 2, 3, 4, 5, 37, 90])
    idx = rng.integers(0, 37, (len(counts), 90)).astype(np.int32)
    got, misalignment, padded = _strip_sums(rows, idx, counts)
    per_strip = 256 // np.dtype(dtype).itemsize
    assert misalignment == 0
    assert padded == -(-n_cols // per_strip) * per_strip
    for s, m in enumerate(counts):
        expected = rows[idx[s, :m]].astype(np.float64).sum(0)
        np.testing.assert_allclose(got[s, :n_cols], expected, **TOL[dtype])
        assert (got[s, n_cols:] == 0).all()


@numba.njit
def _transpose_in_blocks(W, WT, block):
    for i0 in range(0, W.shape[0], block):
        copy_transposed(W, WT, i0, min(W.shape[0], i0 + block))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nv, nh, block", [(784, 500, 16), (21, 18, 16), (7, 5, 16),
                                           (33, 64, 8), (16, 16, 16), (50, 9, 16),
                                           (17, 31, 5)])
def test_copy_transposed_is_exact(dtype, nv, nh, block):
    """The 8 x 8 register-tile transpose (float32) and the element loop (float64, and
    the edges) write exactly W.T into the 16-unit tiles, for shapes and blocks that
    are and are not multiples of the tiles, and nothing past the last visible unit."""
    W = np.random.default_rng(nv * nh).standard_normal((nv, nh)).astype(dtype)
    WT = np.full(((nv + 15) // 16, nh, 16), np.nan, dtype)
    _transpose_in_blocks(W, WT, block)
    np.testing.assert_array_equal(untiled(WT, nv), W)
    assert np.isnan(WT.transpose(0, 2, 1).reshape(-1, nh)[nv:]).all()


@numba.njit
def _lists(rows, prevs):
    n = rows.shape[1]
    out = np.full((rows.shape[0], 4, n), -1, np.int32)
    counts = np.zeros((rows.shape[0], 4), np.int64)
    for s in range(rows.shape[0]):
        counts[s, 0] = active_units(rows[s], out[s, 0])
        counts[s, 1], counts[s, 2], counts[s, 3] = changed_units(rows[s], prevs[s], out[s, 1],
                                                                 out[s, 2], out[s, 3])
    return out, counts  # per row: active_units; changed_units' active, on, off


@pytest.mark.parametrize("n", [0, 1, 15, 63, 64, 65, 128, 200, 784])
@pytest.mark.parametrize("density", [0.0, 0.13, 0.5, 1.0])
def test_active_and_changed_unit_lists(n, density):
    """The index lists (64-unit masks and vector compress where the CPU has AVX-512,
    a scalar loop for the rest) equal np.flatnonzero, for lengths below, at and past
    multiples of 64, empty and full rows, and states other than 0/1 (any non-zero
    byte counts as on). Entries past a list's length may be overwritten (slack), but
    never past the row's length."""
    rng = np.random.default_rng(n + int(100 * density))
    rows = (rng.random((6, n)) < density) * rng.integers(1, 256, (6, n))
    prevs = np.where(rng.random((6, n)) < 0.2, rng.integers(0, 2, (6, n)), rows)
    rows, prevs = rows.astype(np.uint8), prevs.astype(np.uint8)
    out, counts = _lists(rows, prevs)
    for s in range(6):
        on, was_on = rows[s] != 0, prevs[s] != 0
        active = np.flatnonzero(on)
        for k, expected in enumerate((active, active, np.flatnonzero(on & ~was_on),
                                      np.flatnonzero(was_on & ~on))):
            assert counts[s, k] == len(expected)
            np.testing.assert_array_equal(out[s, k, :counts[s, k]], expected)


HASWELL = dict(NUMBA_CPU_NAME="haswell",
               NUMBA_CPU_FEATURES="+64bit,+cmov,+cx16,+mmx,+sse,+sse2,+sse3,+ssse3,+sse4.1,"
                                  "+sse4.2,+popcnt,+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt,"
                                  "+movbe")
"""Numba told to compile for a CPU with AVX2 but no AVX-512."""


def test_list_kernels_without_avx512(tmp_path):
    """The portable paths of kernels/_masks.py (taken on CPUs without AVX-512, where
    VECTOR_MASKS is False), and the vector intrinsics of _tiles.py, _strips.py and
    _transpose.py compiled for AVX2, pass the same tests: they run in a subprocess whose Numba
    targets Haswell, with a fresh cache."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), **HASWELL)
    probe = subprocess.run([sys.executable, "-c",
                            "import rbmcli.kernels.intrinsics.masks as m; print(m.VECTOR_MASKS)"],
                           env=env, cwd=ROOT, capture_output=True, text=True)
    assert probe.stdout.strip() == "False", probe.stderr
    tests = ("test_active_and_changed_unit_lists or test_unit_masks or test_apply_update "
             "or test_hidden_step or test_tile_pair_gather or test_pair_lists "
             "or test_copy_transposed "
             "or test_strip_sum "
             "or test_gibbs_matches_reference")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(Path(__file__)), "-k", tests], env=env, cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "deselected" in run.stdout


@pytest.mark.parametrize("b_pos, b_neg, nv", [(130, 70, 150), (64, 1, 64), (5, 5, 20)])
def test_unit_masks_are_the_transposed_states(b_pos, b_neg, nv):
    """The update's per-unit sample masks (a 64 x 64 bit transpose of per-sample masks):
    bit t of U[i, w] is V[64 w + t, i] != 0, and the bits past the batch are clear."""
    from rbmcli.kernels.rbm.gradients import _unit_masks
    rng = np.random.default_rng(b_pos + nv)
    V_pos = ((rng.random((b_pos, nv)) < 0.3) * rng.integers(1, 3, (b_pos, nv))).astype(np.uint8)
    V_neg = binary(rng, (b_neg, nv))
    n_rows = 64 * ((nv + 63) // 64)
    U_pos = np.empty((n_rows, (b_pos + 63) // 64), np.uint64)
    U_neg = np.empty((n_rows, (b_neg + 63) // 64), np.uint64)
    _unit_masks(V_pos, V_neg, U_pos, U_neg)
    for V, U in ((V_pos, U_pos), (V_neg, U_neg)):
        bits = (U[:nv, :, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        bits = bits.reshape(nv, -1)  # (nv, 64 n_words): sample 64 w + t
        np.testing.assert_array_equal(bits[:, :len(V)], (V != 0).T)
        assert not bits[:, len(V):].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("B", [1, 2, 7, 30])
def test_hidden_step_fresh_sum_in_pairs(dtype, B):
    """The fresh sum, two chains at a time (shared rows added once), gives c + V W for
    every chain, the last one alone when B is odd, including pairs of identical and
    of empty rows; the states are Bernoulli draws of the probabilities."""
    from rbmcli.kernels.rbm.halfsteps import hidden_step
    rng = np.random.default_rng(B)
    nv, nh = 150, 37
    W, _, _, c = make_model(14, nv, nh, dtype)
    V = binary(rng, (B, nv))
    if B >= 7:
        V[3] = V[2]
        V[4:6] = 0
    A = np.full((B, nh), np.nan, dtype)
    HP = np.empty((B, nh), dtype)
    H = np.empty((B, nh), np.uint8)
    hidden_step(V, V, W, c, np.ones(B, dtype), keys_for(rng, B), 0, A, HP, H, False)
    expected = c + V @ W.astype(np.float64)
    np.testing.assert_allclose(A, expected, rtol=TOL[dtype]["rtol"], atol=20 * TOL[dtype]["atol"])
    np.testing.assert_allclose(HP, ref.sigmoid(expected), **TOL[dtype])
    assert set(np.unique(H)) <= {0, 1}
    assert not H[HP < 1e-6].any() and H[HP > 1 - 1e-6].all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("flip", [0.0, 0.05, 0.6])
def test_hidden_step_incremental_matches_fresh_sum(dtype, flip):
    """Pre-activations carried over from V_prev and updated from the changed units
    (few changes: the incremental path, turning units both on and off; many: the
    fresh sum) equal c + V W; so do the probabilities."""
    from rbmcli.kernels.rbm.halfsteps import hidden_step
    rng = np.random.default_rng(12)
    B, nv, nh = 30, 64, 37
    W, _, _, c = make_model(13, nv, nh, dtype)
    V_prev = binary(rng, (B, nv))
    flips = rng.random((B, nv)) < flip
    V = np.where(flips, 1 - V_prev, V_prev).astype(np.uint8)
    A = (c + V_prev @ W.astype(np.float64)).astype(dtype)
    HP = np.empty((B, nh), dtype)
    hidden_step(V, V_prev, W, c, np.ones(B, dtype), keys_for(rng, B), 0, A, HP,
                np.empty((0, nh), np.uint8), True)
    expected = c + V @ W.astype(np.float64)
    np.testing.assert_allclose(A, expected, rtol=TOL[dtype]["rtol"], atol=20 * TOL[dtype]["atol"])
    np.testing.assert_allclose(HP, ref.sigmoid(expected), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_one_step_is_sample_hidden_then_sample_visible(dtype):
    rng = np.random.default_rng(12)
    B, nv, nh = 30, 11, 9
    W, WT, b, c = make_model(13, nv, nh, dtype)
    V = binary(rng, (B, nv))
    betas = np.full(B, 0.8, dtype)
    keys = keys_for(rng, B)
    HP, H = np.empty((B, nh), dtype), np.empty((B, nh), np.uint8)
    VP, V1 = np.empty((B, nv), dtype), np.empty((B, nv), np.uint8)
    sample_hidden(V, W, c, betas, keys, HP, H)
    sample_visible(H, WT, b, betas, keys, VP, V1)
    HP_first, HP_last = np.empty((B, nh), dtype), np.empty((B, nh), dtype)
    Vg = V.copy()
    gibbs_sweeps(Vg, W, WT, b, c, betas, keys, 1, np.zeros((0, nv), np.uint8), HP_first, HP_last)
    np.testing.assert_array_equal(Vg, V1)
    np.testing.assert_allclose(HP_first, HP, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_gibbs_clamp(dtype):
    rng = np.random.default_rng(14)
    B, nv, nh, n_steps = 40, 13, 7, 6
    W, WT, b, c = make_model(15, nv, nh, dtype, scale=1.5)
    V = binary(rng, (B, nv))
    clamp = binary(rng, (B, nv), 0.5)
    clamp[0] = 0  # row 0 clamps nothing, row 1 clamps everything
    betas = np.ones(B, dtype)
    keys = keys_for(rng, B)
    exp_V, _, exp_last, safe = gibbs_reference(V, W, b, c, betas, keys, n_steps, clamp)
    assert safe
    V0 = V.copy()
    clamp0 = clamp.copy()
    HP_last = np.empty((B, nh), dtype)
    gibbs_sweeps(V, W, WT, b, c, betas, keys, n_steps, clamp, np.zeros((0, nh), dtype), HP_last)
    np.testing.assert_array_equal(clamp, clamp0)
    np.testing.assert_array_equal(V[clamp != 0], V0[clamp != 0])
    np.testing.assert_array_equal(V[1], V0[1])
    np.testing.assert_array_equal(V, exp_V)
    np.testing.assert_allclose(HP_last, exp_last, **TOL[dtype])
    # an all-zero (B, nv) clamp behaves exactly like no clamp
    Va, Vb = V0.copy(), V0.copy()
    HPa, HPb = np.empty((B, nh), dtype), np.empty((B, nh), dtype)
    gibbs_sweeps(Va, W, WT, b, c, betas, keys, n_steps, np.zeros((B, nv), np.uint8),
                 np.zeros((0, nh), dtype), HPa)
    gibbs_sweeps(Vb, W, WT, b, c, betas, keys, n_steps, np.zeros((0, nv), np.uint8),
                 np.zeros((0, nh), dtype), HPb)
    np.testing.assert_array_equal(Va, Vb)
    np.testing.assert_array_equal(HPa, HPb)


# --------------------------------------------------------------------------- free energy

@pytest.mark.parametrize("dtype", DTYPES)
def test_free_energy_by_hand(dtype):
    # nv = 2, nh = 1, W = [[2], [-1]], b = [0.5, -0.25], c = [0.1]
    W = np.array([[2.0], [-1.0]], dtype)
    b = np.array([0.5, -0.25], dtype)
    c = np.array([0.1], dtype)
    V = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.uint8)
    out = np.empty(4)
    free_energy_binary(V, W, b, c, dtype(1.0), out)
    sp = lambda x: np.log1p(np.exp(x))  # noqa: E731
    c0, b0, b1 = float(c[0]), float(b[0]), float(b[1])  # the values as stored in dtype
    expected = [-sp(c0), -b0 - sp(c0 + 2), -b1 - sp(c0 - 1), -b0 - b1 - sp(c0 + 1)]
    np.testing.assert_allclose(out, expected, **TOL[dtype])
    free_energy_binary(V, W, b, c, dtype(0.0), out)
    np.testing.assert_allclose(out, -np.log(2.0), rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [1.0, 0.37, 0.0, 2.0])
def test_free_energy_binary_random(dtype, beta):
    rng = np.random.default_rng(16)
    W, _, b, c = make_model(17, 23, 19, dtype, scale=2.0)
    V = binary(rng, (33, 23))
    out = np.full(33, np.nan)
    before = snapshot(V, W, b, c)
    free_energy_binary(V, W, b, c, dtype(beta), out)
    assert_unchanged(before, (V, W, b, c))
    np.testing.assert_allclose(out, ref.free_energy(V, W, b, c, beta), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_free_energy_from_preactivation(dtype):
    rng = np.random.default_rng(18)
    W, _, b, c = make_model(19, 23, 19, dtype, scale=2.0)
    X = rng.random((33, 23)).astype(dtype)  # real-valued visible vectors
    A = (c.astype(np.float64) + X.astype(np.float64) @ W.astype(np.float64)).astype(dtype)
    out = np.full(33, np.nan)
    before = snapshot(X, A, b)
    for beta in (1.0, 0.5):
        free_energy_from_preactivation(X, A, b, dtype(beta), out)
        assert_unchanged(before, (X, A, b))
        np.testing.assert_allclose(out, ref.free_energy(X, W, b, c, beta), **TOL[dtype])
    # binary V: both kernels agree
    V = binary(rng, (33, 23))
    A = np.ascontiguousarray((c + V.astype(dtype) @ W).astype(dtype))
    o1, o2 = np.empty(33), np.empty(33)
    free_energy_binary(V, W, b, c, dtype(1.0), o1)
    free_energy_from_preactivation(V.astype(dtype), A, b, dtype(1.0), o2)
    np.testing.assert_allclose(o1, o2, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_softplus_sums(dtype):
    """sum_j softplus(A + U_k) against NumPy's logaddexp in float64, huge inputs included."""
    rng = np.random.default_rng(21)
    A = (4 * rng.standard_normal((37, 29))).astype(dtype)
    A[0, :3] = [800, -800, 0]
    U = (3 * rng.standard_normal((5, 29))).astype(dtype)
    out = np.full((37, 5), np.nan)
    before = snapshot(A, U)
    label_softplus_sums(A, U, out)
    assert_unchanged(before, (A, U))
    want = np.logaddexp(0.0, A.astype(np.float64)[:, None, :]
                        + U.astype(np.float64)[None]).sum(axis=2)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_free_energy_huge_preactivations_finite(dtype):
    W = np.array([[1000.0, -1000.0]], dtype)
    b = np.zeros(1, dtype)
    c = np.zeros(2, dtype)
    V = np.array([[0], [1]], np.uint8)
    out = np.empty(2)
    free_energy_binary(V, W, b, c, dtype(1.0), out)
    # F(0) = -2 log 2; F(1) = -softplus(1000) - softplus(-1000) = -1000 - ~0
    np.testing.assert_allclose(out, [-2 * np.log(2.0), -1000.0], rtol=1e-12)


# --------------------------------------------------------------------------- tempering

@pytest.mark.parametrize("dtype", DTYPES)
def test_pt_sweep(dtype):
    rng = np.random.default_rng(20)
    R, nv, nh = 48, 17, 11
    W, WT, b, c = make_model(21, nv, nh, dtype)
    V = binary(rng, (R, nv))
    H = binary(rng, (R, nh))
    H0 = H.copy()
    betas = np.repeat(np.array([1.0, 0.7, 0.4, 0.1], dtype), R // 4)
    keys = keys_for(rng, R)
    E = np.full(R, np.nan)
    HP = np.empty((R, nh), dtype)
    before = snapshot(W, WT, b, c, betas, keys)
    pt_sweep(V, H, W, WT, b, c, betas, keys, E, HP)
    assert_unchanged(before, (W, WT, b, c, betas, keys))
    beta = betas[:, None].astype(np.float64)
    # v first, from step_key(key, 0); then h from step_key(key, 1)
    vp = ref.sigmoid(beta * (b + H0 @ W.T.astype(np.float64)))
    Uv = step_uniforms(keys, 0, nv)
    assert no_flip_risk(Uv, vp)
    np.testing.assert_array_equal(V, (Uv < vp).astype(np.uint8))
    np.testing.assert_allclose(HP, ref.sigmoid(beta * (c + V @ W.astype(np.float64))), **TOL[dtype])
    Uh = step_uniforms(keys, 1, nh)
    np.testing.assert_array_equal(H, (Uh < HP).astype(np.uint8))
    # E is the *untempered* energy of the new joint state
    np.testing.assert_allclose(E, ref.energy(V, H, W, b, c), **TOL[dtype])


def _pt_state(rng, K, C, nv, nh):
    V = binary(rng, (K * C, nv), 0.5)
    H = binary(rng, (K * C, nh), 0.5)
    return V, H


@pytest.mark.parametrize("parity", [0, 1])
def test_pt_swap_forced_and_forbidden(parity):
    """Pairs (k, k+1) with k % 2 == parity: huge positive log-ratio must swap, huge
    negative must not; pairs of the other parity are not touched."""
    rng = np.random.default_rng(22 + parity)
    K, C, nv, nh = 4, 5, 6, 3
    betas = np.array([1.0, 0.7, 0.4, 0.1])
    V, H = _pt_state(rng, K, C, nv, nh)
    E = np.zeros(K * C)
    forced = {}
    for k in range(parity, K - 1, 2):
        for i in range(C):
            r0, r1 = k * C + i, (k + 1) * C + i
            force = (i + k) % 2 == 0
            forced[(k, i)] = force
            # log_ratio = (beta_k - beta_k+1) * (E_k - E_k+1) = +-0.3 * 2000 = +-600
            E[r0], E[r1] = (1000.0, -1000.0) if force else (-1000.0, 1000.0)
    V0, H0, E0 = V.copy(), H.copy(), E.copy()
    accepted = np.zeros(K - 1, np.int64)
    attempted = np.full(K - 1, 3, np.int64)  # counters are incremented, not reset
    pt_swap_pass(V, H, E, betas, C, np.uint64(12345), parity, accepted, attempted)
    perm = np.arange(K * C)
    for (k, i), force in forced.items():
        if force:
            r0, r1 = k * C + i, (k + 1) * C + i
            perm[r0], perm[r1] = r1, r0
    np.testing.assert_array_equal(V, V0[perm])
    np.testing.assert_array_equal(H, H0[perm])
    np.testing.assert_array_equal(E, E0[perm])
    exp_att = np.full(K - 1, 3)
    exp_acc = np.zeros(K - 1, np.int64)
    for (k, i), force in forced.items():
        exp_att[k] += 1
        exp_acc[k] += force
    np.testing.assert_array_equal(attempted, exp_att)
    np.testing.assert_array_equal(accepted, exp_acc)


def test_pt_swap_acceptance_formula_with_its_uniforms():
    """Random energies: a swap of (k, i) happens iff
    log_ratio >= 0 or uniform(key, i*K + k) < exp(log_ratio),
    log_ratio = (beta_k - beta_{k+1}) * (E_k - E_{k+1}); applied to parity 0 then 1."""
    rng = np.random.default_rng(24)
    K, C, nv, nh = 4, 300, 5, 3
    betas = np.array([1.0, 0.7, 0.4, 0.1])
    V, H = _pt_state(rng, K, C, nv, nh)
    E = rng.normal(0, 3, K * C)
    acc = np.zeros(K - 1, np.int64)
    att = np.zeros(K - 1, np.int64)
    for parity, key in ((0, np.uint64(99)), (1, np.uint64(2 ** 63 + 7))):
        eV, eH, eE = V.copy(), H.copy(), E.copy()
        exp_acc = acc.copy()
        for k in range(parity, K - 1, 2):
            U = _uniforms_at(key, np.arange(C) * K + k)
            for i in range(C):
                r0, r1 = k * C + i, (k + 1) * C + i
                lr = (betas[k] - betas[k + 1]) * (eE[r0] - eE[r1])
                if lr >= 0 or U[i] < np.exp(lr):
                    exp_acc[k] += 1
                    for arr in (eV, eH, eE):
                        arr[[r0, r1]] = arr[[r1, r0]]
        pt_swap_pass(V, H, E, betas, C, key, parity, acc, att)
        np.testing.assert_array_equal(V, eV)
        np.testing.assert_array_equal(H, eH)
        np.testing.assert_array_equal(E, eE)
        np.testing.assert_array_equal(acc, exp_acc)
    np.testing.assert_array_equal(att, [C, C, C])
    assert 0 < acc.sum() < att.sum()


def test_pt_swap_acceptance_rate():
    """log_ratio = log(0.3) everywhere: accepted fraction 0.3 within 5 standard errors."""
    K, C = 2, 20000
    betas = np.array([1.0, 0.5])
    d = np.log(0.3) / 0.5  # E_0 - E_1
    E = np.concatenate([np.full(C, d), np.zeros(C)])
    V = np.zeros((K * C, 1), np.uint8)
    H = np.zeros((K * C, 1), np.uint8)
    acc = np.zeros(1, np.int64)
    att = np.zeros(1, np.int64)
    pt_swap_pass(V, H, E, betas, C, np.uint64(2024), 0, acc, att)
    assert att[0] == C
    se = np.sqrt(0.3 * 0.7 / C)
    assert abs(acc[0] / C - 0.3) < 5 * se


# --------------------------------------------------------------------------- gradients

PLAIN = {dt: (np.zeros(0, dt), np.zeros(0, dt)) for dt in (np.float32, np.float64)}
"""The offsets that ask apply_update for the plain (uncentered) gradient."""


def centered_update_reference(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, l1, mu, lam):
    """The centered step, computed in centered coordinates and mapped back (float64):
    G = <(v-mu)(h-lam)^T>+ - <(v-mu)(h-lam)^T>- - priors; gb = g_b - G lam;
    gc = g_c - G^T mu."""
    W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, mu, lam = ref._f64(
        W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, mu, lam)
    lr, mom, l2, l1 = map(float, (lr, mom, l2, l1))
    G = ((Vp - mu).T @ (HPp - lam) / len(Vp) - (Vn - mu).T @ (HPn - lam) / len(Vn)
         - l2 * W - l1 * np.sign(W))
    gb = Vp.mean(0) - Vn.mean(0) - G @ lam
    gc = HPp.mean(0) - HPn.mean(0) - G.T @ mu
    vW, vb, vc = mom * vW + lr * G, mom * vb + lr * gb, mom * vc + lr * gc
    return W + vW, b + vb, c + vc, vW, vb, vc


def update_reference(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, l1):
    """The formula of apply_update's docstring, in float64."""
    W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn = ref._f64(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn)
    lr, mom, l2, l1 = map(float, (lr, mom, l2, l1))
    gW = Vp.T @ HPp / len(Vp) - Vn.T @ HPn / len(Vn) - l2 * W - l1 * np.sign(W)
    gb = Vp.mean(0) - Vn.mean(0)
    gc = HPp.mean(0) - HPn.mean(0)
    vW = mom * vW + lr * gW
    vb = mom * vb + lr * gb
    vc = mom * vc + lr * gc
    return W + vW, b + vb, c + vc, vW, vb, vc


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1", [0.0, 0.01])
@pytest.mark.parametrize("Bp, Bn", [(25, 19), (25, 25), (130, 70), (100, 100)])
def test_apply_update(dtype, l1, Bp, Bn):
    """Unpaired (B+ != B-) and paired batches, with and without the L1 prior; batches
    of more than 64 samples span several of the 64-bit words that list the samples
    where a unit is on."""
    rng = np.random.default_rng(27)
    nv, nh = 37, 13  # 37 visible units: three blocks of 16, one partial
    W, WT, b, c = make_model(28, nv, nh, dtype)
    W[0, 0] = 0.0  # sign(0) = 0
    WT = transposed_tiles(W)
    vW = (0.01 * rng.normal(size=(nv, nh))).astype(dtype)
    vb = (0.01 * rng.normal(size=nv)).astype(dtype)
    vc = (0.01 * rng.normal(size=nh)).astype(dtype)
    Vp, Vn = binary(rng, (Bp, nv)), binary(rng, (Bn, nv))
    HPp, HPn = rng.random((Bp, nh)).astype(dtype), rng.random((Bn, nh)).astype(dtype)
    lr, mom, l2 = dtype(0.1), dtype(0.5), dtype(0.001)
    expected = update_reference(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, l1)
    before = snapshot(Vp, HPp, Vn, HPn)
    apply_update(W, WT, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, dtype(l1), *PLAIN[dtype])
    assert_unchanged(before, (Vp, HPp, Vn, HPn))
    for got, exp in zip((W, b, c, vW, vb, vc), expected):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, exp, **TOL[dtype])
    assert_tiles_hold(WT, W)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("l1, Bn", [(0.0, 25), (0.01, 25), (0.0, 19)])
def test_apply_update_centered(dtype, l1, Bn):
    """Paired batches (B+ == B-) and unpaired ones, with and without the L1 prior."""
    rng = np.random.default_rng(35)
    nv, nh, B = 37, 13, 25
    W, WT, b, c = make_model(36, nv, nh, dtype)
    vW = (0.01 * rng.normal(size=(nv, nh))).astype(dtype)
    vb = (0.01 * rng.normal(size=nv)).astype(dtype)
    vc = (0.01 * rng.normal(size=nh)).astype(dtype)
    Vp, Vn = binary(rng, (B, nv)), binary(rng, (Bn, nv))
    HPp, HPn = rng.random((B, nh)).astype(dtype), rng.random((Bn, nh)).astype(dtype)
    mu, lam = rng.random(nv).astype(dtype), rng.random(nh).astype(dtype)
    lr, mom, l2 = dtype(0.1), dtype(0.5), dtype(0.001)
    expected = centered_update_reference(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2,
                                         l1, mu, lam)
    plain = update_reference(W, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, l1)
    apply_update(W, WT, b, c, vW, vb, vc, Vp, HPp, Vn, HPn, lr, mom, l2, dtype(l1), mu, lam)
    for got, exp, other in zip((W, b, c, vW, vb, vc), expected, plain):
        np.testing.assert_allclose(got, exp, **TOL[dtype])
        assert not np.allclose(exp, other, **TOL[dtype])      # centering changes the step
    assert_tiles_hold(WT, W)


def test_centered_step_is_the_centered_models_gradient_step():
    """lr = 1, no momentum: mapped to centered coordinates (b' = b + W lam,
    c' = c + W^T mu) the new parameters are the old centered ones plus the centered
    gradient <(v-mu)(h-lam)^T>+ - <...>-, mean(V+) - mean(V-), mean(HP+) - mean(HP-)."""
    rng = np.random.default_rng(37)
    nv, nh = 20, 6
    W, WT, b, c = make_model(38, nv, nh, np.float64)
    mu, lam = rng.random(nv), rng.random(nh)
    W0, bc0, cc0 = W.copy(), b + W @ lam, c + W.T @ mu
    z = lambda *s: np.zeros(s)  # noqa: E731
    Vp, Vn = binary(rng, (8, nv)), binary(rng, (8, nv))
    HPp, HPn = rng.random((8, nh)), rng.random((8, nh))
    apply_update(W, WT, b, c, z(nv, nh), z(nv), z(nh), Vp, HPp, Vn, HPn, 1.0, 0.0, 0.0, 0.0,
                 mu, lam)
    G = (Vp - mu).T @ (HPp - lam) / 8 - (Vn - mu).T @ (HPn - lam) / 8
    np.testing.assert_allclose(W - W0, G, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b + W @ lam - bc0, Vp.mean(0) - Vn.mean(0), atol=1e-12)
    np.testing.assert_allclose(c + W.T @ mu - cc0, HPp.mean(0) - HPn.mean(0), atol=1e-12)


def test_apply_update_plain_gradient_step():
    """lr = 1, no momentum, no priors, zero velocities: the change of W is exactly
    the statistics difference V+^T HP+/B+ - V-^T HP-/B- (float64)."""
    rng = np.random.default_rng(29)
    nv, nh = 20, 6
    W, WT, b, c = make_model(30, nv, nh, np.float64)
    W0, b0, c0 = W.copy(), b.copy(), c.copy()
    z = lambda *s: np.zeros(s)  # noqa: E731
    Vp, Vn = binary(rng, (8, nv)), binary(rng, (5, nv))
    HPp, HPn = rng.random((8, nh)), rng.random((5, nh))
    apply_update(W, WT, b, c, z(nv, nh), z(nv), z(nh), Vp, HPp, Vn, HPn, 1.0, 0.0, 0.0, 0.0,
                 *PLAIN[np.float64])
    np.testing.assert_allclose(W - W0, Vp.T @ HPp / 8 - Vn.T @ HPn / 5, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b - b0, Vp.mean(0) - Vn.mean(0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c - c0, HPp.mean(0) - HPn.mean(0), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- threads

def test_results_do_not_depend_on_thread_count(threads_1_and_2):
    rng = np.random.default_rng(31)
    B, nv, nh = 257, 40, 12
    W, WT, b, c = make_model(32, nv, nh, np.float32)
    V0 = binary(rng, (B, nv))
    betas = rng.choice([0.5, 1.0], size=B).astype(np.float32)
    keys = keys_for(rng, B)
    clamp = binary(rng, (B, nv), 0.3)

    def run_all():
        out = {}
        V = V0.copy()
        HPf, HPl = np.empty((B, nh), np.float32), np.empty((B, nh), np.float32)
        gibbs_sweeps(V, W, WT, b, c, betas, keys, 5, np.zeros((0, nv), np.uint8), HPf, HPl)
        out["gibbs"] = (V, HPf, HPl)
        V = V0.copy()
        HPl = np.empty((B, nh), np.float32)
        gibbs_sweeps(V, W, WT, b, c, betas, keys, 5, clamp, np.zeros((0, nh), np.float32), HPl)
        out["clamped"] = (V, HPl)
        HP, H = np.empty((B, nh), np.float32), np.empty((B, nh), np.uint8)
        sample_hidden(V0, W, c, betas, keys, HP, H)
        VP, V = np.empty((B, nv), np.float32), np.empty((B, nv), np.uint8)
        sample_visible(H, WT, b, betas, keys, VP, V)
        out["sample"] = (HP, H, VP, V)
        HP = np.empty((B, nh), np.float32)
        hidden_probs_binary(V0, W, c, HP)
        F = np.empty(B)
        free_energy_binary(V0, W, b, c, np.float32(0.7), F)
        out["probs"] = (HP, F)
        Vr, Hr = V0.copy(), H.copy()
        E, HP = np.empty(B), np.empty((B, nh), np.float32)
        pt_sweep(Vr, Hr, W, WT, b, c, betas, keys, E, HP)
        out["pt"] = (Vr, Hr, E, HP)
        W2, WT2, b2, c2 = W.copy(), WT.copy(), b.copy(), c.copy()
        vel = [np.full_like(x, 0.01) for x in (W, b, c)]
        apply_update(W2, WT2, b2, c2, *vel, V0, HPl, V, HP, np.float32(0.1), np.float32(0.9),
                     np.float32(1e-3), np.float32(1e-4), *PLAIN[np.float32])
        out["update"] = (W2, WT2, b2, c2, *vel)
        W2, WT2, b2, c2 = W.copy(), WT.copy(), b.copy(), c.copy()
        vel = [np.full_like(x, 0.01) for x in (W, b, c)]
        apply_update(W2, WT2, b2, c2, *vel, V0, HPl, V, HP, np.float32(0.1), np.float32(0.9),
                     np.float32(1e-3), np.float32(1e-4), V0.mean(0).astype(np.float32),
                     HPl.mean(0))
        out["centered"] = (W2, WT2, b2, c2, *vel)
        return out

    one, two = threads_1_and_2(run_all)
    for name in one:
        for x, y in zip(one[name], two[name]):
            np.testing.assert_array_equal(x, y, err_msg=name)


# --------------------------------------------------------------------------- float32 vs float64

def test_float32_agrees_with_float64():
    """Same parameters (rounded to float32 once) in both dtypes: probabilities agree
    within F32_PROB_ATOL, free energies within 1e-5 relative, and one Gibbs step gives
    the same states except where a uniform falls within 1e-5 of its probability."""
    rng = np.random.default_rng(33)
    B, nv, nh = 200, 30, 20
    W32, WT32, b32, c32 = make_model(34, nv, nh, np.float32)
    W64, WT64, b64, c64 = (x.astype(np.float64) for x in (W32, WT32, b32, c32))
    V = binary(rng, (B, nv))
    keys = keys_for(rng, B)
    res = {}
    for dt, (W, WT, b, c) in ((np.float32, (W32, WT32, b32, c32)),
                              (np.float64, (W64, WT64, b64, c64))):
        betas = np.full(B, 0.9, dt)
        HP, H = np.empty((B, nh), dt), np.empty((B, nh), np.uint8)
        sample_hidden(V, W, c, betas, keys, HP, H)
        F = np.empty(B)
        free_energy_binary(V, W, b, c, dt(0.9), F)
        res[dt] = HP, H, F
    HP32, H32, F32 = res[np.float32]
    HP64, H64, F64 = res[np.float64]
    np.testing.assert_allclose(HP32, HP64, rtol=0, atol=F32_PROB_ATOL)
    np.testing.assert_allclose(F32, F64, rtol=1e-5, atol=1e-5)
    U = step_uniforms(keys, 0, nh)
    differ = H32 != H64
    assert np.all(np.abs(U[differ] - HP64[differ]) < 1e-5)
    assert differ.mean() < 1e-3


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_momentum", [True, False])
def test_velocity_step_is_the_momentum_rule(dtype, with_momentum):
    rng = np.random.default_rng(31)
    value, direction, velocity = (rng.normal(size=1001).astype(dtype) for _ in range(3))
    lr, momentum, decay = dtype(0.1), dtype(0.9), dtype(0.01)
    step = lr * (direction.astype(np.float64) - decay * value.astype(np.float64))
    if with_momentum:
        expected_velocity = momentum * velocity.astype(np.float64) + step
        expected = value + expected_velocity
        velocity_step(value, direction, velocity, lr, momentum, decay)
        np.testing.assert_allclose(velocity, expected_velocity, **TOL[dtype])
    else:
        expected = value + step
        velocity_step(value, direction, np.zeros(0, dtype), lr, momentum, decay)
    np.testing.assert_allclose(value, expected, **TOL[dtype])
