"""SIGINT and SIGTERM sent to a real ``rbm train`` at several moments: exit 130, a message
that names the epoch the output file really holds, and ``--resume`` continues from it.

Each subprocess is killed after a timeout; the file runs in well under a minute once the
Numba cache is warm (the first fixture warms it)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from rbmcli.io import atomic
from rbmcli.io.modelfile import load_model

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60
RUN = "from rbmcli.cli.entry import main; main()"  # as the console script
# a signal sent to itself in the middle of writing epoch 3's checkpoint (and a second one
# right after): the save must complete and the message must say epoch 3
DURING_SAVE = """
import os, signal
import rbmcli.training.run as run
original = run.save_model
def save_model(path, mf):
    if mf.epoch == 3 and not mf.interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    original(path, mf)
run.save_model = save_model
from rbmcli.cli.entry import main; main()
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupts")
    path = folder / "tiny.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["images"] = (rng.random((200, 64)) > 0.5).astype(np.uint8) * 255
    # warm the Numba cache (and check that an uninterrupted run works)
    proc = rbm(path, folder / "warm.h5", "--epochs", "1")
    assert proc.wait(timeout=300) == 0
    return path


def rbm(data, output, *args, code=RUN):
    env = dict(os.environ, PYTHONPATH=str(ROOT), RBM_THREADS="1")
    log = open(f"{output}.log", "w")
    return subprocess.Popen([sys.executable, "-c", code, "train", str(data), "--hidden", "20",
                             "-o", str(output), "--no-pictures", *args],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish(proc, output):
    """Exit status and last line of the log of ``proc`` (killed after TIMEOUT)."""
    try:
        status = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the signal did not stop the run")
    text = Path(f"{output}.log").read_text()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return status, text.strip().splitlines()[-1]


def saved_epoch(output):
    return load_model(output).epoch


def wait_for_epoch(output, epoch, proc):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if saved_epoch(output) >= epoch:
                return
        except Exception:  # not written yet
            pass
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"epoch {epoch} never came")


def check_message(status, last, output, name):
    """Exit 130 and the message states what the file holds."""
    assert status == 130, last
    found = re.fullmatch(rf"interrupted \({name}\): (.*) holds (\d+) complete epochs; "
                         rf"continue with: rbm train .* --resume --epochs \d+", last)
    assert found, last
    assert found[1] == str(output)
    assert int(found[2]) == saved_epoch(output)
    assert load_model(output).interrupted or int(found[2]) > 0
    return int(found[2])


def loaded(proc, library):
    """Whether the process has mapped a shared library whose path contains ``library``."""
    try:
        return library in Path(f"/proc/{proc.pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("moment", ["python", "imports"])
def test_signal_during_start_up(data, tmp_path, signum, moment):
    """A signal while Python starts ``rbm`` (its modules, Click: the console script's
    handlers, rbmcli.cli.entry) or while the command imports NumPy and h5py and reads
    the data (the trainer's trap): exit 130, one line, nothing saved."""
    output = tmp_path / "m.h5"
    proc = rbm(data, output, "--epochs", "5000")
    if moment == "python":
        time.sleep(0.3)
    else:  # wait for NumPy's extension (on a loaded machine 0.3 s was still in Python)
        deadline = time.monotonic() + TIMEOUT
        while not loaded(proc, "numpy") and time.monotonic() < deadline:
            time.sleep(0.005)
    proc.send_signal(signum)
    status, last = finish(proc, output)
    assert status == 130, last
    if output.exists():  # it got as far as training
        check_message(status, last, output, signum.name)
    else:
        assert last in (
            f"interrupted ({signum.name}) while starting: nothing was done",   # entry
            f"interrupted ({signum.name}): nothing was written",       # the command group
            f"interrupted ({signum.name}) before training started: nothing was saved")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_training_then_resume(data, tmp_path, signum):
    output = tmp_path / "m.h5"
    proc = rbm(data, output, "--epochs", "5000")
    wait_for_epoch(output, 3, proc)
    proc.send_signal(signum)
    epoch = check_message(*finish(proc, output), output, signum.name)
    assert epoch >= 3
    assert not list(tmp_path.glob(".m.h5.*.tmp"))
    proc = rbm(data, output, "--resume", "--epochs", str(epoch + 2))
    status, last = finish(proc, output)
    assert status == 0, last
    assert saved_epoch(output) == epoch + 2
    assert not load_model(output).interrupted


def test_signals_during_a_save_wait_for_it(data, tmp_path):
    output = tmp_path / "m.h5"
    proc = rbm(data, output, "--epochs", "5000", code=DURING_SAVE)
    status, last = finish(proc, output)
    assert check_message(status, last, output, "SIGINT") == 3


def test_stale_temporaries_are_removed(tmp_path):
    target = tmp_path / "m.h5"
    stale = tmp_path / ".m.h5.0123abcd.tmp"
    fresh = tmp_path / ".m.h5.89abcdef.tmp"   # a concurrent writer's
    other = tmp_path / ".n.h5.0123abcd.tmp"   # another target's
    for path in (stale, fresh, other):
        path.write_bytes(b"x")
    old = atomic.PROCESS_START - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    with atomic.atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"y")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".m.h5.89abcdef.tmp", ".n.h5.0123abcd.tmp", "m.h5"])


def test_a_swallowed_interrupt_is_not_reported_while_a_trap_is_set(monkeypatch):
    """A KeyboardInterrupt that Python cannot raise (here: from a weakref callback, as
    when a signal lands inside an import) is not printed as 'Exception ignored' while a
    trap holds the signal (the run honours the flag); other unraisable errors still are."""
    import gc
    import weakref

    from rbmcli import interrupts

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_type))

    class Thing:
        pass

    def interrupt(_):
        raise KeyboardInterrupt

    with interrupts.trap(raising=True) as trap:
        trap.signum = signal.SIGTERM
        thing = Thing()
        ref_a = weakref.ref(thing, interrupt)
        del thing
        gc.collect()
        other = Thing()
        ref_b = weakref.ref(other, lambda _: 1 / 0)
        del other
        gc.collect()
    assert seen == [ZeroDivisionError] and ref_a() is None and ref_b() is None
    thing = Thing()
    ref_c = weakref.ref(thing, interrupt)         # no trap: reported as before
    del thing
    gc.collect()
    assert seen == [ZeroDivisionError, KeyboardInterrupt] and ref_c() is None


def test_quiet_half_built_compilers_drops_only_llvmlite_finalizer_errors(monkeypatch):
    """After a signal cut start-up short, llvmlite's finalizer errors are dropped; every
    other unraisable exception still reaches the previous hook."""
    import types
    from llvmlite.binding import ffi
    from rbmcli import interrupts
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    interrupts.quiet_half_built_compilers()
    sys.unraisablehook(types.SimpleNamespace(object=ffi.ObjectRef.__del__,
                                             exc_type=AttributeError))
    assert seen == []
    other = types.SimpleNamespace(object=loaded, exc_type=AttributeError)
    sys.unraisablehook(other)
    assert seen == [other]
