"""Inpainting: fill the unknown pixels of images by sampling the model's conditional
``P(v_unknown | v_known)`` with one of :data:`rbmcli.sampling.bernoulli.SAMPLERS`.

Which pixels are known comes from a PNG's alpha channel (transparent = unknown), a
half of the image (:func:`half_mask`) or a mask PNG (:func:`rbmcli.io.inpainting.read_mask`, white =
known). Known pixels are binarised the way the model was trained; unknown ones start
from a Bernoulli draw of the training mean image (``model.start_image()``): chains started
from white noise take hundreds of sweeps to forget it. Besides the K completions,
every image gets its posterior mean: the average of ``P(v | h_t)`` over the last
three quarters of the sweeps of all K chains, the fill with the least expected
squared error. The picture is a panel with one row per image: the observed image
(unknown pixels mid-grey), the K completions and the posterior mean (and, when the
truth is known, the truth).
"""

import numpy as np

KEEP = ("top", "bottom", "left", "right")
UNKNOWN_GREY = 0.5


# ------------------------------------------------------------------------ known pixels


def half_mask(image_shape, keep):
    """(D,) bool, True on the ``keep`` half (top, bottom, left or right) of the image;
    for an odd size the middle row/column counts as unknown."""
    rows, cols = image_shape
    known = np.zeros((rows, cols), bool)
    if keep == "top":
        known[:rows // 2] = True
    elif keep == "bottom":
        known[rows - rows // 2:] = True
    elif keep == "left":
        known[:, :cols // 2] = True
    elif keep == "right":
        known[:, cols - cols // 2:] = True
    else:
        raise ValueError(f"keep must be one of {KEEP}, found {keep!r}")
    return known.ravel()


# ---------------------------------------------------------------------------- filling


def complete(model, sampler, bits, known, steps, samples, rng, replicas=10, on_step=None,
             start=None):
    """Fill every image ``samples`` times and estimate its posterior mean.

    Parameters
    ----------
    model : a model of the RBM family
    sampler : one of ``model.samplers`` (the signature of :mod:`rbmcli.sampling.bernoulli`)
    bits : (n, D) uint8 binary images (only the known pixels matter).
    known : (n, D) or (D,) bool.
    steps, rng, replicas, on_step : passed to the sampler; chain ``i * samples + k``
        is completion k of image i.
    start : (D,) float in [0, 1] or None
        Unknown pixels of every chain start as their own Bernoulli(start) draw (None:
        0.5, white noise). For mean-field, each completion is then the fixed point
        reached from its own start, so the K completions are K modes and their mean a
        mixture of them (from one common start they would all be the same).

    Returns
    -------
    completions : (n, samples, D) float in [0, 1]
        The sampler's images (known pixels hold their value).
    posterior_mean : (n, D) float64
        The sampler's running mean over the sweeps after ``steps // 4``, averaged over
        the ``samples`` chains of each image (mean-field: the mean of the completions).
    result : rbmcli.sampling.bernoulli.SampleResult
    """
    n, d = bits.shape
    known = np.broadcast_to(known, bits.shape)
    rep_bits = np.repeat(bits, samples, axis=0)
    rep_known = np.repeat(known, samples, axis=0)
    start = np.full(d, 0.5) if start is None else np.asarray(start, np.float64)
    # uint8 for binary models; Gaussian ones keep their grey known pixels
    V0 = np.where(rep_known, rep_bits, rng.random((n * samples, d)) < start
                  ).astype(bits.dtype)
    result = sampler(model, V0, steps, rng, clamp=rep_known, replicas=replicas,
                     on_step=on_step, burn_in=steps // 4)
    posterior_mean = result.mean.reshape(n, samples, d).mean(axis=1)
    return result.images.reshape(n, samples, d), posterior_mean, result


def observed(bits, known):
    """(n, D) float: the known pixels' values, :data:`UNKNOWN_GREY` elsewhere."""
    return np.where(known, bits, UNKNOWN_GREY).astype(np.float64)


def panel_tiles(bits, known, completions, mean, truth=None):
    """Tiles of the panel, row by row: observed, the K completions (n, K, D), the
    posterior ``mean`` (n, D) (and the truth when given). Returns
    (tiles (n * columns, D), columns)."""
    n, k, d = completions.shape
    parts = [observed(bits, np.broadcast_to(known, bits.shape))[:, None],
             completions, np.asarray(mean)[:, None]]
    if truth is not None:
        parts.append(np.asarray(truth, np.float64)[:, None])
    rows = np.concatenate([np.asarray(p, np.float64) for p in parts], axis=1)
    return rows.reshape(-1, d), rows.shape[1]


# -------------------------------------------------------------------------- evaluation


def unknown_error(fill, truth, known):
    """Mean squared error per pixel over the unknown pixels: ``fill`` (n, D) or (D,)
    float against the binary ``truth`` (n, D); ``known`` (D,) or (n, D) bool."""
    unknown = ~np.broadcast_to(known, truth.shape)
    diff = np.broadcast_to(fill, truth.shape).astype(np.float64) - truth
    return float(np.mean(diff[unknown] ** 2))
