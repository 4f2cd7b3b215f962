"""Numba settings shared by every kernel: one place for fast-math, caching, threads and
the choice between the hand-written LLVM intrinsics and their plain-Numba twins.

* fast-math: everything LLVM offers *except* ``nnan`` and ``ninf``: free energies and
  log-sum-exps need infinities (``exp`` overflow, ``log(0)``) to behave as IEEE says.
  ``reassoc`` lets LLVM vectorise sums, so float32 sums may differ from NumPy's in the
  last bits; tests compare with tolerances.
* cache: every kernel is cached on disk (``__pycache__`` beside the source, or Numba's
  user cache when that is read-only), so only the first run of a new install compiles.
* threads: parallel kernels use Numba's thread pool (``NUMBA_NUM_THREADS``); results
  never depend on the thread count because random numbers come from counter-based keys
  (see :mod:`rbmcli.kernels.rng`), not from per-thread streams.
* ``RBM_PLAIN_KERNELS``: read once, here, when the kernels are first imported. ``1``
  makes every kernel use the plain-Numba twin of each hand-written intrinsic (ordinary
  loops, no llvmlite; see :mod:`rbmcli.kernels.intrinsics`): a fallback for a CPU or an
  LLVM the intrinsics misbehave on, and a reference to debug them against. Unset,
  empty or ``0``: the intrinsics (the default, and the fast path); any other value is
  an error. Each intrinsic module binds its public names once, at import
  (``f = f_plain if PLAIN else f_ir``): no kernel tests the setting at run time.

  Numba's on-disk cache does not know which implementation a cached kernel inlined
  (its key is the kernel's own bytecode, not that of the functions it calls), so the
  two settings must never share a cache: with ``RBM_PLAIN_KERNELS=1`` this module
  points Numba's cache directory (``numba.config.CACHE_DIR``, for the whole process)
  at the subfolder :data:`PLAIN_CACHE_SUBDIR` of ``NUMBA_CACHE_DIR``, or of Numba's
  user-wide cache folder when that is unset; the default keeps Numba's usual places
  and never uses that subfolder (a process started from a plain one with the
  variable set to 0 moves back to its parent). If the plain cache folder cannot be written, the
  plain kernels are not cached at all (rather than falling back to a shared folder).
"""

import os
import tempfile

import numba
from numba.misc.appdirs import AppDirs  # where Numba's user-wide cache lives

# Start Numba's thread pool now. Cached serial kernels that call parallel ones link
# against the pool's scheduler symbols; a serial kernel calling a serial kernel that
# calls a parallel one (a version of apply_update that did) aborted with "LLVM ERROR:
# Symbol not found: allocate_sched" when loaded from the on-disk cache before any
# parallel kernel had run (the numba#2439 family). Starting the pool costs nothing.
numba.get_num_threads()

PLAIN_ENV = "RBM_PLAIN_KERNELS"
PLAIN_CACHE_SUBDIR = "rbm-plain-kernels"


def _read_plain(value):
    """``RBM_PLAIN_KERNELS`` as a bool: "" or "0" False, "1" True, anything else an error."""
    value = value.strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise ValueError(f"{PLAIN_ENV} must be 0 or 1 (or unset), not {value!r}")


PLAIN = _read_plain(os.environ.get(PLAIN_ENV, ""))
"""True: kernels use the plain-Numba twins of the intrinsics (decided once, here)."""


def _plain_cache_dir():
    """The cache folder of the plain kernels, or None when it cannot be written."""
    base = numba.config.CACHE_DIR
    if not base:
        base = AppDirs(appname="numba", appauthor=False).user_cache_dir
    if os.path.basename(os.path.normpath(base)) != PLAIN_CACHE_SUBDIR:
        base = os.path.join(base, PLAIN_CACHE_SUBDIR)
    try:
        os.makedirs(base, exist_ok=True)
        tempfile.TemporaryFile(dir=base).close()
    except OSError:
        return None
    return base


CACHE = True
"""Whether kernels are cached on disk (False only for plain kernels without a folder)."""
if PLAIN:
    _dir = _plain_cache_dir()
    if _dir is None:
        CACHE = False
    else:
        # Numba re-reads its NUMBA_* variables when one of them changes; keep the
        # variable in step so that such a reload cannot point the cache back.
        os.environ["NUMBA_CACHE_DIR"] = _dir
        numba.config.CACHE_DIR = _dir
elif numba.config.CACHE_DIR and os.path.basename(
        os.path.normpath(numba.config.CACHE_DIR)) == PLAIN_CACHE_SUBDIR:
    # a process started from a plain one, with the variable turned off: its inherited
    # NUMBA_CACHE_DIR is the plain folder, which the intrinsics must not share
    _dir = os.path.dirname(os.path.normpath(numba.config.CACHE_DIR))
    os.environ["NUMBA_CACHE_DIR"] = _dir
    numba.config.CACHE_DIR = _dir

FASTMATH = set({"nsz", "arcp", "contract", "afn", "reassoc"})

JIT = dict(nogil=True, cache=CACHE, fastmath=FASTMATH, error_model="numpy")
"""Options for serial kernels."""

PARALLEL_JIT = dict(JIT, parallel=True)
"""Options for kernels with a ``prange`` loop."""

HELPER = JIT
"""Options for the small helpers the kernels call (row sums, masks, draws).

Each helper compiles once per signature and LLVM inlines it into its callers when
their modules are linked (Numba optimises a kernel's module after linking in its
callees' code). They used to be inlined at Numba's IR level (``inline="always"``):
the same machine code (a CD-1 step at 1.000 of the time, ``benchmarks/ab_kernels.py``)
for twice the compile time, since every caller typed and parallelised its own copy of
each helper's body (a new install's first ``rbm train``: 66 s of compiling, 35 s
without). So never pass a helper or a kernel a literal constant either: Numba types a
call's constant ``True`` or ``1`` as a literal and compiles a separate specialization
for it (``tests/test_compiling.py`` checks that none is compiled)."""
