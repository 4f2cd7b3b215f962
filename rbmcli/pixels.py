"""Pixels as numbers: grey levels as floats in [0, 1], and binarised to 0/1.

The lowest layer of the package with :mod:`rbmcli.errors`: the models, samplers, scores
and trainers use it, and :mod:`rbmcli.io.datasets` (which re-exports these names) too.
"""

import numpy as np


def as_unit_float(images, dtype=np.float32):
    """Pixels as floats in [0, 1].

    Parameters
    ----------
    images : np.ndarray, shape (N, D)
        uint8 (divided by 255), bool (0/1) or float (cast).
    dtype : numpy dtype, optional
        Output dtype, float32 by default.

    Returns
    -------
    np.ndarray, shape (N, D), C-contiguous, of ``dtype``.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        out = images.astype(dtype) / dtype(255)
    elif images.dtype == np.bool_ or images.dtype.kind == "f":
        out = images.astype(dtype, copy=False)
    else:
        raise TypeError(f"expected uint8, bool or float pixels, got {images.dtype}")
    return np.ascontiguousarray(out, dtype=dtype)


def binarize_threshold(x01):
    """Deterministic binarisation: 1 where the pixel is >= 0.5.

    Parameters
    ----------
    x01 : np.ndarray, shape (N, D)
        Floats in [0, 1] (uint8 or bool pixels are converted first).

    Returns
    -------
    np.ndarray, shape (N, D), uint8 0/1.
    """
    x01 = np.asarray(x01)
    if x01.dtype.kind != "f":
        x01 = as_unit_float(x01)
    return (x01 >= 0.5).astype(np.uint8)


def binarize_stochastic(x01, rng):
    """Stochastic binarisation: each pixel is 1 with probability equal to its value.

    Parameters
    ----------
    x01 : np.ndarray, shape (N, D)
        Floats in [0, 1] (uint8 or bool pixels are converted first).
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (N, D), uint8 0/1.
    """
    x01 = np.asarray(x01)
    if x01.dtype.kind != "f":
        x01 = as_unit_float(x01)
    dtype = np.float32 if x01.dtype == np.float32 else np.float64
    return (rng.random(x01.shape, dtype=dtype) < x01).astype(np.uint8)
