"""HDF5 data files: load and check a data set, write one, turn pixels into [0, 1] or bits.

File layout (``format = "rbm-data"``)::

    /                  attrs: format, format_version, rbm_version, image_shape?
    /images            (N, D) uint8 0..255, bool, or float in [0, 1]   (root data set)
    /labels            (N,) int, optional
    /train/images      (N, D) ...  attrs of /train: image_shape = (rows, cols)
    /train/labels      (N,)
    /test/...

A data set is named by a *spec*: ``FILE.h5`` (its ``train`` group when it has one,
else the root ``images``), ``FILE.h5:GROUP`` or ``-`` (HDF5 bytes on standard input).
"""

import contextlib
import io
import math
import os
import sys
from dataclasses import dataclass

import h5py
import numpy as np

from rbmcli import __version__
from rbmcli.io.atomic import atomic_path, check_readable, open_error, write_stdout
from rbmcli.errors import InputError
from rbmcli.pixels import (as_unit_float, binarize_stochastic,  # noqa: F401 (re-exported)
                           binarize_threshold)

FORMAT = "rbm-data"
FORMAT_VERSION = 1
STDIN_NAME = "<stdin>"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_COMPRESS_ABOVE = 1 << 20  # bytes: gzip + chunk image arrays larger than 1 MB


@dataclass
class Dataset:
    """A set of images, each a flattened grey image, with optional labels.

    Attributes
    ----------
    images : np.ndarray, shape (N, D)
        uint8 0..255, bool, or float32/float64 in [0, 1]; C-contiguous.
    labels : np.ndarray, shape (N,), or None
        Integer class labels.
    image_shape : tuple of int
        ``(rows, cols)`` with ``rows * cols == D``.
    source : str
        Where the data came from, e.g. ``"mnist.h5:test"``.
    """

    images: np.ndarray
    labels: np.ndarray | None
    image_shape: tuple
    source: str


# --------------------------------------------------------------------------- loading


def split_spec(spec):
    """Split a data spec into ``(file, group)``.

    The spec is split on its last colon only when the part after it is non-empty,
    contains no ``/`` and the part before it is ``-`` or an existing file; otherwise
    the whole spec is the file name (so odd file names still work).

    Parameters
    ----------
    spec : str
        ``FILE``, ``FILE:GROUP``, ``-`` or ``-:GROUP``.

    Returns
    -------
    file : str
    group : str or None
    """
    head, sep, tail = spec.rpartition(":")
    if sep and tail and "/" not in tail and (head == "-" or os.path.isfile(head)):
        return head, tail
    return spec, None


def load_dataset(spec):
    """Load and check a data set from an HDF5 file.

    Parameters
    ----------
    spec : str or Dataset
        ``FILE.h5`` (its ``train`` group when it has one, else the root ``images``),
        ``FILE.h5:GROUP`` (that group's ``images``) or ``-`` (read the HDF5 bytes
        from standard input); a :class:`Dataset` is returned as it is.

    Returns
    -------
    Dataset
        ``images`` of shape (N, D) exactly as stored (uint8, bool or float), ``labels``
        of shape (N,) or None.

    Raises
    ------
    InputError
        Missing file, not HDF5 or corrupt, missing group, no ``images`` data set, bad
        shape, empty, NaN/inf, floats outside [0, 1], unsupported dtype, or labels of
        the wrong length. The message names the file.
    """
    if isinstance(spec, Dataset):  # already loaded (the Python API's arrays)
        return spec
    path, group = split_spec(spec)
    if path == "-":
        name, data = STDIN_NAME, sys.stdin.buffer.read()
        if not data.startswith(_HDF5_SIGNATURE):
            raise InputError("not an HDF5 file", name)
        target = io.BytesIO(data)
    else:
        name = target = _check_file(path, spec)
    with _open(target, name) as f:
        return _read_dataset(f, name, group)


def open_image_file(spec):
    """The images of a data file, checked like :func:`load_dataset` but not read: an
    :class:`ImageFile` that reads rows on demand (for training on data larger than memory).

    Parameters
    ----------
    spec : str
        ``FILE.h5`` or ``FILE.h5:GROUP`` (not ``-``: standard input is read whole).

    Raises
    ------
    InputError
        As :func:`load_dataset`, for everything but the pixel values, which
        :class:`ImageFile` checks as it reads them.
    """
    path, group = split_spec(spec)
    name = _check_file(path, spec)
    with _open(name, name) as f:
        images, _, group, shape, image_shape = _images_node(f, name, group)
        dtype = _pixel_dtype(images.dtype, name)
        storage_rows = images.chunks[0] if images.chunks else None
        key = images.name
    source = f"{name}:{group}" if group else name
    return ImageFile(name, key, shape, dtype, image_shape, source, storage_rows)


