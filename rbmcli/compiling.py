"""How long Numba spends compiling kernels, told apart from the time the kernels run.

Every kernel is cached on disk (:mod:`rbmcli.kernels._config`), so only the first run of
a new install compiles, but that run spends about a minute in Numba during its first
batch. :class:`CompileClock` listens to Numba's ``"numba:compile"`` events, which a
dispatcher broadcasts only when it really compiles (a signature loaded from the on-disk
cache broadcasts nothing), and adds up their wall time. Compiling one kernel compiles
the kernels it calls inside the same event, so only the outermost events are timed
(no compile time is counted twice). Numba compiles under one process-wide lock, so the
events of one process never interleave.

    with compiling.watch(on_start=lambda: log("compiling ...")) as clock:
        ...                 # calls kernels
    clock.seconds           # wall time spent compiling, 0.0 when all came from the cache

Numba compiles on one core. :func:`compile_alongside` puts the second to work on a new
install: a kernel that a command calls later is compiled into the on-disk cache by a
second process while this one compiles the kernels it calls first (``rbm train``: the
parameter update, 11 of the 25 s of its first run's compiling, beside the Gibbs sweeps).
"""

import importlib
import os
import pickle
import resource
import subprocess
import sys
import time
from contextlib import contextmanager

import numba
from numba.core import event

EVENT = "numba:compile"


class CompileClock(event.Listener):
    """Adds up the wall time of the outermost Numba compile events, and keeps a row per
    specialization compiled.

    ``on_start()`` (optional) is called when a compile begins and nothing has compiled
    yet under this clock: the moment to say that a pause is coming.

    ``rows``: one :class:`Compiled` per specialization, in the order they started,
    nested ones included (``benchmarks/compile_time.py`` prints them;
    ``tests/test_compile.py`` checks them).
    """

    def __init__(self, on_start=None):
        self.on_start_compiling = on_start
        self.count = 0          # outermost compiles finished
        self.seconds = 0.0      # their wall time
        self.cpu_seconds = 0.0  # their CPU time, in this process and in compile_alongside's
        self.rows = []
        self._open = []         # [row, wall start, cpu start, wall of nested, cpu of nested]

    def on_start(self, ev):
        if not self._open and self.count == 0 and self.on_start_compiling is not None:
            self.on_start_compiling()
        disp = ev.data["dispatcher"]
        row = Compiled(f"{disp.py_func.__module__}.{disp.py_func.__qualname__}",
                       tuple(ev.data["args"]), len(self._open))
        self.rows.append(row)
        self._open.append([row, time.perf_counter(), time.process_time(), 0.0, 0.0])

    def on_end(self, ev):
        row, wall0, cpu0, nested_wall, nested_cpu = self._open.pop()
        wall = time.perf_counter() - wall0
        # a compile in another process (Alongside.wait) says how long it took there
        cpu = ev.data.get("cpu_seconds", time.process_time() - cpu0)
        row.seconds, row.own_seconds = wall, wall - nested_wall
        row.cpu_seconds, row.own_cpu_seconds = cpu, cpu - nested_cpu
        if self._open:
            self._open[-1][3] += wall
            self._open[-1][4] += cpu
        else:
            self.seconds += wall
            self.cpu_seconds += cpu
            self.count += 1

    @property
    def depth(self):
        """How many compiles are under way (nested ones count)."""
        return len(self._open)

    @property
    def compiled(self):
        """True when anything compiled under this clock."""
        return bool(self.rows)


class Compiled:
    """One compiled specialization: ``name`` (module.qualname of the Python function),
    ``args`` (its Numba argument types), ``depth`` (0: compiled for a call from
    Python; 1 and more: inside the compilation of a caller); after it ends, wall and
    process seconds including what it compiled inside (``seconds``, ``cpu_seconds``)
    and without (``own_seconds``, ``own_cpu_seconds``)."""

    def __init__(self, name, args, depth):
        self.name, self.args, self.depth = name, args, depth
        self.seconds = self.own_seconds = self.cpu_seconds = self.own_cpu_seconds = 0.0

    @property
    def signature(self):
        return "(" + ", ".join(str(a) for a in self.args) + ")"


@contextmanager
def watch(on_start=None):
    """A :class:`CompileClock` listening to Numba's compile events within the block."""
    clock = CompileClock(on_start)
    with event.install_listener(EVENT, clock):
        yield clock


class Alongside:
    """A kernel compiling in another process (:func:`compile_alongside`)."""

    def __init__(self, kernel, signature, process):
        self.kernel, self.signature, self.process = kernel, signature, process

    def wait(self, timeout=600):
        """Wait until the other process is done (then the kernel loads from the on-disk
        cache: this process does not compile it again). Counted as compiling by the
        clocks of :func:`watch`, as Numba's own compile events are (with the other
        process's CPU time as theirs). If it fails or takes longer than ``timeout``
        seconds, the kernel simply compiles here."""
        data = {"dispatcher": self.kernel, "args": self.signature}
        event.start_event(EVENT, data)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            self.process.wait(timeout)
        except BaseException:  # a timeout, Ctrl-C: leave no compiler running
            self.process.kill()
            self.process.wait()
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise
        finally:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            data["cpu_seconds"] = (after.ru_utime + after.ru_stime
                                   - before.ru_utime - before.ru_stime)
            event.end_event(EVENT, data)


def compile_alongside(kernel, args):
    """Compile the Numba dispatcher ``kernel`` for the types of ``args`` in a second
    process, into the on-disk cache, while this one goes on; ``wait()`` on the returned
    :class:`Alongside` before the first call of ``kernel``.

    Returns None, and starts nothing, when there is nothing to gain: the kernel has
    cache entries already (an install that ran before), its kernels are not cached, or
    Numba runs one thread (a busy machine or ``--threads 1``: no core to spare).
    """
    index = getattr(getattr(getattr(kernel, "_cache", None), "_cache_file", None),
                    "_index_path", None)
    if index is None or os.path.exists(index) or numba.get_num_threads() < 2:
        return None
    signature = tuple(numba.typeof(a) for a in args)
    module = sys.modules[kernel.py_func.__module__]
    process = subprocess.Popen(
        [sys.executable, "-c", _SECOND_PROCESS], stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with process.stdin:
        process.stdin.write(pickle.dumps((sys.path, module.__name__, module.__file__,
                                          kernel.py_func.__qualname__, signature)))
    return Alongside(kernel, signature, process)


_SECOND_PROCESS = ("import pickle, sys; job = pickle.load(sys.stdin.buffer); "
                   "sys.path[:] = job[0]; import rbmcli.compiling as c; c.compile_job(*job[1:])")
"""The second process of :func:`compile_alongside`. It takes this process's ``sys.path``
before it imports anything of rbmcli: ``python -m`` or ``-c`` would put its working
folder first, and a source checkout there (``pip install .`` run from it) would be
compiled instead of the installed package, into another cache."""


def compile_job(module, file, name, signature):
    """Compile ``name`` of ``module`` for ``signature`` (saved to the on-disk cache), if
    ``module`` is the file ``file`` that the first process runs; exit 1 otherwise."""
    loaded = importlib.import_module(module)
    if os.path.realpath(loaded.__file__) != os.path.realpath(file):
        sys.exit(1)
    getattr(loaded, name).compile(signature)
