"""Flow transforms: kernels against NumPy references, round trips, log|det J| against
the slogdet of a finite-difference Jacobian, hand-written gradients against finite
differences, float32 against float64."""

import numpy as np
import pytest

import flow_reference as ref
from rbmcli.flows.layers import (ActNorm, Composite, Coupling, DiagonalScale, Logit,
                                LULinear, coupling_split)
from rbmcli.flows.maf import MaskedAutoregressive

D, SHAPE, B = 6, (2, 3), 5


def randomize(t, rng):
    """Give every parameter of ``t`` non-trivial values (couplings start at identity)."""
    for name, a in t.params.items():
        a[...] = rng.normal(0, 0.5, a.shape)
        if name == "scale":
            a[...] = 1 + 0.3 * rng.standard_normal(a.shape)
    if "initialized" in t.buffers:
        t.buffers["initialized"][0] = 1
    return t


def make(kind, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "actnorm":
        t = ActNorm(D, dtype)
    elif kind == "diagonal_scale":
        t = DiagonalScale(D, dtype)
    elif kind == "lu_linear":
        t = LULinear(D, dtype, rng)
    elif kind == "affine":
        t = Coupling(D, 1, 7, 2, True, SHAPE, dtype, rng)
    elif kind == "additive":
        t = Coupling(D, 0, 7, 1, False, None, dtype, rng)
    elif kind == "logit":
        return Logit(D, 1e-2, dtype)
    elif kind == "maf":
        t = MaskedAutoregressive(D, 9, 2, True, dtype, rng)
        randomize(t, np.random.default_rng(seed + 100))
        t.load(t.params, t.buffers)  # re-apply the masks after randomising
        return t
    elif kind == "composite":
        parts = [make(k, dtype, seed + i) for i, k in
                 enumerate(["actnorm", "lu_linear", "affine", "maf", "additive",
                            "diagonal_scale"])]
        return Composite(parts)
    return randomize(t, np.random.default_rng(seed + 100))


KINDS = ["actnorm", "diagonal_scale", "lu_linear", "affine", "additive", "logit", "maf",
         "composite"]


def data(kind, n=B, seed=1):
    rng = np.random.default_rng(seed)
    if kind == "logit":
        return rng.uniform(0.05, 0.95, (n, D))
    return rng.normal(0, 1, (n, D))


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_and_inverse_logdet(kind):
    t = make(kind)
    x = data(kind)
    x0 = x.copy()
    y, ld = t.forward(x)
    xr, ldi = t.inverse(y)
    np.testing.assert_array_equal(x, x0)  # inputs are not modified
    np.testing.assert_allclose(xr, x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ldi, -ld, rtol=1e-10, atol=1e-10)
    assert ld.shape == (B,) and y.shape == x.shape


@pytest.mark.parametrize("kind", KINDS)
def test_logabsdet_is_slogdet_of_the_jacobian(kind):
    t = make(kind)
    for x in data(kind, 3):
        jac = ref.jacobian(lambda v: t.forward(v[None])[0][0], x)
        sign, logdet = np.linalg.slogdet(jac)
        assert sign != 0
        np.testing.assert_allclose(t.forward(x[None])[1][0], logdet, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_backward_matches_finite_differences(kind):
    t = make(kind)
    x = data(kind)
    rng = np.random.default_rng(5)
    gy, gld = rng.standard_normal(x.shape), rng.standard_normal(len(x))

    def objective():
        y, ld = t.forward(x)
        return float(np.sum(gy * y) + np.sum(gld * ld))

    y, ld, cache = t.forward_train(x)
    gx, grads = t.backward(cache, gy, gld)
    np.testing.assert_allclose(gx, ref.numerical_gradient(objective, x), rtol=1e-5, atol=1e-6)
    assert set(grads) == set(t.params)
    free = t.free_entries()  # MAF: masked weights are structurally zero
    for name, p in t.params.items():
        num = ref.numerical_gradient(objective, p)
        keep = free.get(name, np.ones(p.shape, bool))
        np.testing.assert_allclose(grads[name][keep], num[keep], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
        assert (grads[name][~keep] == 0).all()
        assert np.abs(num).max() > 0 or name.startswith(("00.lower", "01.lower")), name


@pytest.mark.parametrize("kind", KINDS)
def test_float32_agrees_with_float64(kind):
    t64, t32 = make(kind, np.float64), make(kind, np.float32)
    for name in t64.params:
        t32.params[name][...] = t64.params[name]
    x = data(kind)
    y64, ld64 = t64.forward(x)
    y32, ld32 = t32.forward(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(ld32, ld64, rtol=2e-4, atol=2e-4)
    x32, _ = t32.inverse(y32)
    np.testing.assert_allclose(x32, x, rtol=1e-3, atol=1e-3)


def test_kernels_match_numpy_references():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, D))
    a = make("actnorm")
    np.testing.assert_allclose(a.forward(x)[0], ref.scale_shift(x, a.params["shift"],
                                                                  a.params["logscale"]))
    c = make("affine")
    ia, ib = c.buffers["idx_a"], c.buffers["idx_b"]
    h = ref.mlp(x[:, ia], c.params, 3)
    yb, ld = ref.affine_coupling(x[:, ib], h, c.params["scale"])
    y, ld_k = c.forward(x)
    np.testing.assert_allclose(y[:, ib], yb, rtol=1e-12)
    np.testing.assert_allclose(y[:, ia], x[:, ia])
    np.testing.assert_allclose(ld_k, ld, rtol=1e-12)
    u = rng.uniform(0, 1, (B, D))
    lg = Logit(D, 1e-6)
    for got, want in zip(lg.forward(u), ref.logit(u, 1e-6)):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    y = rng.normal(0, 8, (B, D))
    for got, want in zip(lg.inverse(y), ref.sigmoid_inverse(y, 1e-6)):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    lu = make("lu_linear")
    np.testing.assert_allclose(lu.forward(x)[0], x @ lu.weight().T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lu.forward(x)[1], np.linalg.slogdet(lu.weight())[1])


def test_logit_inverse_stays_finite_far_out():
    u, ld = Logit(1, 1e-6).inverse(np.array([[-800.0], [800.0], [0.0]]))
    assert np.isfinite(ld).all()
    np.testing.assert_allclose(u.ravel(), [0, 1, 0.5], atol=2e-6)


def test_actnorm_initialises_from_the_first_batch_only():
    a = ActNorm(D, np.float64)
    x = np.random.default_rng(0).normal(3, 2, (50, D))
    y, _, _ = a.forward_train(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-5)
    assert a.initialized
    before = a.params["logscale"].copy()
    a.forward_train(x * 10)
    np.testing.assert_array_equal(a.params["logscale"], before)


def test_coupling_masks_alternate_and_partition():
    for parity in (0, 1):
        ia, ib = coupling_split(784, parity, (28, 28))
        assert len(ia) == len(ib) == 392
        assert sorted(np.concatenate([ia, ib])) == list(range(784))
    a0, b0 = coupling_split(784, 0, (28, 28))
    a1, b1 = coupling_split(784, 1, (28, 28))
    np.testing.assert_array_equal(a0, b1)
    # checkerboard: pixel (0, 0) and (0, 1) fall in different halves
    assert (0 in a0) != (1 in a0) and (0 in a0) == (29 in a0)


def test_new_couplings_are_the_identity():
    c = Coupling(D, 0, 7, 2, True, None, np.float64, np.random.default_rng(0))
    x = data("affine")
    y, ld = c.forward(x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(ld, 0)


def test_maf_is_autoregressive_in_its_order():
    t = make("maf")
    x = data("maf")[0]
    jac = ref.jacobian(lambda v: t.forward(v[None])[0][0], x)
    deg = t.order  # reversed: coordinate i depends on j only when deg[j] < deg[i]
    later = deg[None, :] > deg[:, None]
    assert np.abs(jac[later]).max() < 1e-9
    assert np.abs(jac[~later & ~np.eye(D, dtype=bool)]).max() > 1e-3
    masked = t.mlp.params["w0"] == 0
    t.load({**t.params, "w0": np.ones_like(t.params["w0"])}, {})
    assert (t.params["w0"][masked] == 0).all()  # loading keeps the masks


def test_lu_decompose_is_a_pivoted_factorisation():
    from rbmcli.flows.layers import lu_decompose
    rng = np.random.default_rng(5)
    for n in (1, 3, 17):
        a = rng.standard_normal((n, n))
        p, lower, upper = lu_decompose(a)
        np.testing.assert_allclose(p @ lower @ upper, a, atol=1e-12)
        np.testing.assert_array_equal(np.sort(p.sum(0)), np.ones(n))      # a permutation
        np.testing.assert_array_equal(np.diag(lower), np.ones(n))
        assert np.allclose(np.triu(lower, 1), 0) and np.allclose(np.tril(upper, -1), 0)
        assert (np.abs(lower) <= 1 + 1e-12).all()                         # partial pivoting
