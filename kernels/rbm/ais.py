"""Annealed importance sampling (AIS) from a base-rate RBM to a Bernoulli RBM.

The path (Salakhutdinov & Murray 2008) runs over visible states ``v`` (nv,) 0/1,
with the base model's visible biases ``bA`` (W = 0, c = 0) and the target RBM's
``W`` (nv, nh), ``b`` (nv,), ``c`` (nh,)::

    f_beta(v) = exp((1 - beta) bA.v + beta b.v) * prod_j (1 + exp(beta (c_j + (v W)_j)))

so ``f_0`` is the base model times 2**nh (``Z_0 = 2**nh prod_i (1 + exp(bA_i))``) and
``f_1`` is the RBM's ``exp(-F(v))``. The transition ``T_beta`` is one block Gibbs
sweep of the joint ``f_beta(v, h)``::

    h ~ sigmoid(beta (c + v W)),   v ~ sigmoid((1 - beta) bA + beta (b + W h))

which leaves ``f_beta`` invariant and, marginalised on v, is reversible; so running
the kernel along a decreasing schedule from model samples is reverse AIS.

Numerics: pre-activations ``a = c + v W`` are gather-adds in W's dtype, summed in a
fixed order, so ``a`` is a deterministic function of ``v`` (the weights stay exactly
consistent with one distribution). The log-weight increments are computed in float64:

    log f_b1(v) - log f_b0(v) = (b1 - b0) (b - bA).v
        + sum_j [(b1 - b0) max(a_j, 0) + log(1 + e1_j) - log(1 + e0_j)],
    e_j = exp(-beta |a_j|),

where the logs are taken once per block of 256 hidden units, of the float64 product
of the ratios ``(1 + e1_j) / (1 + e0_j)`` (each in [1/2, 2], so a block cannot
overflow; rounding ~256 ulp, i.e. ~1e-14 absolute per block). ``exp`` is a
vectorisable float64 Cody-Waite reduction and degree-13 Taylor polynomial (relative
error < 3e-16), because Numba's libm ``exp`` is a scalar call. Its ``2**n`` is written
into the exponent bits by the bit-cast intrinsics of
:mod:`rbmcli.kernels.intrinsics.bits` (with ``RBM_PLAIN_KERNELS=1``, their plain twins:
the same bits).
"""

import numba
import numpy as np

from rbmcli.kernels._config import HELPER, PARALLEL_JIT
from rbmcli.kernels.intrinsics.bits import float64_bits_as_int64, int64_bits_as_float64
from rbmcli.kernels.intrinsics.masks import active_units
from rbmcli.kernels.rbm.rowops import gather_add
from rbmcli.kernels.intrinsics.sigmoid import sigmoid
from rbmcli.kernels.rng import step_key, uniform

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log(2): hi has 32 bits
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 4503599627370496.0 + 1023.0  # 2**52 + exponent bias
_MIN_ARG = -708.0  # exp(-708) is still a normal float64
_BLOCK = 256  # hidden units per float64 product before taking its log


@numba.njit(**dict(HELPER, fastmath=False))  # Cody-Waite needs its order of operations
def exp_nonpositive(x):
    """``exp(x)`` for float64 ``x <= 0`` (clamped at -708), vectorisable.

    ``x = n log 2 + r`` with ``|r| <= log(2) / 2``; ``exp(r)`` by its Taylor series to
    degree 13 (truncation < 5e-18); ``2**n`` written into the exponent bits.
    """
    x = max(x, _MIN_ARG)
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # n + 1023 lies in [2, 1023]: it sits in the low mantissa bits of n + 2**52 + 1023
    bits = float64_bits_as_int64(n + _SHIFTER) << np.int64(52)
    return p * int64_bits_as_float64(bits)


@numba.njit(**HELPER)
def hidden_log_ratio(a, beta0, beta1, key, sample, e1s, h):
    """``sum_j softplus(beta1 a_j) - softplus(beta0 a_j)`` (float64) for a (nh,) and,
    when ``sample``, draw ``h_j = (uniform(key, j) < sigmoid(beta1 a_j))`` into h (nh,)
    uint8, reusing the exponentials kept in the scratch e1s (nh,) float64."""
    nh = a.shape[0]
    d_beta = beta1 - beta0
    total = 0.0
    for j0 in range(0, nh, _BLOCK):
        j1 = min(j0 + _BLOCK, nh)
        ratio = 1.0
        relu = 0.0
        for j in range(j0, j1):
            x = np.float64(a[j])
            ax = abs(x)
            e0 = exp_nonpositive(-beta0 * ax)
            e1 = exp_nonpositive(-beta1 * ax)
            e1s[j] = e1
            relu += max(x, 0.0)
            ratio *= (1.0 + e1) / (1.0 + e0)
        total += d_beta * relu + np.log(ratio)
        if sample:
            for j in range(j0, j1):
                e1 = e1s[j]
                p = (1.0 if a[j] >= 0 else e1) / (1.0 + e1)
                h[j] = np.uint8(uniform(key, j) < p)
    return total


