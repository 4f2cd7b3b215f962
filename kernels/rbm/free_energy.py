"""Free energies of a Bernoulli RBM, computed stably and accumulated in float64.

``F_beta(v) = -beta * b.v - sum_j softplus(beta * (c_j + (v W)_j))``, so that
``P_beta(v) = exp(-F_beta(v)) / Z_beta``; beta = 1 gives the model's free energy.
"""

import numba
import numpy as np

from rbmcli.kernels._config import PARALLEL_JIT
from rbmcli.kernels.intrinsics.masks import active_units
from rbmcli.kernels.rbm.rowops import gather_add, softplus


@numba.njit(**PARALLEL_JIT)
def free_energy_binary(V, W, b, c, beta, out):
    """Free energy of binary states.

    V: (B, nv) uint8; W: (nv, nh); b: (nv,); c: (nh,); beta: float;
    out: (B,) float64 output.
    """
    nv = V.shape[1]
    nh = W.shape[1]
    for s in numba.prange(V.shape[0]):
        idx = np.empty(nv, np.int32)
        a = np.empty(nh, W.dtype)
        m = active_units(V[s], idx)
        gather_add(W, idx, m, c, a)
        total = 0.0
        for k in range(m):
            total -= beta * np.float64(b[idx[k]])
        for j in range(nh):
            total -= softplus(beta * np.float64(a[j]))
        out[s] = total


@numba.njit(**PARALLEL_JIT)
def free_energy_from_preactivation(V, A, b, beta, out):
    """Free energy of real-valued visible vectors whose hidden pre-activations
    ``A = c + V @ W`` were computed by BLAS.

    V: (B, nv) float; A: (B, nh) float; b: (nv,); beta: float; out: (B,) float64.
    """
    for s in numba.prange(V.shape[0]):
        total = 0.0
        for i in range(V.shape[1]):
            total -= beta * np.float64(b[i]) * np.float64(V[s, i])
        for j in range(A.shape[1]):
            total -= softplus(beta * np.float64(A[s, j]))
        out[s] = total


@numba.njit(**PARALLEL_JIT)
def label_softplus_sums(A, U, out):
    """The hidden part of a class RBM's free energies for every label, in one pass:
    ``out[s, k] = sum_j softplus(A[s, j] + U[k, j])``.

    A: (B, nh) float, the hidden inputs ``c + x W`` without labels; U: (C, nh) float, the
    label units' weights; out: (B, C) float64 output.
    """
    for s in numba.prange(A.shape[0]):
        for k in range(U.shape[0]):
            total = 0.0
            for j in range(A.shape[1]):
                total += softplus(np.float64(A[s, j]) + np.float64(U[k, j]))
            out[s, k] = total
