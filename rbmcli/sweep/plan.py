"""What a sweep runs: the runs of a grid or of a sweep file, each with a stable id.

A run is one ``rbmcli.train`` call: its options (``rbm train``'s, by their long names with
``_`` for ``-``, ``model`` and ``seed`` included). :func:`expand` makes the runs of grids
(each the cartesian product of its value lists) times seeds; :func:`read_sweep_file` reads
a TOML sweep file, for studies that are not one product::

    seeds = 3                     # settings of the sweep (the command line overrides them)
    score = "ll,mser"
    test = "mnist.h5:test"

    [options]                     # every run
    epochs = 20
    pcd = 1

    [[grid]]                      # a product; the runs of every [[grid]] are joined
    hidden = [50, 100]
    l2 = [1e-3, 1e-4]

    [[grid]]
    hidden = [50, 100]
    l1 = [1e-3, 1e-4]

A run's id names the options that vary across the sweep and the seed
(``hidden-50_l2-0.001_seed-0``): the same command gives the same ids, so a sweep started
again finds the runs it has done. Values here are as the caller typed them; the command
converts them with the types of ``rbm train``'s options first.
"""

import hashlib
import itertools
import json
import re
from dataclasses import dataclass

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the sweep extra installs tomli
    import tomli as tomllib

from rbmcli.errors import InputError

SETTINGS = ("data", "validate", "test", "seeds", "score")
"""The top-level keys of a sweep file besides ``[options]`` and ``[[grid]]``: what the
command line's DATA, ``--validate``, ``--test``, ``--seeds`` and ``--score`` give."""


@dataclass
class Run:
    """One run of a sweep.

    Attributes
    ----------
    run_id : str
        ``NAME-VALUE`` of every varying option and the seed, joined by ``_``.
    options : dict
        The keyword arguments of ``rbmcli.train`` (``model`` and ``seed`` included).
    axes : tuple of str
        The option names that vary across the sweep, in grid order, ``seed`` last.
    """

    run_id: str
    options: dict
    axes: tuple

    @property
    def cell(self):
        """The id of the run's cell: its id without the seed (the runs of one cell differ
        only in their seed)."""
        return cell_id(self.options, self.axes)


@dataclass
class SweepFile:
    """What a TOML sweep file holds (values as written, not yet converted).

    Attributes
    ----------
    options : dict
        ``[options]``: name -> value for every run.
    grids : list of dict
        ``[[grid]]`` tables: name -> list of values (a single value becomes a list of one).
    settings : dict
        The top-level :data:`SETTINGS` found.
    """

    options: dict
    grids: list
    settings: dict


def read_sweep_file(path):
    """Read a TOML sweep file (the module docstring); InputError naming ``path`` for a file
    that is missing, not TOML, or has keys or values a sweep file cannot have."""
    try:
        with open(path, "rb") as fh:
            text = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not a TOML sweep file: {err}", path) from None
    unknown = sorted(set(text) - set(SETTINGS) - {"options", "grid"})
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} (a sweep file has [options], "
                         f"[[grid]] and {', '.join(SETTINGS)})", path)
    options = text.get("options", {})
    grids = text.get("grid", [])
    if not isinstance(options, dict):
        raise InputError("[options] must be a table of option = value", path)
    if not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise InputError("grid must be [[grid]] tables of option = [values]", path)
    grids = [{name: _value_list(values, name, path) for name, values in grid.items()}
             for grid in grids]
    settings = {key: text[key] for key in SETTINGS if key in text}
    check_settings(settings, path)
    return SweepFile(options=options, grids=grids, settings=settings)


def check_settings(settings, path):
    """InputError naming ``path`` for a setting of the wrong type: ``seeds`` a whole
    number >= 1, the others text."""
    seeds = settings.get("seeds", 1)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise InputError(f"seeds = {seeds!r}: expected a whole number >= 1", path)
    for key in ("data", "validate", "test", "score"):
        if not isinstance(settings.get(key, ""), str):
            raise InputError(f"{key} = {settings[key]!r}: expected a string", path)


def _value_list(values, name, path):
    """The values of one ``[[grid]]`` entry as a non-empty list."""
    values = values if isinstance(values, list) else [values]
    if not values:
        raise InputError(f"[[grid]] {name} = []: give at least one value", path)
    return values


def expand(options, grids=(), seeds=None):
    """The runs of a sweep: every grid's product of values over ``options``, times seeds.

    Parameters
    ----------
    options : dict
        Options of every run (name -> value).
    grids : sequence of dict
        Each name -> list of values; a run for every combination (their product). No
        grids: one run of ``options``.
    seeds : sequence of int, optional
        Every combination once per seed. None: the ``seed`` of the options or grid
        (default 0).

    Returns
    -------
    list of Run
        In grid order, seeds innermost; the same combination given twice runs once.
    """
    combinations = []
    for grid in list(grids) or [{}]:
        names = list(grid)
        for values in itertools.product(*(grid[name] for name in names)):
            combination = {**options, **dict(zip(names, values))}
            for seed in seeds if seeds is not None else [combination.get("seed", 0)]:
                combination = {**combination, "seed": seed}
                if combination not in combinations:
                    combinations.append(combination)
    axes = varying_names(combinations, [n for g in grids for n in g])
    return _with_unique_ids([Run(run_id(c, axes), c, axes) for c in combinations])


def varying_names(combinations, order=()):
    """The option names whose value is not the same in every combination (missing counts
    as a value of its own), ``order`` first, then the others sorted, ``seed`` always and
    last."""
    names = list(dict.fromkeys([*order, *sorted({n for c in combinations for n in c})]))
    varying = [n for n in names if n != "seed"
               and len({value_label(c.get(n)) for c in combinations}) > 1]
    return tuple(varying) + ("seed",)


def value_label(value):
    """A value as it appears in ids and tables: ``16``, ``0.001``, ``500x500`` (layer
    sizes), ``true``, ``pcd``; None (not given): ``default``."""
    if value is None:
        return "default"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "x".join(value_label(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _id_part(name, value):
    return f"{name}-{re.sub(r'[^A-Za-z0-9.+-]', '_', value_label(value))}"


def run_id(options, axes):
    """``NAME-VALUE`` of every name of ``axes`` the options give, joined by ``_`` (a name
    safe in file names)."""
    return "_".join(_id_part(n, options[n]) for n in axes if n in options)


def cell_id(options, axes):
    """:func:`run_id` without the seed; ``all`` when only the seed varies."""
    return run_id(options, [n for n in axes if n != "seed"]) or "all"


def _with_unique_ids(runs):
    """Runs whose ids collide (values that differ only in characters a file name cannot
    hold) get a short hash of their options appended."""
    counts = {}
    for run in runs:
        counts[run.run_id] = counts.get(run.run_id, 0) + 1
    for run in runs:
        if counts[run.run_id] > 1:
            text = json.dumps(run.options, sort_keys=True, default=str)
            run.run_id += "_" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return runs


def option_flags(options):
    """The options as ``rbm train`` flags: ``--hidden 16 --l2 0.001 --no-centering``."""
    flags = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (list, tuple)):
            flags.append(f"{flag} {','.join(str(v) for v in value)}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join(flags)
