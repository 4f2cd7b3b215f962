"""Where a sweep runs: a Dask ``distributed`` client, and the runs submitted to it.

:func:`connect` starts a :class:`distributed.LocalCluster` (one single-threaded worker
process per core) or connects to a running scheduler (``dask scheduler`` /
``dask worker``): an address, a scheduler file, or ``$DASK_SCHEDULER_ADDRESS``.
:func:`run_all` submits every run (:func:`rbmcli.sweep.run.execute` on a worker) and
hands over each record as its run ends.

A worker that dies mid-run (killed, out of memory) is replaced by its nanny and the
scheduler gives the run to another worker, which continues the run's checkpoint; after
``retries`` deaths (the scheduler's ``allowed-failures``) or ``retries`` retried
exceptions the run is recorded as failed with the error, and the sweep goes on.

Dask is optional (``pip install 'rbm[sweep]'``): this is the one module that imports it,
and without it :func:`require_dask` says how to install it.
"""

import contextlib
import dataclasses
import importlib.util
import logging
import os
import signal
import sys
import uuid

try:
    import dask
    import distributed
except ImportError:  # the optional extra is not installed: require_dask() says so
    dask = distributed = None

from rbmcli.errors import InputError
from rbmcli.sweep.records import remove_temporaries, write_record
from rbmcli.sweep.run import execute, failed_record

INSTALL = "rbm sweep needs Dask: pip install 'rbm[sweep]' (or 'dask[distributed]')"
ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_SECONDS = 30
"""How long to wait for a scheduler before giving up."""
CLOSE_SECONDS = 20
"""How long closing the client and a local cluster may take."""


def require_dask():
    """InputError saying how to install Dask when it is not installed."""
    if distributed is None:
        raise InputError(INSTALL)


def local_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclasses.dataclass
class Where:
    """Which cluster to use.

    Attributes
    ----------
    scheduler : str, optional
        A scheduler address (``tcp://HOST:8786``).
    scheduler_file : str, optional
        The JSON file ``dask scheduler --scheduler-file`` writes.
    workers : int, optional
        Worker processes of the local cluster (default: one per core).
    retries : int
        How often a run is tried again after its worker died or it raised.
    """

    scheduler: str = None
    scheduler_file: str = None
    workers: int = None
    retries: int = 2

    def address(self):
        """The scheduler address to connect to, or None for a local cluster."""
        if self.scheduler_file:
            return None
        return self.scheduler or os.environ.get(ADDRESS_ENV) or None


@contextlib.contextmanager
def connect(where, log):
    """Yield a :class:`distributed.Client` of the cluster ``where`` (:class:`Where`) says;
    ``log(line)`` gets the cluster and its dashboard address. Closes what it started."""
    require_dask()
    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": where.retries}):
        if where.scheduler_file or where.address():
            client = _connect_to_scheduler(where)
        else:
            cluster = distributed.LocalCluster(
                n_workers=where.workers or local_cores(), threads_per_worker=1,
                # CRITICAL: a worker whose cluster closes under it (SIGTERM to the
                # sweep) logs its failed heartbeat with a traceback at ERROR; the runs'
                # own errors are in their records
                processes=True, silence_logs=logging.CRITICAL, preload=[__name__])
            client = distributed.Client(cluster)
    try:
        log(describe(client, cluster))
        yield client
    finally:
        client.close(timeout=CLOSE_SECONDS)
        if cluster is not None:
            cluster.close(timeout=CLOSE_SECONDS)


def dask_setup(worker):
    """Run by every worker of the local cluster as it starts (Dask's ``preload``): ignore
    SIGINT. Ctrl-C in a terminal reaches the whole process group; the client alone
    handles it, cancelling the runs and closing the cluster, instead of every worker
    process dying with a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _connect_to_scheduler(where):
    """A client of the running scheduler of ``where``; InputError when there is none."""
    if where.scheduler_file:
        name = where.scheduler_file
        if not os.path.isfile(name):
            raise InputError("no such file (the --scheduler-file of `dask scheduler`)", name)
        target = dict(scheduler_file=name)
    else:
        name = where.address()
        target = dict(address=name)
    try:
        return distributed.Client(**target, timeout=CONNECT_SECONDS)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot connect to the Dask scheduler: {err}", name) from None


def describe(client, cluster):
    """One line: the cluster's workers and the dashboard address."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    kind = "local cluster" if cluster is not None else f"scheduler {client.scheduler.address}"
    try:
        dashboard = client.dashboard_link or "none"
    except (KeyError, AttributeError):  # a scheduler without the dashboard's server
        dashboard = "none"
    if dashboard != "none" and importlib.util.find_spec("bokeh") is None:
        dashboard += " (its pages need bokeh: pip install bokeh)"
    return f"{kind}: {len(workers)} workers; dashboard: {dashboard}"


def scatter(client, data):
    """``data`` (a loaded data set) sent once to the cluster: a future the runs take in
    its place."""
    return client.scatter(data, hash=False)


def run_all(client, runs, inputs, on_done, retries=2):
    """Run every run of ``runs`` on the cluster, ``on_done(record)`` as each one ends.

    ``inputs`` (:class:`rbmcli.sweep.run.SweepInputs`) may hold futures of scattered
    data. A run whose worker died or that raised more than ``retries`` times is recorded
    (here, by the client) as failed with its error. On KeyboardInterrupt the runs still
    waiting or running are cancelled.
    """
    token = uuid.uuid4().hex[:8]
    data = (inputs.data, inputs.validate, inputs.scoring.data)
    shared = dataclasses.replace(inputs, data=None, validate=None,
                                 scoring=dataclasses.replace(inputs.scoring, data=None))
    futures = {client.submit(run_on_worker, run, shared, *data, retries=retries, pure=False,
                             key=f"rbm-sweep-{run.run_id}-{token}"): run for run in runs}
    try:
        for future in distributed.as_completed(futures):
            on_done(_outcome(future, futures[future], inputs))
    except BaseException:
        client.cancel(list(futures))
        raise


def run_on_worker(run, shared, data, validate, scoring_data):
    """:func:`rbmcli.sweep.run.execute` in a worker, with the data sets the client sent
    (or their specs) put back into ``shared``."""
    if not isinstance(sys.stderr, NotATerminal):
        sys.stderr = NotATerminal(sys.stderr)
    inputs = dataclasses.replace(shared, data=data, validate=validate,
                                 scoring=dataclasses.replace(shared.scoring, data=scoring_data))
    return execute(run, inputs, worker=distributed.get_worker().address)


class NotATerminal:
    """Standard error of a worker: everything goes on to ``stream``, but it says it is
    no terminal, so the trainers' per-epoch progress bars (drawn only on a terminal) stay
    off: a worker started from a terminal (the local cluster's, or ``dask worker`` typed
    in a shell) would draw them over the sweep's own."""

    def __init__(self, stream):
        self.stream = stream

    def isatty(self):
        return False

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _outcome(future, run, inputs):
    """The record of a finished future: the one its worker wrote, or a failed one."""
    if future.status == "finished":
        return future.result()
    record = failed_record(run, inputs.scoring, error_text(future.exception()))
    remove_temporaries(inputs.folder, run.run_id)
    write_record(inputs.folder, record)
    return record


def error_text(err):
    """One line for what stopped a run on the cluster."""
    if isinstance(err, distributed.KilledWorker):
        last = getattr(err.last_worker, "address", err.last_worker)
        deaths = err.allowed_failures + 1
        return f"its worker died {deaths} time{'s' * (deaths > 1)} (the last: {last})"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
