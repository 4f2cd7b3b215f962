"""One run of a sweep, as a worker executes it: train (or continue a checkpoint), score,
write the record.

:func:`execute` needs no Dask: :mod:`rbmcli.sweep.cluster` calls it inside a worker, and
it can be called directly. Kernels run with one thread (workers do not fight over cores,
and a run's results do not depend on where it ran). A run that fails in a way that would
fail again (it diverged, a model does not take an option, the data are bad: an
:class:`rbmcli.errors.InputError`) is recorded as failed; anything else (a bug, a full
disk) propagates, for Dask to retry the run elsewhere.
"""

import datetime
import os
import time
from dataclasses import dataclass, field

import numpy as np

from rbmcli import __version__
from rbmcli.api import train
from rbmcli.errors import InputError
from rbmcli.io.datasets import load_dataset
from rbmcli.io.modelfile import load_model
from rbmcli.sweep.records import (RUNS, as_json, model_path, remove_temporaries,
                                   write_record)
from rbmcli.threads import blas_threads, configure_threads

THREADS = 1
"""Kernel threads of a run: one per worker, as many workers as cores."""


@dataclass
class Scoring:
    """How every run of a sweep is scored.

    Attributes
    ----------
    metrics : tuple of str
        Keyword flags of the model's ``score`` (``ll``, ``mser``, ``bracket``, ...).
    data : str, Dataset or None
        The images scored (a data spec or a loaded data set); None: the training data.
    label : str
        What ``data`` is, for tables (``"test"``, ``"validate"``, ``"train"``).
    options : dict
        Further keywords of ``score`` (``ais_runs``, ``ais_steps``, ``reverse_burn_in``).
    """

    metrics: tuple = ("ll", "mser")
    data: object = None
    label: str = "train"
    options: dict = field(default_factory=dict)


@dataclass
class SweepInputs:
    """What every run of a sweep shares.

    Attributes
    ----------
    folder : str
        The sweep folder (absolute: workers may run elsewhere).
    data : str, Dataset or None
        Training data (a spec every worker can read, or arrays sent by the client);
        None: the embedded synthetic digits.
    validate : str, Dataset or None
        Validation data for the trainer's per-epoch metrics.
    scoring : Scoring
    """

    folder: str
    data: object
    validate: object
    scoring: Scoring


def execute(run, inputs, worker=""):
    """Train and score ``run`` (:class:`rbmcli.sweep.plan.Run`), write its record
    atomically, and return the record (a dict, see :mod:`rbmcli.sweep.records`).

    A model file left by an earlier attempt is continued (``resume``) or, when its
    training is complete, only scored.
    """
    started = time.perf_counter()
    record = new_record(run, inputs.scoring, worker)
    record["started"] = now()
    path = model_path(inputs.folder, run.run_id)
    remove_temporaries(inputs.folder, run.run_id)
    try:
        model, record["resumed_from"], record["train_seconds"] = train_model(run, inputs,
                                                                             path)
        clock = time.perf_counter()
        record["metrics"] = score_model(model, run.options.get("seed", 0), inputs)
        record["score_seconds"] = time.perf_counter() - clock
        record.update(status="ok", epochs_trained=int(model.epoch))
    except InputError as err:
        record.update(status="failed", error=str(err))
    record["seconds"] = time.perf_counter() - started
    record["finished"] = now()
    write_record(inputs.folder, record)
    return record


def now():
    """The time now, UTC, as ISO 8601 text to the millisecond."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def new_record(run, scoring, worker):
    """The record of ``run`` before it ran: ``status`` ``"failed"`` until it succeeds."""
    return dict(run_id=run.run_id, cell=run.cell, axes=list(run.axes),
                options=as_json(run.options), seed=run.options.get("seed", 0),
                status="failed", error="", metrics={}, scored_on=scoring.label,
                epochs_trained=None, resumed_from=None, train_seconds=None,
                score_seconds=None, seconds=None, worker=worker,
                model=f"{RUNS}/{run.run_id}.h5", version=__version__)


def failed_record(run, scoring, error, worker=""):
    """The record of a run that could not complete (its worker died too often, say)."""
    return dict(new_record(run, scoring, worker), error=error)


def train_model(run, inputs, path):
    """Train ``run``'s model into ``path``, continuing a checkpoint there.

    Returns
    -------
    (model, resumed_from, seconds)
        ``resumed_from``: the epoch of the checkpoint continued (None: a new model);
        ``seconds``: the training time of this attempt.
    """
    saved = checkpoint(path, run.options.get("epochs"))
    if saved is not None and saved[1]:
        return load_model(path).model, saved[0], 0.0
    options = dict(run.options)
    kind = options.pop("model", "rbm")
    clock = time.perf_counter()
    model = train(inputs.data, kind, output=path, resume=saved is not None,
                  force=saved is None, validate=inputs.validate, threads=THREADS, **options)
    return model, None if saved is None else saved[0], time.perf_counter() - clock


def checkpoint(path, epochs=None):
    """(epoch, finished) of the model file ``path``, or None when there is none that can
    be continued (missing or unreadable: the run starts again). ``epochs``: the run's
    planned epochs (None: the ones the checkpoint was started with)."""
    if not os.path.exists(path):
        return None
    try:
        mf = load_model(path)
    except InputError:
        return None
    planned = epochs or mf.hyperparameters.get("epochs", 0)
    return mf.epoch, mf.model.unfinished(mf) is None and mf.epoch >= planned


def score_model(model, seed, inputs):
    """The summary of the model's scores (metric -> value) on the scoring data, with one
    kernel thread; ``seed`` drives binarisation and AIS."""
    scoring = inputs.scoring
    data = scoring.data if scoring.data is not None else inputs.data
    if data is None:
        raise InputError("nothing to score: give DATA or --test DATA")
    images = load_dataset(data).images
    keywords = {**{name: True for name in scoring.metrics}, **scoring.options}
    with blas_threads(configure_threads(THREADS)):
        scores = model.score(images, seed=seed, **keywords)
    return {name: _plain(value) for name, value in scores.summary.items()}


def _plain(value):
    """A NumPy scalar as the Python number JSON writes."""
    return value.item() if isinstance(value, np.generic) else value
