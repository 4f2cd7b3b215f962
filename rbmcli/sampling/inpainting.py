"""Inpainting: fill the unknown pixels of images by sampling the model's conditional
``P(v_unknown | v_known)`` with one of :data:`rbmcli.sampling.bernoulli.SAMPLERS`.

Which pixels are known comes from a PNG's alpha channel (transparent = unknown), a
half of the image (:func:`half_mask`) or a mask PNG (:func:`read_mask`, white =
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

from rbmcli.errors import InputError

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


def _size(shape):
    """'WxH' of a (rows, cols) shape, the way image sizes are usually written."""
    return f"{shape[1]}x{shape[0]}"


def data_mask(mask, keep, image_shape):
    """Known pixels (D,) bool for every image of a data set: the white pixels of the mask
    PNG ``mask``, else the ``keep`` half (default top). InputError naming the mask when
    it leaves no pixel unknown."""
    if mask is None:
        return half_mask(image_shape, keep or "top")
    known = read_mask(mask, image_shape)
    if known.all():
        raise InputError("no unknown pixels to fill (every pixel is known)", mask)
    return known


def read_mask(path, image_shape, image_size=None, image_path=None):
    """(D,) bool from a mask PNG: white (grey >= 0.5) = known.

    The mask must have the model's ``image_shape`` (rows, cols), or the original
    ``image_size`` (rows, cols) of the image it is applied to (then it is resized like
    that image).
    """
    from rbmcli.io.images import read_png

    grey, _ = read_png(path)
    if grey.shape == tuple(image_shape):
        return (grey >= 0.5).ravel()
    if image_size is not None and grey.shape == tuple(image_size):
        return (resize(grey, image_shape) >= 0.5).ravel()
    expected = f"expected {_size(image_shape)} like the model's images"
    if image_size is not None and tuple(image_size) != tuple(image_shape):
        expected += f" or {_size(image_size)} like {image_path}"
    raise InputError(f"mask is {_size(grey.shape)} pixels, {expected}", path)


def resize(plane, image_shape):
    """A (h, w) float plane resized to (rows, cols) with Pillow (Lanczos), clipped to
    [0, 1]."""
    from PIL import Image

    rows, cols = image_shape
    if plane.shape == (rows, cols):
        return plane
    img = Image.fromarray(np.ascontiguousarray(plane, np.float32))  # mode "F"
    out = np.asarray(img.resize((cols, rows), Image.Resampling.LANCZOS), np.float32)
    return np.clip(out, 0, 1)


def load_pngs(paths, image_shape, invert=False, keep=None, mask_path=None):
    """Grey levels and known pixels of PNG images, resized to ``image_shape``.

    Known pixels: ``keep`` (a half), else ``mask_path``, else the alpha channel
    (alpha >= 0.5 is known). Returns grey (n, D) float32 in [0, 1] (inverted with
    ``invert``) and known (n, D) bool. Raises InputError naming the file for a bad
    PNG, a mask of the wrong size, or an image with nothing to fill.
    """
    from rbmcli.io.images import read_png

    greys, knowns = [], []
    for path in paths:
        grey, alpha = read_png(path)
        size = grey.shape
        if keep is not None:
            known = half_mask(image_shape, keep)
        elif mask_path is not None:
            known = read_mask(mask_path, image_shape, size, path)
        elif alpha is not None and (alpha < 0.5).any():
            known = (resize(alpha, image_shape) >= 0.5).ravel()
        else:
            raise InputError("has no transparent pixels: make the unknown part "
                             "transparent, or use --keep or --mask", path)
        if known.all():
            what = mask_path if mask_path is not None and keep is None else path
            raise InputError("no unknown pixels to fill (every pixel is known)", what)
        grey = resize(grey, image_shape).ravel()
        greys.append(1 - grey if invert else grey)
        knowns.append(known)
    return np.stack(greys), np.stack(knowns)


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


def mean_image(spec, model, images):
    """The training mean image used as the baseline fill: the one stored with the model,
    else the binarised mean of the ``train`` group of the data file named by ``spec``
    when it has one, else the mean the model's first layer implies
    (``sigmoid(visible_bias)``), else the mean of ``images`` (N, D). Returns (mean (D,)
    float64, description)."""
    import h5py

    from rbmcli.io.datasets import as_unit_float, binarize_threshold, load_dataset, split_spec

    if model.data_mean is not None:
        return np.asarray(model.data_mean, np.float64), \
            "the training mean stored in the model file"
    path, _ = split_spec(spec)
    if path != "-":
        with h5py.File(path, "r") as f:
            has_train = isinstance(f.get("train"), h5py.Group) and "images" in f["train"]
        if has_train:
            ds = load_dataset(f"{path}:train")
            if ds.images.shape[1] == model.n_visible:
                x = as_unit_float(ds.images)
                bits = binarize_threshold(x) if model.binarization == "threshold" else x
                return bits.mean(axis=0, dtype=np.float64), \
                    f"{ds.source} ({len(x)} images)"
    start = model.start_image()
    if start is not None:
        return start, "the model's sigmoid(visible_bias)"
    return np.asarray(images, np.float64).mean(axis=0), "the mean of the images filled"
