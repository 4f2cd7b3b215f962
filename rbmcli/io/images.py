"""PNG in and out: image grids, RBM filters, and reading a grey image (Pillow)."""

import io
import math
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from rbmcli.io.atomic import atomic_path, check_readable, write_stdout
from rbmcli.errors import InputError

_PAD_GREY = 128  # colour of the lines between the tiles of a grid


def tile_grid(images01, image_shape, ncols=None, scale=2, pad=1):
    """Images as one grey (H, W) uint8 grid array, tiles separated by mid-grey lines.

    Parameters
    ----------
    images01 : np.ndarray, shape (N, D)
        Floats in [0, 1] (values outside are clipped; uint8 is read as 0..255);
        0 is drawn black and 1 white, so MNIST digits are white on black.
    image_shape : tuple of int
        ``(rows, cols)`` of each image, ``rows * cols == D``.
    ncols : int, optional
        Tiles per row; ``ceil(sqrt(N))`` by default.
    scale : int, optional
        Each pixel becomes a ``scale x scale`` block.
    pad : int, optional
        Width in (unscaled) pixels of the mid-grey lines between tiles.
    """
    tiles = np.asarray(images01)
    tiles = tiles / 255.0 if tiles.dtype == np.uint8 else tiles.astype(np.float64)
    rows, cols = (int(s) for s in image_shape)
    n = len(tiles)
    if n == 0 or tiles.shape[1:] != (rows * cols,):
        raise ValueError(f"expected images of shape (N>0, {rows * cols}), got {tiles.shape}")
    tiles = (np.clip(tiles, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(n, rows, cols)
    ncols = int(ncols or math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * (rows + pad) + pad, ncols * (cols + pad) + pad), _PAD_GREY, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        y, x = pad + r * (rows + pad), pad + c * (cols + pad)
        grid[y : y + rows, x : x + cols] = tile
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


def save_grid(path, images01, image_shape, ncols=None, scale=2, pad=1):
    """Save images as one grey PNG grid (:func:`tile_grid`), written atomically."""
    grid = tile_grid(images01, image_shape, ncols=ncols, scale=scale, pad=pad)
    if os.fspath(path) == "-":
        buffer = io.BytesIO()
        Image.fromarray(grid).save(buffer, format="PNG")
        write_stdout(buffer.getvalue())
        return
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format="PNG")


def save_filters(path, weights, image_shape, n=100):
    """Save the receptive fields of the first ``n`` hidden units as a PNG grid.

    Parameters
    ----------
    path : str or os.PathLike
        Output PNG file.
    weights : np.ndarray, shape (n_visible, n_hidden)
        RBM weights; column j is the filter of hidden unit j.
    image_shape : tuple of int
        ``(rows, cols)`` with ``rows * cols == n_visible``.
    n : int, optional
        Number of hidden units shown. Each filter is scaled to its own min (black)
        and max (white).
    """
    filters = np.asarray(weights, dtype=np.float64)[:, :n].T  # (n, n_visible)
    lo = filters.min(axis=1, keepdims=True)
    span = filters.max(axis=1, keepdims=True) - lo
    flat = span == 0
    filters = np.where(flat, 0.5, (filters - lo) / np.where(flat, 1, span))
    save_grid(path, filters, image_shape)


def read_png(path):
    """Read a PNG as grey levels.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    grey : np.ndarray, shape (rows, cols), float32 in [0, 1]
        Luminance (0 black, 1 white).
    alpha : np.ndarray, shape (rows, cols), float32 in [0, 1], or None
        Opacity, when the PNG has an alpha channel or a transparent colour.

    Raises
    ------
    InputError
        Missing file, not a PNG, or a corrupt/truncated PNG.
    """
    if os.path.isdir(path):
        raise InputError("is a directory, not a PNG file", path)
    if not os.path.exists(path):
        raise InputError("no such file", path)
    check_readable(path)
    try:
        with Image.open(path) as img:
            if img.format != "PNG":
                raise InputError(f"not a PNG file (found {img.format})", path)
            img.load()
            return _grey_alpha(img)
    except UnidentifiedImageError:
        raise InputError("not a PNG file", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError("corrupt or truncated PNG file", path) from err


def _grey_alpha(img):
    """(grey, alpha or None) float32 arrays of an opened Pillow image."""
    if img.mode in ("LA", "RGBA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
        return np.asarray(rgba.convert("L"), dtype=np.float32) / 255, alpha
    if img.mode.startswith("I"):  # 16-bit grey
        return np.asarray(img, dtype=np.float32) / 65535, None
    return np.asarray(img.convert("L"), dtype=np.float32) / 255, None
