"""Atomic file writes: write a temporary file next to the target, then rename it.

A command that fails half-way therefore never leaves a truncated output file, and
never clobbers an existing one.
"""

import os
import secrets
from contextlib import contextmanager

from rbmcli.errors import InputError


@contextmanager
def atomic_path(path):
    """Yield a temporary path in the folder of ``path``; move it onto ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The file to (over)write.

    Yields
    ------
    str
        A path that does not exist yet, in the same folder as ``path`` (so that the
        final :func:`os.replace` is atomic). The caller creates and writes it.

    Raises
    ------
    InputError
        When the folder does not exist or the file cannot be written. On any error
        the temporary file is removed and ``path`` is left untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write: no such directory {folder!r}", path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError):
            raise InputError(f"cannot write: {err.strerror or err}", path) from err
        raise
