"""Which kernels a new install's first ``rbm train`` spends its compile time on.

Runs ``rbm train --hidden 100 --epochs 1`` (embedded synthetic digits, pictures
included; extra arguments are passed on) in this process with an empty temporary
``NUMBA_CACHE_DIR``, set before Numba is imported, so that every kernel compiles, and
prints one row per compiled specialization from Numba's ``"numba:compile"`` events
(:class:`rbmcli.compiling.CompileClock`): dispatcher, signature, process seconds
including the kernels it compiled inside (``incl``) and without them (``own``), sorted
by ``own``. Process time, not wall time: on this shared machine the wall time of a
single-threaded compile depends on the other tenants, the process time much less (on
an idle machine the two agree). The total is the sum of the outermost events. Run from the repository root::

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

from rbmcli import compiling  # noqa: E402
from rbmcli.cli.main import cli  # noqa: E402


MIN_SELF = 0.1
"""Rows compiling faster than this (process seconds, own time) are summed in one line."""


def main_(argv):
    out = tempfile.mkdtemp(prefix="rbm-compile-time-out-")
    t0 = time.perf_counter()
    with compiling.watch() as clock:
        try:
            cli(["train", "--hidden", "100", "--epochs", "1", "--force",
                  "-o", os.path.join(out, "m.h5"), *argv], prog_name="rbm", standalone_mode=False)
        except SystemExit as err:
            if err.code:
                raise
    wall = time.perf_counter() - t0
    rows = sorted(clock.rows, key=lambda r: -r.own_cpu_seconds)
    small = [r for r in rows if r.own_cpu_seconds < MIN_SELF]
    rows = [r for r in rows if r.own_cpu_seconds >= MIN_SELF]
    width = max(len(r.name) for r in rows)
    print("\nCPU seconds (on an idle machine, the wall time of a compile in this process), "
          "own and including nested")
    print(f"{'own s':>7} {'incl s':>7}  {'dispatcher':<{width}}  signature")
    for r in rows:
        print(f"{r.own_cpu_seconds:7.2f} {r.cpu_seconds:7.2f}  {r.name:<{width}}  {r.signature}"
              + ("" if r.depth == 0 else f"   [nested, depth {r.depth}]"))
    if small:
        print(f"{sum(r.own_cpu_seconds for r in small):7.2f}          {len(small)} more "
              f"specializations under {MIN_SELF} s each (mostly Numba's own helpers)")
    print("\noutermost compiles, in order: wall s, CPU s (a kernel compiled in a second "
          "process by compiling.compile_alongside: the wait, and that process's CPU)")
    for r in clock.rows:
        if r.depth == 0:
            print(f"{r.seconds:7.2f} {r.cpu_seconds:7.2f}  {r.name}")
    literal = [r for r in clock.rows if "Literal" in r.signature]
    print(f"\n{len(clock.rows)} specializations compiled ({clock.count} outermost, "
          f"{len(literal)} with literal arguments); compiling: {clock.cpu_seconds:.1f} "
          f"CPU s, {clock.seconds:.1f} wall s, of {wall:.1f} wall s for the whole command")
    print(f"(cache folder {CACHE}, outputs in {out}; delete them when done)")


if __name__ == "__main__":
    main_(sys.argv[1:])
