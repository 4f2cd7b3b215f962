"""Atomic file writes: write a temporary file next to the target, then rename it.

A command that fails half-way therefore never leaves a truncated output file, and
never clobbers an existing one.
"""

import errno
import io
import os
import re
import secrets
import sys
import time
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
    if not os.access(folder, os.W_OK):
        raise InputError("cannot write: permission denied", path)
    remove_stale_temporaries(path)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError):
            raise InputError(f"cannot write: {_os_problem(err)}", path) from err
        raise


_TOKEN = re.compile(r"[0-9a-f]{8}")


def _process_start():
    """When this process started (seconds since the epoch): /proc/self/stat's start
    time where there is one, else the time this module was imported."""
    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration, AttributeError):
        return time.time()


PROCESS_START = _process_start()


def remove_stale_temporaries(path, older_than=None):
    """Remove the temporary files ``.NAME.XXXXXXXX.tmp`` that an earlier writer of
    ``path`` left behind when it was killed (SIGKILL, a power cut): those older than
    this process (or than ``older_than``, seconds since the epoch, for a caller that knows
    the writer is gone). A concurrent writer's file (newer) is left alone; errors are
    ignored."""
    cutoff = PROCESS_START if older_than is None else older_than
    folder = os.path.dirname(os.path.abspath(path))
    prefix, suffix = f".{os.path.basename(path)}.", ".tmp"
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)
                and _TOKEN.fullmatch(name[len(prefix):-len(suffix)])):
            continue
        stale = os.path.join(folder, name)
        try:
            if os.stat(stale).st_mtime < cutoff:
                os.remove(stale)
        except OSError:
            pass


STDOUT_NAME = "<stdout>"


def write_stdout(data):
    """Write ``data`` (bytes) to standard output and flush it; InputError naming
    ``<stdout>`` when that fails (a full device, a closed pipe). Standard output is then
    pointed at /dev/null, so that Python's own flush at exit cannot fail a second time with
    a traceback-like "Exception ignored" message."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as err:
        _silence_stdout()
        raise InputError(f"cannot write: {err.strerror or err}", STDOUT_NAME) from None


def _silence_stdout():
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file descriptor (a test's captured stdout)


_PROBLEMS = {errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


def _os_problem(err):
    """A short text for an OSError, also one from h5py whose message is HDF5's internals
    ("Unable to synchronously create file (unable to open file: name = ...)")."""
    if err.errno in _PROBLEMS:
        return _PROBLEMS[err.errno]
    return err.strerror or str(err).split(" (")[0]


LOCKED = ("is open for writing by another process (locked); wait for it or set "
          "HDF5_USE_FILE_LOCKING=FALSE")


def open_error(err, path, otherwise="not an HDF5 file, or corrupt"):
    """The InputError for an OSError h5py raised opening ``path`` for reading: locked by
    a writer (HDF5's "unable to lock file"), unreadable, or not HDF5 / corrupt."""
    if isinstance(err, BlockingIOError) or "unable to lock file" in str(err):
        return InputError(LOCKED, path)
    if err.errno in (errno.EACCES, errno.EPERM):
        return InputError("cannot read: permission denied", path)
    return InputError(otherwise, path)


def _readable(path):
    return os.access(path, os.R_OK)


def check_readable(path):
    """InputError ``FILE: cannot read: permission denied`` when an existing file cannot
    be read (checked before opening it, where h5py and Pillow would report something
    else or raise)."""
    if os.path.exists(path) and not _readable(path):
        raise InputError("cannot read: permission denied", path)
