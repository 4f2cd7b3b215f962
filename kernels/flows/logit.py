"""The elementwise logit flow for data in [0, 1] and its inverse (sigmoid).

``v = lam + (1 - 2 lam) u``, ``y = log v - log(1 - v)``;
``log|dy/du| = log(1 - 2 lam) - log v - log(1 - v)`` per element, summed per row.
With ``lam = 1e-6`` this is the data space of the MAF paper (Papamakarios et al. 2017).
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT


@numba.njit(**JIT)
def logit_forward(u, lam, y, logdet):
    """``y = logit(lam + (1 - 2 lam) u)``; ``logdet[b] = sum_j log|dy/du|``.

    u, y : (B, D) in [0, 1]; lam : scalar in (0, 0.5); logdet : (B,).
    """
    n, d = u.shape
    c = 1.0 - 2.0 * lam
    logc = np.log(c)
    for b in range(n):
        acc = 0.0
        for j in range(d):
            v = lam + c * u[b, j]
            lv = np.log(v)
            l1 = np.log(1.0 - v)
            y[b, j] = lv - l1
            acc += logc - lv - l1
        logdet[b] = acc


@numba.njit(**JIT)
def sigmoid_inverse(y, lam, u, logdet):
    """The inverse of :func:`logit_forward`: ``u = (sigmoid(y) - lam) / (1 - 2 lam)``;
    ``logdet[b] = sum_j log|du/dy| = sum_j log v + log(1 - v) - log(1 - 2 lam)``.

    Computed with ``log v = -softplus(-y)``, ``log(1 - v) = -softplus(y)`` so that
    large ``|y|`` do not round to log(0). y, u : (B, D); logdet : (B,).
    """
    n, d = y.shape
    c = 1.0 - 2.0 * lam
    logc = np.log(c)
    for b in range(n):
        acc = 0.0
        for j in range(d):
            t = y[b, j]
            a = np.abs(t)
            sp = np.log1p(np.exp(-a))           # softplus(-|t|)
            lv = -(sp + max(-t, 0.0))           # log sigmoid(t)
            l1 = -(sp + max(t, 0.0))            # log sigmoid(-t)
            u[b, j] = (np.exp(lv) - lam) / c
            acc += lv + l1 - logc
        logdet[b] = acc


@numba.njit(**JIT)
def logit_backward(gy, gld, u, lam, gu):
    """Backward pass of :func:`logit_forward`: with ``v = lam + (1 - 2 lam) u``,
    ``dy/du = c / (v (1 - v))`` and ``d logdet / du = c (2 v - 1) / (v (1 - v))``
    (``c = 1 - 2 lam``), ``gu = gy dy/du + gld d logdet/du``.

    gy, u, gu : (B, D); gld : (B,).
    """
    n, d = u.shape
    c = 1.0 - 2.0 * lam
    for b in range(n):
        for j in range(d):
            v = lam + c * u[b, j]
            w = c / (v * (1.0 - v))
            gu[b, j] = gy[b, j] * w + gld[b] * w * (2.0 * v - 1.0)
