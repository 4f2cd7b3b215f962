"""How many threads the kernels use.

Numba's parallel loops fork and join several times per mini-batch. When other busy
processes leave fewer free cores than threads, every join waits for a descheduled
thread, and a 1-second epoch was measured taking 15-20 s on a 2-core machine running
one other 2-thread job, where a single thread took 1.7 s. So by default ``rbm`` uses
only the cores that the 1-minute load average says are free (at least one);
``--threads N`` or ``RBM_THREADS=N`` overrides.
"""

import contextlib
import math
import os

import numba
from threadpoolctl import threadpool_limits

from rbmcli.errors import InputError

THREADS_ENV = "RBM_THREADS"


def choose_threads(requested=None, available=None, load=None):
    """Number of threads to use: ``requested``, else ``$RBM_THREADS``, else the cores
    not busy with other work (``available`` minus the rounded load, at least 1).

    Returns ``(threads, reason)`` where ``reason`` is a short text when the count was
    lowered because of load, else ``None``.
    """
    if requested is None:
        requested = threads_from_env()
    if available is None:
        available = numba.config.NUMBA_NUM_THREADS
    if requested is not None:
        return max(1, min(int(requested), available)), None
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            load = 0.0
    free = max(1, min(available, available - math.floor(load + 0.5)))
    reason = None
    if free < available:
        reason = (f"machine busy (load {load:.1f} on {available} cores): using {free} "
                  f"thread{'s' if free > 1 else ''}; --threads or ${THREADS_ENV} overrides")
    return free, reason


def threads_from_env():
    """``$RBM_THREADS`` as a positive int, None when unset or empty; InputError naming
    the variable when it is anything else (``abc``, ``0``, ``-1``)."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise InputError(f"expected a whole number of threads >= 1, found {value!r}",
                         f"${THREADS_ENV}")
    return threads


def configure_threads(requested=None, log=None):
    """Set the thread count of Numba's kernels and of the BLAS library NumPy calls (the
    Gaussian RBM's and the flows' dense products) for this process (see
    :func:`choose_threads`)."""
    threads, reason = choose_threads(requested)
    numba.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")
    if reason and log:
        log(reason)
    return threads


@contextlib.contextmanager
def blas_threads(n):
    """Limit BLAS (OpenBLAS/MKL) to ``n`` threads inside the block (threadpoolctl); no
    limit when ``n`` is None."""
    if n is None:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield
