"""``rbm sweep``: hyperparameter studies on Dask, every run a full ``rbm train`` with its
scores; the library is :mod:`rbmcli.sweep`.

The options of a run are ``rbm train``'s own: this command takes the train command's
Click options (so a value of ``--grid NAME=V1,V2`` or of a sweep file is checked by the
same type as ``rbm train --NAME V``), without those of files and threads, which the sweep
sets itself.
"""

import os
import signal
import sys

import click

from rbmcli import interrupts
from rbmcli.cli import lazy
from rbmcli.cli.common import input_files, model_errors, typed
from rbmcli.cli.score import score as score_command
from rbmcli.cli.train import train as train_command
from rbmcli.errors import InputError
from rbmcli.progress import ProgressBar

NOT_RUN_OPTIONS = ("data", "output", "resume", "force", "threads", "pictures", "validate")
"""``rbm train``'s parameters that are not options of a run (the sweep sets them)."""
RUN_PARAMETERS = [p for p in train_command.params if p.name not in NOT_RUN_OPTIONS]
"""``rbm train``'s options of one run (the Click parameters themselves)."""
VALIDATE = [p for p in train_command.params if p.name == "validate"]
AIS_PARAMETERS = [p for p in score_command.params
                  if p.name in ("ais_runs", "ais_steps", "reverse_burn_in")]
"""``rbm score``'s settings of AIS, for ``--score ll`` on models with many units."""

SCORES = ("ll", "mser", "bracket", "free_energy", "pseudo_ll")
"""What ``--score`` can ask for: flags of ``rbm score``."""
DEFAULT_SCORES = "ll,mser"


def run_option(param):
    """The keyword of ``rbmcli.train`` that a train parameter gives."""
    return "model" if param.name == "model_kind" else param.name


OPTIONS = {run_option(p): p for p in RUN_PARAMETERS}
"""Keyword of ``rbmcli.train`` -> the train command's parameter that types it."""
OPTIONS_BY_PARAM = {p.name: p for p in RUN_PARAMETERS}


def typed_value(ctx, name, value):
    """``value`` (text from ``--grid``, or a TOML value) converted by the type of ``rbm
    train``'s option ``name``; click.BadParameter when it is not one, KeyError when
    ``name`` is not an option of a run."""
    param = OPTIONS[name]
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return param.type.convert(str(value), param, ctx)


def grid_option(ctx, text):
    """``NAME=V1,V2,...`` of ``--grid`` as (name, [typed values])."""
    name, sep, values = text.partition("=")
    name = name.strip().lstrip("-").replace("-", "_")
    if not sep or not values.strip():
        raise click.UsageError(f"--grid {text}: expected NAME=V1,V2,...")
    if name not in OPTIONS:
        raise click.UsageError(f"--grid {text}: {name} is not an option of rbm train "
                               f"(options: {', '.join(sorted(OPTIONS))})")
    try:
        return name, [typed_value(ctx, name, v.strip()) for v in values.split(",")]
    except click.BadParameter as err:
        raise click.UsageError(f"--grid {text}: {err.message}") from None


def command_line_grid(ctx, texts):
    """The ``--grid`` options as one grid: name -> typed values."""
    grid = {}
    for text in texts:
        name, values = grid_option(ctx, text)
        if name in grid:
            raise click.UsageError(f"--grid {text}: {name} has a --grid already")
        grid[name] = values
    return grid


def file_options(ctx, values, path):
    """A sweep file's ``name = value`` pairs typed (:func:`typed_value`); InputError
    naming ``path`` for an unknown name or a bad value."""
    typed_values = {}
    for name, value in values.items():
        if name not in OPTIONS:
            raise InputError(f"{name} is not an option of rbm train", path)
        try:
            typed_values[name] = typed_value(ctx, name, value)
        except click.BadParameter as err:
            raise InputError(f"{name} = {value!r}: {err.message}", path) from None
    return typed_values


def file_grids(ctx, grids, path):
    """A sweep file's ``[[grid]]`` tables with typed values."""
    return [{name: [file_options(ctx, {name: v}, path)[name] for v in values]
             for name, values in grid.items()}
            for grid in grids]


def absolute_spec(spec):
    """A data spec (``FILE`` or ``FILE:GROUP``) with an absolute file name (workers may
    run in another folder); InputError when the file does not exist."""
    if spec is None:
        return None
    if spec.split(":")[0] == "-":
        raise click.UsageError("rbm sweep cannot read data from standard input; give a file")
    found = input_files(spec)
    if not found:
        raise InputError("no such file", spec)
    return os.path.abspath(found[0]) + spec[len(found[0]):]


def score_names(text):
    """``--score M1,M2``: the names (``free-energy`` or ``free_energy``), checked."""
    names = [n.strip().replace("-", "_") for n in text.split(",") if n.strip()]
    wrong = [n for n in names if n not in SCORES]
    if wrong or not names:
        raise click.UsageError(f"--score {text}: expected some of "
                               f"{','.join(n.replace('_', '-') for n in SCORES)}")
    return tuple(names)