class ImageFile:
    """The (N, D) images of a data file, read on demand: ``images[a:b]`` (one HDF5 slice)
    or ``images[index]`` (rows in any order, repeats allowed) return checked NumPy rows
    as :func:`load_dataset` would hold them (float16 becomes float32). Make one with
    :func:`open_image_file`.

    Attributes
    ----------
    shape : (N, D)
    dtype : numpy.dtype
        Of the rows returned.
    image_shape : (rows, cols)
    source : str
        ``FILE`` or ``FILE:GROUP``.
    storage_rows : int or None
        Rows per HDF5 storage chunk (None: not chunked); reads of whole chunks are fastest.
    """

    def __init__(self, path, key, shape, dtype, image_shape, source, storage_rows):
        self.path, self.key = path, key
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.image_shape, self.source, self.storage_rows = image_shape, source, storage_rows

    def __len__(self):
        return self.shape[0]

    @property
    def nbytes(self):
        """Bytes of all the rows in memory."""
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def __getitem__(self, index):
        """Rows (n, D) at a slice (step 1) or at an integer index array of shape (n,)."""
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("ImageFile slices must have step 1")
            return self._read(slice(start, max(start, stop)))
        index = np.asarray(index, np.int64).reshape(-1)
        unique, inverse = np.unique(index, return_inverse=True)
        if len(unique) == 0:
            return np.empty((0, self.shape[1]), self.dtype)
        rows = self._read(unique)  # h5py reads increasing indices only
        return rows if np.array_equal(unique, index) else rows[inverse.reshape(-1)]

    def __array__(self, dtype=None, copy=None):
        raise TypeError("an ImageFile is read by slices or index arrays, not converted "
                        "whole (that is load_dataset)")

    def _read(self, selection):
        with _open(self.path, self.path) as f:
            rows = f[self.key][selection]
        rows = _check_pixels(rows.reshape(len(rows), -1), self.path)
        return np.ascontiguousarray(rows)


def _check_file(path, spec):
    """``path`` when it is an existing, readable HDF5 file, else InputError."""
    if os.path.isdir(path):
        raise InputError("is a directory, not an HDF5 file", path)
    if not os.path.exists(path):
        raise InputError("no such file", _missing_file_name(spec))
    check_readable(path)
    if not h5py.is_hdf5(path):
        raise InputError("not an HDF5 file", path)
    return path


@contextlib.contextmanager
def _open(target, name):
    """The HDF5 file ``target`` (a path or a file object) opened for reading; a corrupt
    file is an InputError naming ``name``."""
    try:
        f = h5py.File(target, "r")
    except OSError as err:
        raise open_error(err, name, "corrupt or truncated HDF5 file") from err
    try:
        with f:
            yield f
    except (OSError, RuntimeError) as err:
        raise InputError("corrupt or truncated HDF5 file", name) from err


def image_groups(path):
    """What an HDF5 data file holds: ``(groups, root)``, the names of its top-level groups
    that have an ``images`` data set, and whether the root has one. InputError naming the
    file when it is missing, unreadable, not HDF5, or corrupt."""
    check_readable(path)
    try:
        with h5py.File(path, "r") as f:
            groups = [name for name in f
                      if isinstance(f[name], h5py.Group) and "images" in f[name]]
            root = "images" in f
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as err:
        raise open_error(err, path) from None
    return groups, root


def _missing_file_name(spec):
    """The file part of a spec whose file does not exist (``x.h5:test`` -> ``x.h5``)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail and "/" not in tail and "\\" not in tail:
        return head
    return spec


def _images_node(f, name, group):
    """``(images, g, group, (n, d), image_shape)``: the ``images`` data set (not read) of
    ``group`` (None: the default) in the open file ``f``, its group, the group's name, the
    images' 2-D shape and (rows, cols); InputError when missing or of a bad shape."""
    if group is None:
        group = "train" if isinstance(f.get("train"), h5py.Group) else ""
    elif not isinstance(f.get(group), h5py.Group):
        raise InputError(f"no group '{group}' ({_list_groups(f)})", name)
    g = f[group] if group else f
    where = f"group '{group}'" if group else "the root"
    if "images" not in g:
        hint = f" ({_list_groups(f)})" if not group else ""
        raise InputError(f"no 'images' dataset in {where}{hint}", name)
    images = g["images"]
    if not isinstance(images, h5py.Dataset):
        raise InputError(f"'images' in {where} is not a dataset", name)
    if images.ndim not in (2, 3):
        raise InputError(
            f"images must be 2-D (N, pixels) or 3-D (N, rows, cols), got shape {images.shape}", name
        )
    n, d = images.shape[0], math.prod(images.shape[1:])
    if n == 0 or d == 0:
        raise InputError(f"no images (shape {images.shape})", name)
    image_shape = tuple(int(s) for s in images.shape[1:]) if images.ndim == 3 else \
        _image_shape(g.attrs.get("image_shape", f.attrs.get("image_shape")), d, name)
    return images, g, group, (n, d), image_shape


