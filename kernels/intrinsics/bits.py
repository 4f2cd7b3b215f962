"""Reinterpreting the bits of a float as an integer and back, for the ``exp`` kernels.

The vectorisable ``exp`` of :mod:`rbmcli.kernels.intrinsics.sigmoid` (float32) and of
:func:`rbmcli.kernels.rbm.ais.exp_nonpositive` (float64) build ``2**n`` by writing
``n`` plus the exponent bias into a float's exponent bits; NumPy's ``view`` needs an
array, so the casts are one-instruction LLVM ``bitcast`` intrinsics.

Invariants: the arguments are scalars of exactly the listed types (int32, int64,
float64; anything else does not compile). The plain twins decode and encode the IEEE
fields with integer arithmetic and ``math.ldexp`` / ``math.frexp`` (all exact), so they
agree bit for bit on every finite value and on infinities. Two differences, neither
reachable from the kernels (they only cast positive, normal values): a NaN comes out
as the canonical quiet NaN (payloads are lost), and under the kernels' ``nsz``
fast-math the sign of a zero is not guaranteed. A kernel's own arithmetic can still
differ: the twins' branches may keep LLVM from vectorising the loop that calls them,
and a sum in that loop (reassociable under fast-math) then rounds in another order;
so AIS's float64 log-weights agree to ~1e-16 relative, not bit for bit.

Names: ``f_ir`` is the intrinsic, ``f_plain`` its twin, and ``f`` the one the kernels
use, chosen once by ``RBM_PLAIN_KERNELS`` (:mod:`rbmcli.kernels._config`).
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from rbmcli.kernels._config import HELPER, PLAIN

_SIGN64 = np.int64(-0x8000000000000000)  # bit 63
_IMPLICIT64 = np.int64(1 << 52)  # the hidden leading bit of a normal float64
_EXP64 = np.int64(0x7FF)
_FRAC64 = np.int64((1 << 52) - 1)
_QNAN64 = np.int64(0x7FF8000000000000)


@intrinsic
def int32_bits_as_float32_ir(typingctx, bits):
    """Reinterpret the bits of an int32 as a float32 (no conversion)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@numba.njit(**HELPER)
def int32_bits_as_float32_plain(bits):
    """Twin of :func:`int32_bits_as_float32_ir`: the float32 whose IEEE fields are
    those of the int32 ``bits`` (exact; see the module docstring for NaN and -0)."""
    u = np.int64(bits) & np.int64(0xFFFFFFFF)
    exponent = (u >> np.int64(23)) & np.int64(0xFF)
    fraction = u & np.int64(0x7FFFFF)
    if exponent == 0:  # zero or subnormal: fraction * 2**-149
        magnitude = math.ldexp(np.float64(fraction), -149)
    elif exponent == 0xFF:
        magnitude = np.inf if fraction == 0 else np.nan
    else:  # (2**23 + fraction) * 2**(exponent - 127 - 23)
        magnitude = math.ldexp(np.float64(fraction | np.int64(0x800000)), exponent - 150)
    if u >> np.int64(31):
        magnitude = -magnitude
    return np.float32(magnitude)  # exact: the value has 24 significant bits at most


@intrinsic
def int64_bits_as_float64_ir(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (no conversion)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(**HELPER)
def int64_bits_as_float64_plain(bits):
    """Twin of :func:`int64_bits_as_float64_ir` (exact; see the module docstring)."""
    exponent = (bits >> np.int64(52)) & _EXP64
    fraction = bits & _FRAC64
    if exponent == 0:  # zero or subnormal: fraction * 2**-1074
        magnitude = math.ldexp(np.float64(fraction), -1074)
    elif exponent == _EXP64:
        magnitude = np.inf if fraction == 0 else np.nan
    else:  # (2**52 + fraction) * 2**(exponent - 1023 - 52)
        magnitude = math.ldexp(np.float64(fraction | _IMPLICIT64), exponent - 1075)
    return -magnitude if bits < 0 else magnitude


@intrinsic
def float64_bits_as_int64_ir(typingctx, x):
    """Reinterpret the bits of a float64 as an int64 (no conversion)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@numba.njit(**HELPER)
def float64_bits_as_int64_plain(x):
    """Twin of :func:`float64_bits_as_int64_ir` (exact; see the module docstring)."""
    if x != x:
        return _QNAN64
    a = abs(x)
    if a == np.inf:
        bits = _EXP64 << np.int64(52)
    elif a == 0.0:
        bits = np.int64(0)
    else:
        mant, e = math.frexp(a)  # a = mant * 2**e, 0.5 <= mant < 1
        if e >= -1021:  # normal: biased exponent e + 1022 in [1, 2046]
            bits = ((np.int64(e + 1022) << np.int64(52))
                    | (np.int64(math.ldexp(mant, 53)) - _IMPLICIT64))
        else:  # subnormal: a = fraction * 2**-1074
            bits = np.int64(math.ldexp(a, 1074))
    if x < 0.0 or (x == 0.0 and math.copysign(1.0, x) < 0.0):
        bits |= _SIGN64
    return bits


if PLAIN:
    int32_bits_as_float32 = int32_bits_as_float32_plain
    int64_bits_as_float64 = int64_bits_as_float64_plain
    float64_bits_as_int64 = float64_bits_as_int64_plain
else:
    int32_bits_as_float32 = int32_bits_as_float32_ir
    int64_bits_as_float64 = int64_bits_as_float64_ir
    float64_bits_as_int64 = float64_bits_as_int64_ir
