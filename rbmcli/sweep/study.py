"""A whole sweep: find what the folder already holds, run the rest on the cluster, then
write the results (:func:`run_sweep`); or only rebuild the results from the records
(:func:`write_results`)."""

import dataclasses
import os

from rbmcli.errors import InputError
from rbmcli.io.datasets import load_dataset
from rbmcli.sweep import cluster, records as store
from rbmcli.sweep.report import choose_axes, draw_report
from rbmcli.sweep.results import axes_of, csv_text, summary_text, write_text


def runs_to_do(runs, found, retry_failed=False):
    """The runs without a record (new, or with a checkpoint to continue); with
    ``retry_failed`` also those recorded as failed."""
    again = {store.TODO, store.CHECKPOINT} | ({store.FAILED} if retry_failed else set())
    return [run for run in runs if found[run.run_id] in again]


def run_sweep(runs, inputs, where, *, retry_failed=False, scatter=False, axes=None,
              log=print, on_start=None, on_done=None):
    """Run the runs of a sweep that ``inputs.folder`` does not hold yet, then write the
    results of all of them.

    Parameters
    ----------
    runs : list of rbmcli.sweep.plan.Run
    inputs : rbmcli.sweep.run.SweepInputs
        Data as specs (paths every worker can read); ``scatter`` loads them here and sends
        the arrays once instead.
    where : rbmcli.sweep.cluster.Where
    retry_failed : bool
        Run again the runs recorded as failed.
    axes : sequence of str, optional
        The pictures' axes (:func:`rbmcli.sweep.report.draw_report`).
    log : callable
        ``log(line)`` for what the sweep does.
    on_start : callable, optional
        ``on_start(count)`` with the number of runs to run, before they start.
    on_done : callable, optional
        ``on_done(record)`` as each run ends.

    Returns
    -------
    list of str
        The result files written.
    """
    cluster.require_dask()
    choose_axes([a for a in runs[0].axes if a != "seed"], axes)  # a bad --axes: say so now
    store.prepare_folder(inputs.folder)
    found = store.statuses(inputs.folder, runs)
    todo = runs_to_do(runs, found, retry_failed)
    if len(todo) < len(runs):
        log(f"{len(runs) - len(todo)} of {len(runs)} runs are recorded in {inputs.folder}; "
            f"running the other {len(todo)}")
    if on_start:
        on_start(len(todo))
    if todo:
        with cluster.connect(where, log) as client:
            shared = scattered(client, inputs) if scatter else inputs
            cluster.run_all(client, todo, shared, on_done or (lambda record: None),
                            retries=where.retries)
    records = [store.read_record(store.record_path(inputs.folder, run.run_id))
               for run in runs]
    return write_results(inputs.folder, records, axes)


def scattered(client, inputs):
    """``inputs`` with its data sets loaded here and sent once to the cluster."""
    def send(spec):
        return None if spec is None else cluster.scatter(client, load_dataset(spec))
    return dataclasses.replace(inputs, data=send(inputs.data), validate=send(inputs.validate),
                               scoring=dataclasses.replace(inputs.scoring,
                                                           data=send(inputs.scoring.data)))


def write_results(folder, records, axes=None):
    """results.csv, summary.md and the pictures of ``records`` in ``folder``; returns the
    files written."""
    choose_axes(axes_of(records), axes)
    table, summary = os.path.join(folder, "results.csv"), os.path.join(folder, "summary.md")
    write_text(table, csv_text(records))
    write_text(summary, summary_text(records))
    return [table, summary, *draw_report(folder, records, axes)]


def rebuild(folder, axes=None):
    """:func:`write_results` from every record of the sweep folder ``folder``."""
    found = store.read_records(folder)
    if not found:
        raise InputError("no run records yet", os.path.join(folder, store.RUNS))
    return write_results(folder, found, axes)
