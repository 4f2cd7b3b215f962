"""The MNIST idx files: read them from a folder or download them, check their SHA-256.

Checksums are those of the *uncompressed* files: mirrors compress differently, so
the .gz bytes vary while the content does not.
"""

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib

import numpy as np

from rbmcli.errors import InputError

DEFAULT_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}

# split -> (images file, labels file)
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_MAGIC = {0x0801: 1, 0x0803: 3}  # magic number -> number of dimensions (uint8 data)
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(data, name):
    """Parse an idx file of unsigned bytes (labels or images).

    Parameters
    ----------
    data : bytes
        The uncompressed file: a big-endian header (magic 0x00000801 for labels,
        0x00000803 for images, then one uint32 per dimension) and the raw bytes.
    name : str
        File name or URL, used in error messages.

    Returns
    -------
    np.ndarray, uint8
        Shape (N,) for labels, (N, rows, cols) for images.

    Raises
    ------
    InputError
        Unknown magic number, short header, or a size that does not match the header.
    """
    if len(data) < 4:
        raise InputError(f"not an idx file ({len(data)} bytes)", name)
    magic = int.from_bytes(data[:4], "big")
    if magic not in _MAGIC:
        raise InputError(f"not an idx file of bytes (magic number 0x{magic:08x})", name)
    ndim = _MAGIC[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"truncated idx header ({len(data)} bytes)", name)
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise InputError(f"size mismatch: header {shape} needs {expected} bytes, found {len(data)}", name)
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def load_mnist(source_dir=None, url=None, log=None):
    """Read the four MNIST files from a folder, or download them.

    Parameters
    ----------
    source_dir : str or os.PathLike, optional
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzipped
        (``.gz``) or raw.
    url : str, optional
        URL prefix to download ``NAME.gz`` from; :data:`DEFAULT_URL` when neither
        ``source_dir`` nor ``url`` is given.
    log : callable, optional
        Called with one-line progress messages (e.g. ``"downloading URL"``).

    Returns
    -------
    dict
        ``{"train": (images, labels), "test": (images, labels)}`` with images uint8
        of shape (60000, 784) / (10000, 784) and labels uint8 of shape (N,).

    Raises
    ------
    InputError
        Missing file, download error, bad gzip data, checksum mismatch (all naming
        the file or URL) or a malformed idx file.
    """
    if source_dir is not None and url is not None:
        raise ValueError("give source_dir or url, not both")
    if source_dir is None:
        url = url or DEFAULT_URL
        url = url if url.endswith("/") else url + "/"
    elif not os.path.isdir(source_dir):
        raise InputError("no such directory", source_dir)

    out = {}
    for split, (images_name, labels_name) in FILES.items():
        arrays = []
        for name in (images_name, labels_name):
            if source_dir is not None:
                data, where = _read_local(source_dir, name)
            else:
                where = url + name + ".gz"
                if log:
                    log(f"downloading {where}")
                data = _download(where)
            data = _gunzip(data, where)
            found = hashlib.sha256(data).hexdigest()
            if found != SHA256[name]:
                raise InputError(f"checksum mismatch: expected {SHA256[name]}, found {found}", where)
            arrays.append(read_idx(data, where))
        images, labels = arrays
        if len(images) != len(labels):
            raise InputError(f"{len(images)} images but {len(labels)} labels", images_name)
        out[split] = (images.reshape(len(images), -1), labels)
    return out


def _read_local(folder, name):
    """Bytes of ``name.gz`` or ``name`` in ``folder``, and the path read."""
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return f.read(), path
    raise InputError(f"no {name}(.gz) in this folder", folder)


def _download(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        raise InputError(f"download failed: HTTP {err.code} {err.reason}", url) from None
    except urllib.error.URLError as err:
        raise InputError(f"download failed: {err.reason}", url) from None
    except (OSError, ValueError) as err:
        raise InputError(f"download failed: {err}", url) from None


def _gunzip(data, name):
    """Decompress gzip data (recognised by its magic bytes); raw data is returned as is."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"corrupt gzip data ({err})", name) from None
