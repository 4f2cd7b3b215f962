"""Coupling-layer passes: additive (NICE) and affine (RealNVP) transforms of the
transformed half ``x_b`` given the conditioner output ``h`` computed from the other half.

Affine: ``h = [raw | t]`` (B, 2 Db); ``s = scale * tanh(raw)`` (a soft clamp with a
learned per-dimension ``scale``); ``y_b = x_b * exp(s) + t``; ``log|det J| = sum_j s``.
Additive: ``y_b = x_b + h``, ``log|det J| = 0``. The conditioner's matrix products run
in BLAS (Python layer); these kernels fuse everything elementwise.
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT


@numba.njit(**JIT)
def affine_coupling_forward(xb, h, scale, yb, logdet):
    """``yb = xb * exp(s) + t``, ``logdet[b] = sum_j s[b, j]``.

    xb, yb : (B, Db); h : (B, 2 Db) = [raw | t]; scale : (Db,); logdet : (B,).
    """
    n, d = xb.shape
    for b in range(n):
        acc = 0.0
        for j in range(d):
            s = scale[j] * np.tanh(h[b, j])
            yb[b, j] = xb[b, j] * np.exp(s) + h[b, d + j]
            acc += s
        logdet[b] = acc


@numba.njit(**JIT)
def affine_coupling_inverse(yb, h, scale, xb, logdet):
    """``xb = (yb - t) * exp(-s)``, ``logdet[b] = -sum_j s[b, j]`` (the inverse's).

    yb, xb : (B, Db); h : (B, 2 Db); scale : (Db,); logdet : (B,).
    """
    n, d = yb.shape
    for b in range(n):
        acc = 0.0
        for j in range(d):
            s = scale[j] * np.tanh(h[b, j])
            xb[b, j] = (yb[b, j] - h[b, d + j]) * np.exp(-s)
            acc += s
        logdet[b] = -acc


@numba.njit(**JIT)
def affine_coupling_backward(gyb, gld, xb, h, scale, gxb, gh, gscale):
    """Backward pass of :func:`affine_coupling_forward`.

    For the loss gradients ``gyb`` (B, Db) w.r.t. ``yb`` and ``gld`` (B,) w.r.t.
    ``logdet``: with ``u = tanh(raw)``, ``s = scale u``, ``e = exp(s)``,
    ``gs = gyb xb e + gld``: ``gxb = gyb e``; ``gh[:, :Db] = gs scale (1 - u^2)``;
    ``gh[:, Db:] = gyb``; ``gscale[j] = sum_b gs u``.

    xb, gxb : (B, Db); h, gh : (B, 2 Db); scale, gscale : (Db,) (overwritten).
    """
    n, d = xb.shape
    for j in range(d):
        gscale[j] = 0.0
    for b in range(n):
        for j in range(d):
            u = np.tanh(h[b, j])
            e = np.exp(scale[j] * u)
            g = gyb[b, j]
            gs = g * xb[b, j] * e + gld[b]
            gxb[b, j] = g * e
            gh[b, j] = gs * scale[j] * (1.0 - u * u)
            gh[b, d + j] = g
            gscale[j] += gs * u


@numba.njit(**JIT)
def additive_coupling_forward(xb, h, yb):
    """``yb = xb + h`` (NICE; log|det J| = 0). xb, h, yb : (B, Db)."""
    n, d = xb.shape
    for b in range(n):
        for j in range(d):
            yb[b, j] = xb[b, j] + h[b, j]


@numba.njit(**JIT)
def additive_coupling_inverse(yb, h, xb):
    """``xb = yb - h`` (the inverse of :func:`additive_coupling_forward`)."""
    n, d = yb.shape
    for b in range(n):
        for j in range(d):
            xb[b, j] = yb[b, j] - h[b, j]