@click.command()
@click.argument("data", required=False)
@click.option("-o", "--output", "folder", metavar="DIR", type=click.Path(file_okay=False),
              help="The sweep's folder: runs/ (every run's model and record), "
                   "results.csv, summary.md and pictures. An existing sweep folder is "
                   "continued: recorded runs are skipped, checkpoints resumed.")
@click.option("--grid", multiple=True, metavar="NAME=V1,V2,...",
              help="Try these values of the rbm train option NAME (repeatable: the runs "
                   "are the product of all grids), e.g. --grid hidden=50,100 --grid "
                   "l2=1e-3,1e-4.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run every cell with K seeds: --seed, --seed + 1, ... [default: 1].")
@click.option("-f", "--file", "sweep_file", type=click.Path(dir_okay=False),
              metavar="SWEEP.toml", help="A sweep file: [options] of every run and "
                                         "[[grid]] tables, each a product (README: Sweeps).")
@click.option("--score", "score_list", metavar="M1,M2,...",
              help=f"What to measure after training: some of {', '.join(SCORES)} "
                   f"(metrics of rbm score) [default: {DEFAULT_SCORES}].")
@click.option("--test", metavar="DATA", help="Data to score (FILE.h5[:GROUP]) [default: "
                                             "--validate, else DATA].")
@click.option("--dry-run", is_flag=True, help="Print the runs (id, status, options), one "
                                              "per line, and stop.")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run on this Dask scheduler [default: $DASK_SCHEDULER_ADDRESS, else a "
                   "local cluster].")
@click.option("--scheduler-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Run on the Dask scheduler that wrote FILE (dask scheduler "
                   "--scheduler-file FILE).")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes of the local cluster [default: one per core].")
@click.option("--scatter", is_flag=True,
              help="Load the data here and send the arrays to the workers once, instead "
                   "of every worker reading the files.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Times a run is tried again when it raises an unexpected error or, on "
                   "the local cluster, when its worker dies (a running scheduler has its "
                   "own allowed-failures), before it is recorded as failed.")
@click.option("--retry-failed", is_flag=True, help="Run again the runs recorded as failed.")
@click.option("--report", "report_folder", metavar="DIR", type=click.Path(file_okay=False),
              help="Only rebuild results.csv, summary.md and the pictures of the sweep in "
                   "DIR from its records.")
@click.option("--axes", metavar="NAME[,NAME]",
              help="The pictures' axes: heat-map rows (and the curves' x when numeric) and "
                   "columns [default: the first two options that vary].")
@click.pass_context
@model_errors
def sweep(ctx, data, folder, grid, seeds, sweep_file, score_list, test, dry_run, scheduler,
          scheduler_file, workers, scatter, retries, retry_failed, report_folder, axes,
          validate, ais_runs, ais_steps, reverse_burn_in, **train_options):
    """Train and score a model for every combination of --grid values (times --seeds),
    on a Dask cluster, and tabulate the results in DIR.

    Every run is a full `rbm train DATA` with the options given here and its grid
    values, followed by its scores on --test. Runs go to a local cluster of one
    single-threaded worker per core, or to a running Dask scheduler (--scheduler,
    --scheduler-file, $DASK_SCHEDULER_ADDRESS): DATA, --test and DIR must then be
    readable (DIR writable) by every worker. Started again, a sweep skips the runs
    recorded in DIR and continues those with a checkpoint.

    \b
    Examples:
      rbm sweep mnist.h5 --test mnist.h5:test -o grid --grid hidden=50,100 --seeds 3
      rbm sweep mnist.h5 -o grid --grid hidden=50,100 --grid l2=0,1e-4 --epochs 20
      rbm sweep -f study.toml -o study --dry-run
      rbm sweep -f study.toml -o study --scheduler tcp://head:8786
      rbm sweep --report grid --axes hidden,l2
    """
    # train_options: read from ctx with the sources Click records (typed or default)
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    axes = [a.strip() for a in axes.split(",")] if axes else None
    if report_folder is not None:
        for path in lazy.rebuild_sweep(report_folder, axes):
            log(f"wrote {path}")
        return
    study = read_study(ctx, sweep_file, data, validate, test, seeds, score_list, grid)
    runs = lazy.expand_sweep(study["options"], study["grids"], study["seeds"])
    if dry_run:
        print_runs(runs, folder)
        return
    if folder is None:
        raise click.UsageError("-o DIR: give the sweep's folder")
    if workers is not None and (scheduler or scheduler_file):
        raise click.UsageError("--workers is for the local cluster, not --scheduler")
    where = lazy.SweepWhere(scheduler=scheduler, scheduler_file=scheduler_file,
                            workers=workers, retries=retries)
    inputs = sweep_inputs(study, folder, dict(ais_runs=ais_runs, ais_steps=ais_steps,
                                              reverse_burn_in=reverse_burn_in),
                          typed(ctx, [p.name for p in AIS_PARAMETERS]))
    progress = Progress(log)
    # SIGTERM (what job schedulers send) ends a sweep as Ctrl-C does
    with interrupts.trap(raising=True) as stop:
        try:
            written = lazy.run_sweep(runs, inputs, where, retry_failed=retry_failed,
                                     scatter=scatter, axes=axes, log=progress.say,
                                     on_start=progress.start, on_done=progress.done)
        except KeyboardInterrupt:
            progress.close()
            name = interrupts.signal_name(stop.signum or signal.SIGINT)
            log(f"\ninterrupted ({name}): the finished runs are recorded in {folder}; run "
                "the same command again to continue (recorded runs are skipped, the others "
                "resume from their checkpoints)")
            sys.exit(130)
    progress.close()
    log(f"wrote {', '.join(os.path.relpath(p, folder) for p in written)} in {folder}")


