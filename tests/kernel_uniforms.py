"""The uniforms the counter-based kernels draw (:mod:`rbmcli.kernels.rng`), for tests
that reproduce a kernel's draws in NumPy."""

import numba
import numpy as np

from rbmcli.kernels.rng import step_key, uniform


@numba.njit
def step_uniforms(keys, step, n):
    """(len(keys), n) float64: ``U[s, j] = uniform(step_key(keys[s], step), j)``, the
    uniform a kernel draws for unit ``j`` of chain ``s`` at half-step ``step``."""
    out = np.empty((keys.shape[0], n))
    for s in range(keys.shape[0]):
        k = step_key(keys[s], step)
        for j in range(n):
            out[s, j] = uniform(k, j)
    return out
