"""Sizes of memory: what the machine has available now, sizes in words, and the
``--memory SIZE`` budget of ``rbm train`` (:func:`parse_size`, :func:`default_budget`).

Only the standard library is imported, so that the command modules may use this module at
their top level (``rbm --help`` stays instant).
"""

import os
import re

DEFAULT_FRACTION = 0.5
"""The default training budget: this fraction of the memory available when a run starts."""

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)


def available_memory():
    """Bytes of memory available now (``MemAvailable`` of /proc/meminfo, else the free
    physical pages), or None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def size_text(n_bytes):
    """``n_bytes`` in words: ``"512 bytes"``, ``"4.7 MB"``, ``"1.0 GB"`` (powers of 1000)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000


def parse_size(value):
    """Bytes of a size such as ``"64M"``, ``"2G"``, ``"1.5GB"``, ``"512MiB"`` or ``4096``.

    K, M, G and T are powers of 1000 (as :func:`size_text` prints sizes), Ki, Mi, Gi and Ti
    powers of 1024; a trailing ``B`` is optional.

    Parameters
    ----------
    value : str or int

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        Not a size, or a size below one byte (a one-line message).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        number, scale = value, 1
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size like 64M, 2G or 512MiB")
        number, scale = float(match.group(1)), _UNITS[(match.group(2) or "").lower()]
    n_bytes = int(number * scale)
    if n_bytes < 1:
        raise ValueError(f"{value!r} is less than one byte; give a size like 64M or 2G")
    return n_bytes


def default_budget():
    """The training budget when ``--memory`` is not given: :data:`DEFAULT_FRACTION` of the
    memory available now, or None (no limit) when that is unknown."""
    have = available_memory()
    return None if have is None else int(have * DEFAULT_FRACTION)
