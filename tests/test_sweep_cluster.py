"""``rbm sweep`` on a real Dask cluster: ``dask scheduler`` and two ``dask worker``
processes (each with its nanny) on 127.0.0.1, started and stopped here.

One test walks through what the sweep promises: a worker killed in the middle of a run
(its nanny starts a new one, the run is given to a worker again and continues its
checkpoint: the sweep completes with one complete record per run and no corrupt model), a
sweep started again (it skips the recorded runs), Ctrl-C (exit 130, saying how to
continue) and the continuation.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

import rbmcli
from rbmcli.sweep.records import model_path, record_path
from sweephelpers import RBM, TIMEOUT, environment, leftovers, records, write_prototypes

distributed = pytest.importorskip("distributed")

START_SECONDS = 120
"""How long the scheduler and the workers may take to start."""


def start(module, *args, log):
    """``python -m module args`` in its own session (so that it and its children can be
    stopped together), output to the open file ``log``."""
    return subprocess.Popen([sys.executable, "-m", module, *map(str, args)], stdout=log,
                            stderr=subprocess.STDOUT, env=environment(),
                            start_new_session=True)


def stop(proc):
    """Stop a process started by :func:`start` and its children: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def wait_for(condition, seconds, what):
    """Poll ``condition()`` until it is true (returning its value) or fail after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers on 127.0.0.1: (client, scheduler file)."""
    scheduler_file = tmp_path / "scheduler.json"
    procs = []
    with open(tmp_path / "cluster.log", "w") as log:
        try:
            procs.append(start("distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file",
                               scheduler_file, log=log))
            wait_for(scheduler_file.exists, START_SECONDS, "the scheduler")
            for _ in range(2):
                procs.append(start("distributed.cli.dask_worker", "--scheduler-file",
                                   scheduler_file, "--nthreads", 1, "--nworkers", 1,
                                   "--host", "127.0.0.1", "--no-dashboard",
                                   "--death-timeout", 60, log=log))
            client = distributed.Client(scheduler_file=str(scheduler_file),
                                        timeout=START_SECONDS)
            try:
                client.wait_for_workers(2, timeout=START_SECONDS)
                yield client, scheduler_file
            finally:
                client.close(timeout=30)
        finally:
            for proc in reversed(procs):
                stop(proc)


def sweep(data, out, seeds, *where, env=None):
    """The sweep of this test as a subprocess: 2 hidden sizes x ``seeds`` seeds, each run
    100 short epochs (about 3 s, so that there is time to kill its worker), on the
    cluster that the options ``where`` or the environment ``env`` name."""
    log = open(out.parent / f"sweep-{seeds}-{time.monotonic_ns()}.log", "w+")
    proc = subprocess.Popen(
        [*RBM, "sweep", data, "--test", f"{data}:test", "-o", out, *where,
         "--grid", "hidden=8,16", "--seeds", str(seeds), "--epochs", "100",
         "--batch-size", "20"], stdout=subprocess.DEVNULL, stderr=log,
        env=dict(environment(), **(env or {})), cwd=out.parent)
    proc.log = log
    return proc


def finish(proc):
    """(exit status, stderr) of a sweep subprocess, killing it after TIMEOUT seconds."""
    try:
        status = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc.log.seek(0)
    return status, proc.log.read()


def training(out, run_ids):
    """The first of ``run_ids`` that has a checkpoint but no record yet, or None."""
    return next((r for r in run_ids if os.path.exists(model_path(out, r))
                 and not os.path.exists(record_path(out, r))), None)


def worker_running(client, run_id):
    """The address of the worker that holds the task of ``run_id``, or None."""
    for address, keys in client.processing().items():
        if any(str(key).startswith(f"rbm-sweep-{run_id}-") for key in keys):
            return address
    return None


