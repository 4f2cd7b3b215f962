"""The sweep folder: where every run keeps its model and its record, and what a folder
already holds.

::

    DIR/runs/ID.h5     the run's model (its checkpoint while it trains)
    DIR/runs/ID.json   the run's record, written once when the run is over
    DIR/results.csv, DIR/summary.md, DIR/heatmap.png, DIR/curves.png, DIR/filters/

Both files of a run are written atomically (a temporary file renamed), so a run killed at
any moment leaves either its previous checkpoint or its new one, and either no record or a
complete one. A record is a JSON object: ``run_id``, ``cell``, ``axes``, ``options``,
``status`` (``"ok"`` or ``"failed"``), ``error``, ``metrics``, ``seconds``, ``worker``, ...
(see :func:`rbmcli.sweep.run.execute`).
"""

import json
import os
import time

from rbmcli.errors import InputError
from rbmcli.io.atomic import atomic_path, remove_stale_temporaries
from rbmcli.sweep.plan import option_flags

RUNS = "runs"
"""The sub-folder of the runs' models and records."""

DONE, FAILED, CHECKPOINT, TODO = "done", "failed", "checkpoint", "todo"
"""What the folder holds of a run (:func:`run_status`)."""


def model_path(folder, run_id):
    """The model file of run ``run_id``."""
    return os.path.join(folder, RUNS, f"{run_id}.h5")


def record_path(folder, run_id):
    """The record file of run ``run_id``."""
    return os.path.join(folder, RUNS, f"{run_id}.json")


def prepare_folder(folder):
    """Make the sweep folder ``folder`` (and its ``runs/``) unless it exists; InputError
    when it is a file, its parent does not exist, or it holds files but no sweep."""
    if os.path.isfile(folder):
        raise InputError("is a file; -o names the sweep's folder", folder)
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise InputError(f"cannot write: no such directory {parent!r}", folder)
    if os.path.isdir(folder) and os.listdir(folder) and not is_sweep_folder(folder):
        raise InputError("exists and holds no sweep (no runs/ folder); choose a new -o DIR",
                         folder)
    try:
        os.makedirs(os.path.join(folder, RUNS), exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror or err}", folder) from None


def is_sweep_folder(folder):
    """True when ``folder`` has the ``runs/`` sub-folder of a sweep."""
    return os.path.isdir(os.path.join(folder, RUNS))


def remove_temporaries(folder, run_id):
    """Remove the temporary files of run ``run_id``'s model and record that an earlier
    attempt left when its worker was killed (the scheduler starts an attempt only once
    the previous one's worker is gone)."""
    now = time.time()
    for path in (model_path(folder, run_id), record_path(folder, run_id)):
        remove_stale_temporaries(path, older_than=now)


def write_record(folder, record):
    """Write ``record`` (a dict with ``run_id``) as the run's JSON record, atomically."""
    with atomic_path(record_path(folder, record["run_id"])) as tmp:
        with open(tmp, "w") as fh:
            json.dump(record, fh, indent=1)
            fh.write("\n")


def read_record(path):
    """The record in ``path`` (a dict); InputError naming the file when it is not one."""
    try:
        with open(path) as fh:
            record = json.load(fh)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path) from None
    except ValueError as err:
        raise InputError(f"not a sweep record (bad JSON: {err})", path) from None
    if not isinstance(record, dict) or not {"run_id", "options", "status"} <= set(record):
        raise InputError("not a sweep record (no run_id, options or status)", path)
    return record


def read_records(folder):
    """Every record of the sweep folder ``folder``, in the order of their file names;
    InputError when ``folder`` holds no sweep."""
    if not is_sweep_folder(folder):
        raise InputError("is not a sweep folder (no runs/ folder)", folder)
    runs = os.path.join(folder, RUNS)
    return [read_record(os.path.join(runs, name)) for name in sorted(os.listdir(runs))
            if name.endswith(".json") and not name.startswith(".")]


def as_json(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def run_status(folder, run):
    """What ``folder`` holds of ``run`` (a :class:`rbmcli.sweep.plan.Run`): DONE (a record
    of a finished run), FAILED (a record of a failed run), CHECKPOINT (a model file, no
    record) or TODO. InputError when the record there is of a run with other options
    (another sweep in the same folder)."""
    path = record_path(folder, run.run_id)
    if os.path.exists(path):
        record = read_record(path)
        check_same_options(record["options"], as_json(run.options), path)
        return DONE if record["status"] == "ok" else FAILED
    if os.path.exists(model_path(folder, run.run_id)):
        return CHECKPOINT
    return TODO


def statuses(folder, runs):
    """Run id -> what ``folder`` holds of each run (:func:`run_status`); all TODO when
    the folder does not exist yet."""
    if not is_sweep_folder(folder):
        return {run.run_id: TODO for run in runs}
    return {run.run_id: run_status(folder, run) for run in runs}


def check_same_options(recorded, planned, path):
    """InputError naming the record ``path`` and the first option that differs when a
    recorded run's options are not the planned ones."""
    if recorded == planned:
        return
    for name in [*planned, *recorded]:
        if recorded.get(name) != planned.get(name):
            was = option_flags({name: recorded[name]}) if name in recorded else _not_given(name)
            now = option_flags({name: planned[name]}) if name in planned else _not_given(name)
            raise InputError(f"was run with {was}, this sweep has {now}; choose a new "
                             "-o DIR for another sweep", path)


def _not_given(name):
    return f"no --{name.replace('_', '-')}"
