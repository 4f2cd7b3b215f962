"""How many threads the kernels use.

Numba's parallel loops fork and join several times per mini-batch. When other busy
processes leave fewer free cores than threads, every join waits for a descheduled
thread, and a 1-second epoch was measured taking 15-20 s on a 2-core machine running
one other 2-thread job, where a single thread took 1.7 s. So by default ``rbm`` uses
only the cores that are free now (at least one), from a ~0.1 s sample of the cores' idle
time in /proc/stat; the 1-minute load average, which still counts a run that ended
seconds ago (``rbm``'s own previous one), only where /proc/stat does not exist.
``--threads N`` or ``RBM_THREADS=N`` overrides.
"""

import contextlib
import math
import os
import time

import numba
from threadpoolctl import threadpool_limits

from rbmcli.errors import InputError

THREADS_ENV = "RBM_THREADS"


def choose_threads(requested=None, available=None, load=None, idle=None):
    """Number of threads to use: ``requested``, else ``$RBM_THREADS``, else the cores
    not busy with other work now.

    "Now" is ``idle``, the fraction of CPU time the machine's cores spent idle over a
    short sample (:func:`idle_fraction`, 0..1); where it cannot be measured (no
    /proc/stat), the 1-minute ``load`` average. The busy cores, ``(1 - idle) * cores``
    (or the load), are rounded and taken off ``available``, leaving at least 1.

    Returns ``(threads, reason)`` where ``reason`` is a short text when the count was
    lowered because of other work, else ``None``.
    """
    if requested is None:
        requested = threads_from_env()
    if available is None:
        available = numba.config.NUMBA_NUM_THREADS
    if requested is not None:
        return max(1, min(int(requested), available)), None
    if idle is None and load is None:
        idle = idle_fraction()
    if idle is not None:
        cores = os.cpu_count() or available
        busy = (1.0 - min(max(idle, 0.0), 1.0)) * cores
        why = f"{busy:.1f} of {cores} cores busy just now"
    else:
        if load is None:
            try:
                load = os.getloadavg()[0]
            except OSError:  # not available on this platform
                load = 0.0
        busy = load
        why = f"load {load:.1f} on {available} cores"
    free = max(1, min(available, available - math.floor(busy + 0.5)))
    reason = None
    if free < available:
        reason = (f"machine busy ({why}): using {free} thread{'s' if free > 1 else ''}; "
                  f"--threads or ${THREADS_ENV} overrides")
    return free, reason


SAMPLE_SECONDS = 0.08
"""How long :func:`idle_fraction` watches the cores (two reads of /proc/stat)."""


def _cpu_times(path="/proc/stat"):
    """(idle, total) jiffies of all cores from the ``cpu`` line of /proc/stat, or None."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return values[3] + values[4], sum(values)


def idle_fraction(seconds=SAMPLE_SECONDS, path="/proc/stat"):
    """The fraction of CPU time all cores were idle during the next ``seconds`` (this
    process sleeps meanwhile, so it measures the other work), or None where /proc/stat
    cannot be read (then the load average decides). Unlike the 1-minute load average it
    does not count a run that ended seconds ago, such as ``rbm``'s own previous one."""
    first = _cpu_times(path)
    if first is None:
        return None
    time.sleep(seconds)
    second = _cpu_times(path)
    if second is None or second[1] <= first[1]:
        return None
    return (second[0] - first[0]) / (second[1] - first[1])


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
