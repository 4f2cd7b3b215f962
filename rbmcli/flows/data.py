"""The data space of the flows: dequantized 8-bit pixels in logit space (the protocol
of the MAF paper, Papamakarios et al. 2017), and conversions back.

For pixels ``x`` in {0..255}: ``u = (x + U(0, 1)) / 256`` and
``y = logit(lam + (1 - 2 lam) u)`` with ``lam = 1e-6``. Log-likelihoods in nats are
those of ``y`` (logit space, the number papers report). Bits per pixel are those of
the dequantized pixels on the 0..256 scale:
``bpp = -(log p(y) + log|dy/du| - D log 256) / (D log 2)``.
"""

import math

import numpy as np

from rbmcli.kernels.flows.logit import logit_forward, sigmoid_inverse

LAMBDA = 1e-6


def as_pixels(images):
    """(N, D) uint8 grey levels 0..255: uint8 as is, bool as 0/255, floats in [0, 1]
    rounded from ``x * 255``."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if images.dtype == np.bool_:
        return images.astype(np.uint8) * np.uint8(255)
    return np.ascontiguousarray(np.rint(np.clip(images, 0, 1) * 255).astype(np.uint8))


def to_logit_space(pixels, rng, lam=LAMBDA, dtype=np.float32, batch=10000):
    """Dequantize and map to logit space.

    Parameters
    ----------
    pixels : (N, D) uint8
    rng : numpy.random.Generator
        Draws the uniform dequantization noise (float64, one per pixel).

    Returns
    -------
    y : (N, D) ``dtype``
    logdet : (N,) float64
        log|dy/du| of each row (for bits per pixel).
    """
    pixels = np.ascontiguousarray(pixels, np.uint8)
    y = np.empty(pixels.shape, dtype)
    logdet = np.empty(len(pixels), np.float64)
    for s in range(0, len(pixels), batch):
        p = pixels[s:s + batch]
        u = (p + rng.random(p.shape)) * (1.0 / 256.0)
        logit_forward(u, float(lam), y[s:s + batch], logdet[s:s + batch])
    return y, logdet


def to_unit(y, lam=LAMBDA):
    """Logit-space rows back to intensities in [0, 1] (the inverse map, clipped)."""
    y = np.ascontiguousarray(y, np.float64)
    u = np.empty_like(y)
    sigmoid_inverse(y, float(lam), u, np.empty(len(y)))
    return np.clip(u, 0.0, 1.0)


def bits_per_pixel(ll_y, logdet, dim):
    """Bits per pixel on the 0..256 scale from logit-space log-likelihoods ``ll_y``
    (nats) and the logit map's log|dy/du| (both (N,) or scalars)."""
    return -(np.asarray(ll_y) + np.asarray(logdet) - dim * math.log(256)) / (dim * math.log(2))
