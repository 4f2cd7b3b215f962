"""Elementwise parts of the coupling conditioners (MLPs with ReLU hidden layers).

The products ``x @ W`` run in BLAS; these kernels fuse the bias and the ReLU into one
pass forward, and the ReLU mask and the bias gradient into one pass backward.
"""

import numba

from rbmcli.kernels._config import JIT


@numba.njit(**JIT)
def bias_relu(z, bias):
    """In place: ``z[b, j] = max(z[b, j] + bias[j], 0)``. z : (B, H); bias : (H,)."""
    n, d = z.shape
    for b in range(n):
        for j in range(d):
            v = z[b, j] + bias[j]
            z[b, j] = v if v > 0.0 else 0.0


@numba.njit(**JIT)
def add_bias(z, bias):
    """In place: ``z[b, j] += bias[j]``. z : (B, H); bias : (H,)."""
    n, d = z.shape
    for b in range(n):
        for j in range(d):
            z[b, j] += bias[j]


@numba.njit(**JIT)
def relu_backward(g, h, gbias):
    """In place: ``g[b, j] = 0`` where the ReLU output ``h[b, j] <= 0``; then
    ``gbias[j] = sum_b g[b, j]`` (overwritten). g, h : (B, H); gbias : (H,)."""
    n, d = g.shape
    for j in range(d):
        gbias[j] = 0.0
    for b in range(n):
        for j in range(d):
            if h[b, j] <= 0.0:
                g[b, j] = 0.0
            else:
                gbias[j] += g[b, j]


@numba.njit(**JIT)
def column_sums(g, out):
    """``out[j] = sum_b g[b, j]`` (overwritten). g : (B, H); out : (H,)."""
    n, d = g.shape
    for j in range(d):
        out[j] = 0.0
    for b in range(n):
        for j in range(d):
            out[j] += g[b, j]
