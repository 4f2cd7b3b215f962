"""Counter-based random numbers: a uniform is a pure function of (key, counter).

A kernel that needs randomness gets one 64-bit key per chain (drawn by the Python
layer from a ``numpy.random.Generator``) and derives the uniform for unit ``j`` of
step ``t`` as ``uniform(step_key(key, t), j)``. Nothing depends on which thread runs
which chain, so a seed reproduces a result for any thread count, and the inner loops
stay vectorisable (no sequential generator state).

The mixer is the SplitMix64 finaliser (Steele, Lea & Flood 2014), whose output over
consecutive counters is SplitMix64 itself and passes BigCrush.
"""

import numba
import numpy as np

from rbmcli.kernels._config import HELPER

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_STEP = np.uint64(0xD1B54A32D192ED03)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@numba.njit(**HELPER)
def mix64(z):
    """SplitMix64 finaliser: a bijective avalanche of the 64-bit integer ``z``."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(**HELPER)
def step_key(key, step):
    """Key of step ``step`` (int >= 0) of a chain whose key is ``key`` (uint64)."""
    return mix64(key ^ ((np.uint64(step) + _ONE) * _STEP))


@numba.njit(**HELPER)
def uniform(key, counter):
    """Uniform float64 in [0, 1) (53 bits) for ``counter`` (int >= 0) under ``key``."""
    z = mix64(key + (np.uint64(counter) + _ONE) * _GAMMA)
    return np.float64(z >> _S11) * _TO_UNIT