@numba.njit(**PARALLEL_JIT)
def ais_anneal(V, log_w, W, WT, b_base, b, c, betas, mix_w, k_start, k_stop, keys):
    """Run steps ``k_start <= k < k_stop`` of AIS along ``betas`` on every run.

    Step ``k`` (1 <= k <= K = len(betas) - 1) of run ``r`` does::

        log_w[r] += log f_{betas[k]}(V[r]) - log f_{betas[k-1]}(V[r])
        if k < K:  V[r] <- T_{betas[k]}(V[r])

    with the uniforms of the hidden draw from ``step_key(keys[r], 2k)`` and of the
    visible draw from ``step_key(keys[r], 2k + 1)``: the result is the same bit for
    bit on any number of threads, and calling the kernel in chunks of steps gives the
    same states and weights equal up to float64 rounding (fast-math may reassociate
    the sum of the increments across steps). An
    increasing schedule from base samples is forward AIS (``mean(exp(log_w))``
    estimates ``Z_1 / Z_0``); a decreasing one from model samples is reverse AIS
    (estimates ``Z_0 / Z_1``).

    Parameters
    ----------
    V : (R, nv) uint8
        States of the R runs, updated in place.
    log_w : (R,) float64
        Log importance weights, incremented.
    W, WT : (nv, nh) and (nh, nv) float32 or float64
        Weights and their C-contiguous transpose.
    b_base, b : (nv,) W's dtype
        Visible biases of the base model and of the RBM.
    c : (nh,) W's dtype
        Hidden biases of the RBM.
    betas : (K + 1,) float64
        The schedule, values in [0, 1].
    mix_w : (K + 1, 2) W's dtype
        ``(betas[k], 1 - betas[k])`` in W's dtype, for the visible conditional.
    k_start, k_stop : int
        Steps to run, ``1 <= k_start <= k_stop <= K + 1``.
    keys : (R,) uint64
        Random key of each run.
    """
    nv = W.shape[0]
    nh = W.shape[1]
    n_last = betas.shape[0] - 1
    n_runs = V.shape[0]
    # Scratch rows per run, allocated once outside the parallel loop. With arrays
    # allocated inside it, the float64 weights of a run differed in the last bit with
    # the number of threads (its scratch then sat at a different address); with
    # fixed rows they are identical for any thread count (tests/test_ais.py).
    IDX_V = np.empty((n_runs, nv), np.int32)
    IDX_H = np.empty((n_runs, nh), np.int32)
    A = np.empty((n_runs, nh), W.dtype)
    PRE_V = np.empty((n_runs, nv), W.dtype)
    H = np.empty((n_runs, nh), np.uint8)
    E1S = np.empty((n_runs, nh), np.float64)
    for r in numba.prange(n_runs):
        idx_v = IDX_V[r]
        idx_h = IDX_H[r]
        a = A[r]
        pre_v = PRE_V[r]
        h = H[r]
        e1s = E1S[r]
        v = V[r]
        lw = log_w[r]
        m = active_units(v, idx_v)
        gather_add(W, idx_v, m, c, a)
        for k in range(k_start, k_stop):
            beta0 = betas[k - 1]
            beta1 = betas[k]
            dv = 0.0
            for q in range(m):
                i = idx_v[q]
                dv += np.float64(b[i]) - np.float64(b_base[i])
            lw += (beta1 - beta0) * dv
            move = k < n_last
            lw += hidden_log_ratio(a, beta0, beta1, step_key(keys[r], 2 * k), move, e1s, h)
            if move:
                mh = active_units(h, idx_h)
                gather_add(WT, idx_h, mh, b, pre_v)
                bw = mix_w[k, 0]
                cw = mix_w[k, 1]
                key_v = step_key(keys[r], 2 * k + 1)
                for i in range(nv):
                    x = bw * pre_v[i] + cw * b_base[i]
                    v[i] = np.uint8(uniform(key_v, i) < sigmoid(x))
                m = active_units(v, idx_v)
                gather_add(W, idx_v, m, c, a)
        log_w[r] = lw
