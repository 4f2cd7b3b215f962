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
"""

import time
from contextlib import contextmanager

from numba.core import event

EVENT = "numba:compile"


class CompileClock(event.Listener):
    """Adds up the wall time of the outermost Numba compile events.

    ``on_start()`` (optional) is called when a compile begins and nothing has compiled
    yet under this clock: the moment to say that a pause is coming.
    """

    def __init__(self, on_start=None):
        self.on_start_compiling = on_start
        self.depth = 0
        self.count = 0          # outermost compiles finished
        self.seconds = 0.0      # their wall time
        self._started = None

    def on_start(self, ev):
        if self.depth == 0:
            if self.count == 0 and self.on_start_compiling is not None:
                self.on_start_compiling()
            self._started = time.perf_counter()
        self.depth += 1

    def on_end(self, ev):
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self._started
            self.count += 1

    @property
    def compiled(self):
        """True when anything compiled under this clock."""
        return self.count > 0 or self.depth > 0


@contextmanager
def watch(on_start=None):
    """A :class:`CompileClock` listening to Numba's compile events within the block."""
    clock = CompileClock(on_start)
    with event.install_listener(EVENT, clock):
        yield clock
