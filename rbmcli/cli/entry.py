"""The ``rbm`` console script's own module: a signal during start-up ends ``rbm`` cleanly.

Until a command runs, nothing has been written, so a SIGINT or SIGTERM that arrives while
Python imports Click, NumPy, h5py or the command's module ends the process at once with
exit 130 and one line, ``interrupted (SIGINT) while starting: nothing was done``, instead
of a KeyboardInterrupt traceback from inside an import (SIGINT) or a silent death
(SIGTERM). Importing this module installs those handlers, which is why only the console
script imports it (tests and the Python API import :mod:`rbmcli.cli.main`); :func:`main`
then hands the signals to the commands: SIGINT raises KeyboardInterrupt again (the
command group turns it into exit 130, ``rbm train`` saves its checkpoint first), and so
does SIGTERM, which job schedulers send.
"""

import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    os.write(2, f"interrupted ({signal.Signals(signum).name}) while starting: nothing was "
                f"done\n".encode())
    os._exit(130)


for _signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signum, _interrupted_while_starting)

from rbmcli.cli.main import main as _main  # noqa: E402  (after the handlers, on purpose)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main():
    """Entry point of the ``rbm`` console script: :func:`rbmcli.cli.main.main` with
    SIGINT and SIGTERM raising KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _main()