def alive(group):
    """True while a process of the process group ``group`` runs (zombies aside)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    ps = subprocess.run(["ps", "-eo", "pgid=,stat="], capture_output=True, text=True,
                        timeout=30)
    rows = [line.split() for line in ps.stdout.splitlines()]
    return any(row[0] == str(group) and not row[1].startswith("Z") for row in rows)


def ids(seeds):
    return [f"hidden-{h}_seed-{s}" for h in (8, 16) for s in range(seeds)]


def assert_complete(out, run_ids):
    """One ok record per run, every model whole, no temporary file left."""
    found = records(out)
    assert sorted(found) == sorted(run_ids)
    for run_id, record in found.items():
        assert record["status"] == "ok", record["error"]
        assert rbmcli.load(model_path(out, run_id)).epoch == 100
    assert leftovers(out) == []
    return found


def test_kill_a_worker_restart_and_interrupt_a_sweep(cluster, tmp_path):
    client, scheduler_file = cluster
    data = write_prototypes(tmp_path / "d.h5")
    out = tmp_path / "out"

    # a worker killed mid-run
    proc = sweep(data, out, 2, "--scheduler-file", scheduler_file)
    victim = wait_for(lambda: training(out, ids(2)), TIMEOUT, "a run's first checkpoint")
    address = wait_for(lambda: worker_running(client, victim), 30, "the victim's worker")
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)
    status, stderr = finish(proc)
    assert status == 0, stderr
    assert "scheduler tcp://127.0.0.1:" in stderr and " 2 workers; dashboard:" in stderr
    found = assert_complete(out, ids(2))
    assert found[victim]["resumed_from"] >= 1, found[victim]
    assert found[victim]["worker"] != address

    # started again: nothing to do
    before = {r: open(record_path(out, r), "rb").read() for r in ids(2)}
    status, stderr = finish(sweep(data, out, 2, "--scheduler-file", scheduler_file))
    assert status == 0, stderr
    assert f"4 of 4 runs are recorded in {out}; running the other 0" in stderr
    assert {r: open(record_path(out, r), "rb").read() for r in ids(2)} == before

    # one more seed, interrupted by Ctrl-C, then continued (the scheduler given by its
    # address, then by $DASK_SCHEDULER_ADDRESS)
    address = client.scheduler.address
    proc = sweep(data, out, 3, "--scheduler", address)
    wait_for(lambda: training(out, ids(3)), TIMEOUT, "a new run's first checkpoint")
    proc.send_signal(signal.SIGINT)
    status, stderr = finish(proc)
    assert status == 130, stderr
    assert stderr.splitlines()[-1] == (
        f"interrupted (SIGINT): the finished runs are recorded in {out}; run the same command "
        "again to continue (recorded runs are skipped, the others resume from their "
        "checkpoints)")
    # The runs that were running when the client went on to their end on the workers
    # (Dask cannot stop a running task) and may have recorded themselves by now: continue
    # with one more seed, so that there is work for the cluster in any case.
    status, stderr = finish(sweep(data, out, 4, env={"DASK_SCHEDULER_ADDRESS": address}))
    assert f"scheduler {address}: 2 workers" in stderr
    assert status == 0, stderr
    assert_complete(out, ids(4))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_a_local_cluster_without_tracebacks(tmp_path, signum):
    """Ctrl-C in a terminal signals the whole process group, the workers of the local
    cluster included: only the client reacts (the workers ignore SIGINT), so the sweep
    says how to continue, exits with 130 and leaves no process behind. SIGTERM (a job
    scheduler's, sent to the client alone) does the same."""
    data = write_prototypes(tmp_path / "d.h5")
    out = tmp_path / "out"
    log = open(tmp_path / "sweep.log", "w+")
    proc = subprocess.Popen(
        [*RBM, "sweep", data, "--test", f"{data}:test", "-o", out, "--workers", "2",
         "--grid", "hidden=8,16", "--seeds", "4", "--epochs", "100", "--batch-size", "20"],
        stdout=subprocess.DEVNULL, stderr=log, env=environment(), start_new_session=True)
    proc.log = log
    try:
        wait_for(lambda: training(out, ids(4)), TIMEOUT, "a run's first checkpoint")
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)
        status, stderr = finish(proc)
    finally:
        stop(proc)
    assert status == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith(
        f"interrupted ({signal.Signals(signum).name}): the finished runs are recorded in "
        f"{out}; run the same command again")
    wait_for(lambda: not alive(proc.pid), 30, "the workers to end")
    for run_id, record in records(out).items():
        assert record["status"] == "ok"
        assert rbmcli.load(model_path(out, run_id)).epoch == 100
