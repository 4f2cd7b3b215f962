"""Numba settings shared by every kernel: one place for fast-math, caching and threads.

* fast-math: everything LLVM offers *except* ``nnan`` and ``ninf``: free energies and
  log-sum-exps need infinities (``exp`` overflow, ``log(0)``) to behave as IEEE says.
  ``reassoc`` lets LLVM vectorise sums, so float32 sums may differ from NumPy's in the
  last bits; tests compare with tolerances.
* cache: every kernel is cached on disk (``__pycache__`` beside the source, or Numba's
  user cache when that is read-only), so only the first run of a new install compiles.
* threads: parallel kernels use Numba's thread pool (``NUMBA_NUM_THREADS``); results
  never depend on the thread count because random numbers come from counter-based keys
  (see :mod:`rbmcli.kernels.rng`), not from per-thread streams.
"""

import numba

# Start Numba's thread pool now. Cached serial kernels that call parallel ones link
# against the pool's scheduler symbols; a serial kernel calling a serial kernel that
# calls a parallel one (a version of apply_update that did) aborted with "LLVM ERROR:
# Symbol not found: allocate_sched" when loaded from the on-disk cache before any
# parallel kernel had run (the numba#2439 family). Starting the pool costs nothing.
numba.get_num_threads()

FASTMATH = set({"nsz", "arcp", "contract", "afn", "reassoc"})

JIT = dict(nogil=True, cache=True, fastmath=FASTMATH, error_model="numpy")
"""Options for serial kernels."""

PARALLEL_JIT = dict(JIT, parallel=True)
"""Options for kernels with a ``prange`` loop."""

INLINE = dict(nogil=True, cache=True, fastmath=FASTMATH, inline="always",
              error_model="numpy")
"""Options for small helpers that are inlined into the kernels that call them."""
