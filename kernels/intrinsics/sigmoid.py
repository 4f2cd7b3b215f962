"""A vectorisable logistic sigmoid.

Numba's ``np.exp`` is a scalar libm call unless LLVM is SVML-patched (the wheels on
PyPI are not), which made the sigmoid the slowest part of a Gibbs sweep. For float32
we evaluate ``exp`` with the Cephes ``expf`` polynomial (relative error ~1e-7, i.e. a
couple of ulp) and build ``2**n`` by writing the exponent bits, so LLVM can vectorise
the whole loop. float64 keeps libm's exact ``exp``.

The only hand-written intrinsic here is the int32-to-float32 bit cast that makes
``2**n`` (:func:`rbmcli.kernels.intrinsics.bits.int32_bits_as_float32`); with
``RBM_PLAIN_KERNELS=1`` its plain twin builds the same float with ``math.ldexp``, so
:func:`sigmoid` gives the same bits either way (the twin has branches, so the plain
sigmoid loop may not vectorise).

Invariants: ``x`` is a float32 or float64 scalar; float32 arguments are clamped to
[-87, 87] before ``exp``, so ``fx + 127`` lies in [1, 253] and the bit cast always makes
a normal float32 (callers need not clamp). NaN inputs give unspecified results.
"""

import numba
import numpy as np
from numba import types
from numba.extending import overload

from rbmcli.kernels._config import HELPER
from rbmcli.kernels.intrinsics.bits import int32_bits_as_float32

_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_CLAMP = np.float32(87.0)  # exp(+-87) and 2**126 stay finite and normal in float32


@numba.njit(**HELPER)
def expf_clamped(x):
    """``exp(x)`` for float32 ``x`` clamped to [-87, 87] (Cephes expf polynomial)."""
    x = min(max(x, -_CLAMP), _CLAMP)
    fx = np.floor(x * _LOG2E + np.float32(0.5))
    r = x - fx * _LN2_HI - fx * _LN2_LO
    z = r * r
    y = np.float32(1.9875691500e-4)
    y = y * r + np.float32(1.3981999507e-3)
    y = y * r + np.float32(8.3334519073e-3)
    y = y * r + np.float32(4.1665795894e-2)
    y = y * r + np.float32(1.6666665459e-1)
    y = y * r + np.float32(5.0000001201e-1)
    y = y * z + r + np.float32(1.0)
    scale = int32_bits_as_float32(np.int32((np.int32(fx) + np.int32(127)) << np.int32(23)))
    return y * scale


def sigmoid(x):
    """``1 / (1 + exp(-x))``; compiled by the overload below."""
    return 1.0 / (1.0 + np.exp(-x))


@overload(sigmoid, inline="always", jit_options=dict(fastmath=HELPER["fastmath"]))
def _sigmoid_overload(x):
    if x == types.float32:
        def impl(x):
            return np.float32(1.0) / (np.float32(1.0) + expf_clamped(-x))
    else:
        def impl(x):
            return 1.0 / (1.0 + np.exp(-x))
    return impl
