"""Stochastic binarisation of grey-scale rows (Salakhutdinov & Murray 2008):
each pixel becomes 1 with probability equal to its intensity."""

import numba
import numpy as np

from rbmcli.kernels._config import PARALLEL_JIT
from rbmcli.kernels.rng import uniform


@numba.njit(**PARALLEL_JIT)
def bernoulli_rows(X, scale, keys, out):
    """``out[s, i] = (uniform(keys[s], i) < X[s, i] * scale)``.

    X: (B, n) uint8 (scale = 1/255) or float in [0, 1] (scale = 1); keys: (B,) uint64;
    out: (B, n) uint8 output.
    """
    for s in numba.prange(X.shape[0]):
        key = keys[s]
        for i in range(X.shape[1]):
            out[s, i] = np.uint8(uniform(key, i) < X[s, i] * scale)
