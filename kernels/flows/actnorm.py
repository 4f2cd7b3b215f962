"""Elementwise affine maps ``y = (x + shift) * exp(logscale)`` of actnorm and NICE's
diagonal scaling (``shift = 0``), with their inverse and backward passes.

The log|det J| of one row is ``sum(logscale)``, the same for every row, so the
Python layer adds it; these kernels do the (B, D) elementwise work in one pass.
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT


@numba.njit(**JIT)
def scale_shift_forward(x, shift, logscale, y):
    """``y[b, j] = (x[b, j] + shift[j]) * exp(logscale[j])``.

    x, y : (B, D); shift, logscale : (D,). ``y`` may be ``x``.
    """
    n, d = x.shape
    scale = np.exp(logscale)
    for b in range(n):
        for j in range(d):
            y[b, j] = (x[b, j] + shift[j]) * scale[j]


@numba.njit(**JIT)
def scale_shift_inverse(y, shift, logscale, x):
    """``x[b, j] = y[b, j] * exp(-logscale[j]) - shift[j]`` (the inverse of
    :func:`scale_shift_forward`). y, x : (B, D); shift, logscale : (D,)."""
    n, d = y.shape
    inv = np.exp(-logscale)
    for b in range(n):
        for j in range(d):
            x[b, j] = y[b, j] * inv[j] - shift[j]


@numba.njit(**JIT)
def scale_shift_backward(gy, y, logscale, gx, gshift, glogscale):
    """Backward pass of :func:`scale_shift_forward` given its output ``y``.

    With ``e = exp(logscale)``: ``gx = gy * e``; ``gshift[j] = sum_b gy[b, j] * e[j]``;
    ``glogscale[j] = sum_b gy[b, j] * y[b, j]`` (dy/dlogscale = y). The log-det term
    ``sum(gld)`` of ``glogscale`` is added by the caller.

    gy, y, gx : (B, D); logscale, gshift, glogscale : (D,) (overwritten).
    """
    n, d = gy.shape
    scale = np.exp(logscale)
    for j in range(d):
        gshift[j] = 0.0
        glogscale[j] = 0.0
    for b in range(n):
        for j in range(d):
            g = gy[b, j]
            gx[b, j] = g * scale[j]
            gshift[j] += g
            glogscale[j] += g * y[b, j]
    for j in range(d):
        gshift[j] *= scale[j]