sweep.params.extend([*VALIDATE, *AIS_PARAMETERS, *RUN_PARAMETERS])


def read_study(ctx, sweep_file, data, validate, test, seeds, score_list, grid):
    """What to run, from the command line and the sweep file (the command line wins):
    ``options`` (typed), ``grids``, ``seeds`` (a list, or None when a grid has seed),
    ``data``, ``validate``, ``test`` and ``scores``."""
    found = lazy.read_sweep_file(sweep_file) if sweep_file else None
    settings = found.settings if found else {}
    options = file_options(ctx, found.options, sweep_file) if found else {}
    options.update({run_option(OPTIONS_BY_PARAM[name]): value for name, value
                    in typed(ctx, list(OPTIONS_BY_PARAM)).items()})
    if grid and found and found.grids:
        raise click.UsageError(f"--grid and the [[grid]] tables of {sweep_file}: give one")
    grids = [command_line_grid(ctx, grid)] if grid else \
        file_grids(ctx, found.grids, sweep_file) if found else []
    count = seeds or settings.get("seeds", 1)
    if any("seed" in g for g in grids):
        if count != 1:
            raise click.UsageError("a grid of seed and --seeds: give one")
        seed_list = None
    else:
        start = options.pop("seed", 0)
        seed_list = [start + i for i in range(int(count))]
    return dict(options=options, grids=grids, seeds=seed_list,
                data=data or settings.get("data"), validate=validate or settings.get("validate"),
                test=test or settings.get("test"),
                scores=score_names(score_list or settings.get("score") or DEFAULT_SCORES))


def sweep_inputs(study, folder, ais, ais_typed):
    """The :class:`rbmcli.sweep.run.SweepInputs` of a study: absolute data specs and
    folder, and the scoring (on --test, else --validate, else DATA)."""
    data, validate, test = (absolute_spec(study[k]) for k in ("data", "validate", "test"))
    scored = next(((spec, label) for spec, label in
                   ((test, "test"), (validate, "validate"), (data, "train")) if spec), None)
    if scored is None:
        raise click.UsageError("nothing to score the runs on: give DATA, --test or "
                               "--validate")
    scoring = lazy.SweepScoring(metrics=study["scores"], data=scored[0], label=scored[1],
                                options={k: ais[k] for k in ais_typed})
    return lazy.SweepInputs(folder=os.path.abspath(folder), data=data, validate=validate,
                            scoring=scoring)


def print_runs(runs, folder):
    """``--dry-run``: ``ID<TAB>STATUS<TAB>OPTIONS`` per run on standard output (STATUS:
    what DIR holds of it: todo, checkpoint, done or failed)."""
    found = lazy.sweep_statuses(folder, runs) if folder else {}
    for run in runs:
        click.echo(f"{run.run_id}\t{found.get(run.run_id, 'todo')}\t"
                   f"{lazy.option_flags(run.options)}")


class Progress:
    """The sweep's progress on stderr: a bar over runs on a terminal, else one line per
    finished run."""

    def __init__(self, log):
        self.total, self.log, self.finished = 0, log, 0
        self.bar = None

    def start(self, total):
        """``total`` runs are about to run."""
        self.total = total
        self.bar = ProgressBar("sweep") if sys.stderr.isatty() and total else None
        if self.bar:
            self.bar.update(0, total)

    def say(self, line):
        """A line of the sweep (not a run's), clearing the bar first."""
        if self.bar:
            self.bar.close()
        self.log(line)

    def done(self, record):
        """One run ended (``record``): the bar, or a line naming the run and its result."""
        self.finished += 1
        if self.bar:
            if record["status"] != "ok":
                self.say(f"{record['run_id']}: failed: {record['error']}")
            self.bar.update(self.finished, self.total)
            return
        self.log(f"[{self.finished}/{self.total}] {record['run_id']}: {outcome(record)}")

    def close(self):
        if self.bar:
            self.bar.close()


def outcome(record):
    """``ll -196.7 mser 0.1658 (1.3 s, tcp://...)`` or ``failed: ERROR``."""
    if record["status"] != "ok":
        return f"failed: {record['error']}"
    shown = [f"{k} {v:.5g}" for k, v in record["metrics"].items()
             if k in ("ll", "ll_ais", "ll_reverse", "mser") and isinstance(v, (int, float))]
    seconds = f"{record['seconds']:.1f} s" if record.get("seconds") is not None else ""
    where = ", ".join(x for x in (seconds, record.get("worker")) if x)
    return " ".join(shown) + (f" ({where})" if where else "")
