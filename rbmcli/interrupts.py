"""Ctrl-C and SIGTERM during training: handlers that only record the signal.

A ``KeyboardInterrupt`` raised wherever the main thread happens to be can land inside
h5py or in a weakref callback, where Python prints "Exception ignored" and carries on, or
between the write of a checkpoint and the bookkeeping of its epoch. So while a run trains,
:func:`trap` installs handlers that only set :attr:`Trap.signum`; the epoch loop
(:meth:`rbmcli.training.run.TrainingRun.run_epochs`) looks at it after every batch and at
every epoch boundary, saves what it has, and raises :class:`Interrupted` saying what the
file holds. A second signal while that checkpoint is written changes nothing: the save
completes first.

Before the loop starts (imports, data loading) a trap made with ``raising=True`` also
raises ``KeyboardInterrupt`` at once, so that a long start-up stops at once; should that
exception be swallowed (raised inside a weakref callback during an import, say), the
flag still stops the run at its first check, and Python's "Exception ignored ...
KeyboardInterrupt" report of it is kept off stderr (:func:`_quiet_swallowed_interrupts`):
the message that counts comes when the run stops.

Only stdlib: the command modules import this at top.
"""

import contextlib
import signal
import sys
import threading

_active = None  # the Trap in force, if any


class Interrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving what it had.

    Attributes: ``signum`` (signal.SIGINT or SIGTERM), ``epoch`` (the epoch the output
    file holds, None when nothing was written) and ``output``.
    """

    def __init__(self, signum, epoch, output):
        super().__init__(signum, epoch, output)
        self.signum, self.epoch, self.output = signum, epoch, output

    @property
    def signal_name(self):
        return signal_name(self.signum)


def signal_name(signum):
    try:
        return signal.Signals(signum).name
    except (ValueError, TypeError):
        return "a signal"


class Trap:
    """What :func:`trap` yields: ``signum`` is the first signal received (None: none)."""

    def __init__(self, raising):
        self.signum = None
        self.raising = raising

    def handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        if self.raising:
            raise KeyboardInterrupt

    @property
    def stopped(self):
        return self.signum is not None

    @contextlib.contextmanager
    def deferred(self):
        """Inside the block the handlers only record signals (no exception)."""
        before, self.raising = self.raising, False
        try:
            yield self
        finally:
            self.raising = before


class _Inert(Trap):
    """A trap that never fires: outside the main thread (no signal handlers there)."""


@contextlib.contextmanager
def trap(signals=(signal.SIGINT, signal.SIGTERM), raising=False):
    """Install handlers of ``signals`` that record them in the yielded :class:`Trap`
    (and, with ``raising``, raise KeyboardInterrupt on the first one); restore the
    previous handlers afterwards. Nested, it reuses the trap in force (only switching
    off ``raising`` when asked to defer). Outside the main thread nothing is installed
    and the trap never fires."""
    global _active
    if _active is not None:
        if raising:
            yield _active
        else:
            with _active.deferred() as active:
                yield active
        return
    if threading.current_thread() is not threading.main_thread():
        yield _Inert(False)
        return
    current = Trap(raising)
    previous = {}
    hook = sys.unraisablehook
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, current.handle)
        sys.unraisablehook = _quiet_swallowed_interrupts(current, hook)
        _active = current
        yield current
    finally:
        _active = None
        sys.unraisablehook = hook
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _quiet_swallowed_interrupts(trap, hook):
    """A ``sys.unraisablehook`` that drops the KeyboardInterrupt of ``trap``'s handler
    when Python could not raise it (it already set ``trap.signum``, which the run
    honours) and passes everything else to ``hook``."""
    def unraisable(info):
        if not (issubclass(info.exc_type, KeyboardInterrupt) and trap.stopped):
            hook(info)
    return unraisable


def quiet_half_built_compilers():
    """Drop, from now on, the errors that llvmlite's finalizers raise for an object whose
    construction a signal cut short (``'PassBuilder' object has no attribute
    '_as_parameter_'``, printed as ``Exception ignored in ...`` when Python exits): called
    when a command stops on a signal before its work began, so that its one line is the
    whole message. Every other unraisable exception still reaches the previous hook."""
    hook = sys.unraisablehook

    def unraisable(info):
        if not (getattr(info.object, "__module__", None) or "").startswith("llvmlite"):
            hook(info)
    sys.unraisablehook = unraisable
