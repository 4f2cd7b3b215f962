"""Kernels of the scikit-learn estimator (:mod:`rbmcli.estimators`).

* :func:`bernoulli_states`: ``H ~ Bernoulli(P)`` with the counter-based uniforms of
  :mod:`rbmcli.kernels.rbm.halfsteps` (``uniform(step_key(keys[s], step), j) < P[s, j]``), so a
  draw made here from probabilities computed with BLAS is the draw
  :func:`rbmcli.kernels.rbm.halfsteps.hidden_step` would have made from the same probabilities.
* :func:`pseudo_log_likelihood`: the exact pseudo-log-likelihood
  ``sum_i log sigmoid(F(v~i) - F(v))`` of each row, ``v~i`` being ``v`` with unit ``i``
  replaced by ``1 - v_i`` (for binary rows: ``sum_i log P(v_i | v_-i)``), in float64.
"""

import numba
import numpy as np

from rbmcli.kernels._config import PARALLEL_JIT
from rbmcli.kernels.rng import step_key, uniform


@numba.njit(**PARALLEL_JIT)
def bernoulli_states(P, keys, step, H):
    """``H[s, j] = uniform(step_key(keys[s], step), j) < P[s, j]``.

    P: (B, n) float probabilities; keys: (B,) uint64; step: int; H: (B, n) uint8 output.
    """
    for s in numba.prange(P.shape[0]):
        key = step_key(keys[s], step)
        p = P[s]
        h = H[s]
        for j in range(P.shape[1]):
            h[j] = np.uint8(uniform(key, j) < p[j])


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _softplus(x):
    """``log(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return max(x, 0.0) + np.log1p(np.exp(-abs(x)))


@numba.njit(nogil=True, cache=True, error_model="numpy", parallel=True)
def pseudo_log_likelihood(V, W, b, c, out):
    """Exact pseudo-log-likelihood of each row, float64 throughout.

    V: (N, nv) float64 visible values in [0, 1]; W: (nv, nh) float64; b: (nv,) and c:
    (nh,) float64; out: (N,) float64 output. Each row is computed on its own, in a
    fixed order (no fast-math, no BLAS), so its score is bit for bit the same whatever
    other rows come with it.

    The hidden pre-activations are ``A = c + v W``.

    Replacing ``v_i`` by ``1 - v_i`` moves ``v_i`` by ``d = 1 - 2 v_i`` and changes the
    free energy ``F(v) = -b.v - sum_j softplus(A_j)`` by
    ``D_i = -b_i d - sum_j (softplus(A_j + d W_ij) - softplus(A_j))``; the row's score
    is ``sum_i log sigmoid(D_i) = -sum_i softplus(-D_i)``. No exponential is taken of
    anything but ``-|x|``, so nothing overflows, and underflow only rounds to 0.
    """
    n, nv = V.shape
    nh = W.shape[1]
    for s in numba.prange(n):
        a = c.copy()
        for i in range(nv):
            v = V[s, i]
            if v != 0.0:
                w = W[i]
                for j in range(nh):
                    a[j] += v * w[j]
        base = np.empty(nh, np.float64)
        for j in range(nh):
            base[j] = _softplus(a[j])
        total = 0.0
        for i in range(nv):
            d = 1.0 - 2.0 * V[s, i]
            w = W[i]
            delta = -b[i] * d
            for j in range(nh):
                delta -= _softplus(a[j] + d * w[j]) - base[j]
            total -= _softplus(-delta)
        out[s] = total