def _read_dataset(f, name, group):
    """Read and check ``images``/``labels`` of ``group`` (None: the default) in ``f``."""
    images, g, group, (n, d), image_shape = _images_node(f, name, group)
    images = _check_pixels(images[()].reshape(n, d), name)

    labels = None
    if "labels" in g:
        labels = np.asarray(g["labels"][()])
        if labels.shape != (n,):
            raise InputError(f"labels have shape {labels.shape}, expected ({n},) like the images", name)
        if labels.dtype.kind not in "iu":
            raise InputError(f"labels must be integers, got {labels.dtype}", name)

    source = f"{name}:{group}" if group else name
    return Dataset(np.ascontiguousarray(images), labels, image_shape, source)


def _list_groups(f):
    groups = [k for k in f if isinstance(f[k], h5py.Group)]
    return f"groups: {', '.join(groups)}" if groups else "no groups"


def _check_pixels(images, name):
    """Check the dtype and range of (N, D) images; returns them (float16 -> float32)."""
    dtype = _pixel_dtype(images.dtype, name)
    if dtype.kind == "f":
        images = images.astype(dtype, copy=False)
        if not np.isfinite(images).all():
            raise InputError("images contain NaN or infinite values", name)
        lo, hi = images.min(), images.max()
        if lo < 0 or hi > 1:
            raise InputError(f"float images must lie in [0, 1], found values in [{lo:g}, {hi:g}]", name)
    return images


def _pixel_dtype(dtype, name):
    """The dtype images of ``dtype`` are held in (float16 -> float32); InputError when
    it is not uint8, bool or float."""
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize < 4 else dtype
    if dtype != np.uint8 and dtype != np.bool_:
        raise InputError(f"images have dtype {dtype}; expected uint8, bool or float in [0, 1]", name)
    return dtype


def _image_shape(attr, d, name):
    """(rows, cols) from an ``image_shape`` attribute, or guessed from D pixels."""
    if attr is None:
        side = math.isqrt(d)
        return (side, side) if side * side == d else (1, d)
    shape = tuple(int(s) for s in np.ravel(attr))
    if len(shape) != 2 or min(shape) < 1 or shape[0] * shape[1] != d:
        raise InputError(f"image_shape attribute {shape} does not match {d} pixels per image", name)
    return shape


# --------------------------------------------------------------------------- writing


def write_dataset(path, groups, attrs=None):
    """Write images (and labels) to an HDF5 data file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; ``"-"`` writes the HDF5 bytes to standard output. A file is
        written to a temporary name in the same folder, then renamed, so an error
        never leaves a partial file nor touches an existing one.
    groups : dict
        Group name (``""`` for the root) -> dict with keys

        - ``"images"``: np.ndarray, shape (N, D) or (N, rows, cols)
        - ``"labels"``: np.ndarray, shape (N,), optional
        - ``"image_shape"``: (rows, cols), optional (from 3-D images, else a square
          when D is a perfect square, else (1, D))
        - ``"attrs"``: dict of extra attributes of the group, optional
    attrs : dict, optional
        Extra attributes of the root (``format``, ``format_version`` and
        ``rbm_version`` are always set).

    Raises
    ------
    ValueError
        Bad shapes in ``groups``.
    InputError
        The file cannot be written.
    """
    if os.fspath(path) == "-":
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as f:
            _write_groups(f, groups, attrs)
        write_stdout(buffer.getvalue())
        return
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w-") as f:
            _write_groups(f, groups, attrs)


def _write_groups(f, groups, attrs):
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["rbm_version"] = __version__
    for key, value in (attrs or {}).items():
        f.attrs[key] = value
    for name, content in groups.items():
        g = f.require_group(name) if name else f
        images = np.asarray(content["images"])
        image_shape = content.get("image_shape")
        if images.ndim == 3:
            image_shape = image_shape or images.shape[1:]
            images = images.reshape(len(images), -1)
        if images.ndim != 2:
            raise ValueError(f"images must be 2-D or 3-D, got shape {images.shape}")
        n, d = images.shape
        if image_shape is None:
            side = math.isqrt(d)
            image_shape = (side, side) if side * side == d else (1, d)
        if int(image_shape[0]) * int(image_shape[1]) != d:
            raise ValueError(f"image_shape {tuple(image_shape)} does not match {d} pixels")
        options = {}
        if images.nbytes > _COMPRESS_ABOVE:
            rows = max(1, min(n, _COMPRESS_ABOVE // 4 // max(1, images.itemsize * d)))
            options = dict(chunks=(rows, d), compression="gzip", compression_opts=4)
        g.create_dataset("images", data=np.ascontiguousarray(images), **options)
        if content.get("labels") is not None:
            labels = np.asarray(content["labels"])
            if labels.shape != (n,):
                raise ValueError(f"labels have shape {labels.shape}, expected ({n},)")
            g.create_dataset("labels", data=labels)
        g.attrs["image_shape"] = np.array(image_shape, dtype=np.int64)
        for key, value in content.get("attrs", {}).items():
            g.attrs[key] = value
