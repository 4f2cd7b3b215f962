"""Which kernels a new install's first ``rbm train`` spends its compile time on.

Runs ``rbm train --hidden 100 --epochs 1`` (embedded synthetic digits, pictures
included; extra arguments are passed on) in this process with an empty temporary
``NUMBA_CACHE_DIR``, set before Numba is imported, so that every kernel compiles, and
prints one row per compiled specialization from Numba's ``"numba:compile"`` events:
dispatcher, signature, seconds including the kernels it compiled inside (``incl``)
and without them (``self``), sorted by ``self``. The total is the sum of the outermost
events (the wall time spent compiling). Run from the repository root::

    python benchmarks/compile_time.py [more rbm train options]
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure this checkout's kernels

CACHE = tempfile.mkdtemp(prefix="rbm-compile-time-")
os.environ["NUMBA_CACHE_DIR"] = CACHE  # before Numba is imported (by rbmcli below)
os.environ.pop("RBM_PLAIN_KERNELS", None)

from numba.core import event  # noqa: E402

from rbmcli.cli.main import cli  # noqa: E402


MIN_SELF = 0.1
"""Rows compiling faster than this (seconds, own time) are summed in one line."""


class Recorder(event.Listener):
    """(depth, name, signature, inclusive seconds, self seconds) of every compile event."""

    def __init__(self):
        self.rows = []
        self.stack = []  # [start, seconds of nested compiles, row index]

    def on_start(self, ev):
        d = ev.data
        disp = d["dispatcher"]
        name = f"{disp.py_func.__module__}.{disp.py_func.__qualname__}"
        sig = "(" + ", ".join(str(a) for a in d["args"]) + ")"
        self.rows.append([len(self.stack), name, sig, 0.0, 0.0])
        self.stack.append([time.perf_counter(), 0.0, len(self.rows) - 1])

    def on_end(self, ev):
        start, nested, i = self.stack.pop()
        incl = time.perf_counter() - start
        self.rows[i][3] = incl
        self.rows[i][4] = incl - nested
        if self.stack:
            self.stack[-1][1] += incl


def main_(argv):
    out = tempfile.mkdtemp(prefix="rbm-compile-time-out-")
    rec = Recorder()
    t0 = time.perf_counter()
    with event.install_listener("numba:compile", rec):
        try:
            cli(["train", "--hidden", "100", "--epochs", "1", "--force",
                  "-o", os.path.join(out, "m.h5"), *argv], prog_name="rbm", standalone_mode=False)
        except SystemExit as err:
            if err.code:
                raise
    wall = time.perf_counter() - t0
    rows = sorted(rec.rows, key=lambda r: -r[4])
    small = [r for r in rows if r[4] < MIN_SELF]
    rows = [r for r in rows if r[4] >= MIN_SELF]
    width = max(len(r[1]) for r in rows)
    print(f"\n{'self s':>7} {'incl s':>7}  {'dispatcher':<{width}}  signature")
    for depth, name, sig, incl, own in rows:
        print(f"{own:7.2f} {incl:7.2f}  {name:<{width}}  {sig}"
              + ("" if depth == 0 else f"   [nested, depth {depth}]"))
    if small:
        print(f"{sum(r[4] for r in small):7.2f}          {len(small)} more specializations under "
              f"{MIN_SELF} s each (mostly Numba's own helpers: np.empty, str, ...)")
    total = sum(r[3] for r in rec.rows if r[0] == 0)
    print(f"\n{len(rec.rows)} specializations compiled ({sum(r[0] == 0 for r in rec.rows)} "
          f"outermost); "
          f"compiling: {total:.1f} s of {wall:.1f} s for the whole command")
    print(f"(cache folder {CACHE}, outputs in {out}; delete them when done)")


if __name__ == "__main__":
    main_(sys.argv[1:])
