"""What inpainting reads from files: the grey levels and known pixels of PNG images, mask
PNGs, and the training mean image of a data file (the baseline fill).

The sampling itself is :mod:`rbmcli.sampling.inpainting`; this module is its file side.
"""

import numpy as np
from PIL import Image

from rbmcli.errors import InputError
from rbmcli.io.datasets import image_groups, load_dataset, split_spec
from rbmcli.io.images import read_png
from rbmcli.pixels import as_unit_float, binarize_threshold
from rbmcli.sampling.inpainting import half_mask


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


def mean_image(spec, model, images):
    """The training mean image used as the baseline fill: the one stored with the model,
    else the binarised mean of the ``train`` group of the data file named by ``spec``
    when it has one, else the mean the model's first layer implies
    (``sigmoid(visible_bias)``), else the mean of ``images`` (N, D). Returns (mean (D,)
    float64, description)."""
    if model.data_mean is not None:
        return np.asarray(model.data_mean, np.float64), \
            "the training mean stored in the model file"
    path, _ = split_spec(spec)
    if path != "-":
        groups, _ = image_groups(path)
        if "train" in groups:
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
