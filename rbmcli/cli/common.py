"""Pieces shared by the commands: the model option, opening a model, the options a user
typed, the output rule (:func:`check_outputs`), the option types of seeds and finite
floats, the memory cap of sample counts, and turning what a model cannot do into a usage
error.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`), so that ``rbm --help`` stays instant.
"""

import functools
import math
import os
import sys
from dataclasses import dataclass

import click

from rbmcli.cli import lazy
from rbmcli.errors import InputError, NotSupported
from rbmcli.memory import available_memory, size_text

MODEL_ENV = "RBM_MODEL"


def model_option(f):
    """``-m/--model FILE``: defaults to ``$RBM_MODEL``, else ``./model.h5``."""
    return click.option(
        "-m", "--model", "model_path", default=None, metavar="FILE",
        help=f"Model file [default: ${MODEL_ENV}, else ./model.h5].")(f)


def resolve_model_path(model_path):
    """The model file a command should use: the option, ``$RBM_MODEL``, or ``model.h5``."""
    return model_path or os.environ.get(MODEL_ENV) or "model.h5"


def open_model(model_path):
    """Load the :class:`rbmcli.io.modelfile.ModelFile` named by ``-m`` (or its defaults);
    raises InputError naming the file when it is missing or bad, or when the model there
    cannot be used yet (a DBN still in training)."""
    path = resolve_model_path(model_path)
    mf = lazy.load_model(path)
    problem = mf.model.unfinished(mf)
    if problem:
        raise InputError(problem, path)
    return mf


SEED_MAX = 2**32 - 1
SEED = click.IntRange(0, SEED_MAX)
"""The type of every ``--seed``: 0 .. 2**32-1 (a seed NumPy's ``default_rng`` and every
file attribute that stores it accept)."""


def seed_option(help="Random seed."):
    """``--seed N`` (0 .. 2**32-1, default 0), the same in every command."""
    return click.option("--seed", type=SEED, default=0, show_default=True, help=help)


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number.", param, ctx)
        return value


THREADS_HELP = "Kernel threads [default: the cores not busy with other work]."


def threads_option(help=THREADS_HELP):
    """``--threads N`` (N >= 1; default: :func:`rbmcli.threads.choose_threads`)."""
    return click.option("--threads", type=click.IntRange(min=1), default=None, help=help)


def force_option(help="Overwrite existing output files."):
    """``--force``: replace outputs that exist (never an input of the command)."""
    return click.option("--force", is_flag=True, help=help)


@dataclass
class Output:
    """One output of a command, for :func:`check_outputs`.

    path : the file, ``"-"`` (standard output) or None (not asked for)
    flag : the option that names it (``"-o"``, ``"--gif"``), shown in messages
    kind : what is written (``"HDF5"``, ``"PNG"``, ``"GIF"``)
    stream : why ``-`` is refused, or None when ``-`` writes to standard output
    suffixes : the file name endings allowed (lower case), or None for any
    replaceable : may be replaced without --force (train --resume: its own pictures)
    """

    path: object
    flag: str
    kind: str
    stream: object = None
    suffixes: tuple = None
    replaceable: bool = False


def _stdout_is_a_terminal():
    return sys.stdout.isatty()


def input_files(*specs):
    """The files named by input arguments (``FILE``, ``FILE.h5:GROUP``), without ``-``
    (standard input), None, and names that do not exist."""
    found = []
    for spec in specs:
        if spec is None:
            continue
        spec = os.fspath(spec)
        candidates = [spec]
        head, sep, tail = spec.rpartition(":")
        if sep and head and "/" not in tail:
            candidates.append(head)
        found += [c for c in candidates if c != "-" and os.path.isfile(c)]
    return found


def check_outputs(outputs, inputs=(), force=False):
    """The output rule of every command, checked before any work: InputError (exit 1) or
    UsageError (exit 2) with one line, and nothing written, when an output

    - is ``-`` where standard output cannot take it, or where it is a terminal;
    - has a name ending the command cannot write (``-o p.h5`` for a PNG);
    - is given twice, or lies in a folder that does not exist;
    - is one of ``inputs`` (the same file after links: refused even with ``force``);
    - exists, unless ``force`` (or the output is ``replaceable``).

    ``outputs`` are :class:`Output`; ``inputs`` are paths (see :func:`input_files`). The
    commands then write every file atomically (:func:`rbmcli.io.atomic.atomic_path`).
    """
    outputs = [o for o in outputs if o.path is not None]
    streams = [o for o in outputs if os.fspath(o.path) == "-"]
    for out in streams:
        if out.stream is not None:
            raise click.UsageError(f"{out.flag} -: {out.stream}; give {out.flag} FILE")
    if len(streams) > 1:
        raise click.UsageError(f"{streams[0].flag} - and {streams[1].flag} -: only one output "
                               "can go to standard output")
    if streams and _stdout_is_a_terminal():
        out = streams[0]
        raise InputError(f"refusing to write {out.kind} to a terminal; redirect it or give "
                         f"{out.flag} FILE")
    seen = {}
    for out in outputs:
        path = os.fspath(out.path)
        if path == "-":
            continue
        if out.suffixes and not path.lower().endswith(out.suffixes):
            ends = " or ".join(out.suffixes)
            dash = "" if out.stream else f", or - for {out.kind} on standard output"
            raise click.UsageError(f"{out.flag} {path}: expected a {ends} file{dash}")
        real = os.path.realpath(path)
        if real in seen:
            raise click.UsageError(f"{seen[real].flag} and {out.flag} name the same file "
                                   f"{path}; choose another output")
        seen[real] = out
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot write: no such directory {folder!r}", path)
        if os.path.exists(path) and any(_same_file(path, i) for i in inputs):
            raise InputError("is an input of this command; choose another output", path)
        if os.path.lexists(path) and not (force or out.replaceable):
            raise InputError("exists; use --force to overwrite it", path)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


BYTES_PER_VALUE = 32
"""The working memory a sampled value (one pixel of one chain) is allowed in
:func:`check_count`: float64 states, probabilities and the result, with room to spare."""


def check_count(flag, count, n_values, what="samples"):
    """InputError naming ``flag`` and ``count`` when ``n_values`` values (the pixels of
    every chain that ``count`` asks for) would need more working memory
    (:data:`BYTES_PER_VALUE` each) than the machine has available."""
    need = n_values * BYTES_PER_VALUE
    have = available_memory()
    if have is not None and need > have:
        raise InputError(f"{flag} {count}: the {what} would need about {size_text(need)} of "
                         f"memory, more than the {size_text(have)} available")


def typed(ctx, names):
    """The options among ``names`` that the user typed, as a dict of keyword arguments
    (the library applies its own defaults to the others)."""
    return {name: ctx.params[name] for name in names
            if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}


def option_text(err):
    """The one-line message of a :class:`NotSupported`, naming its option as a flag."""
    if err.option is None:
        return err.reason
    return f"--{err.option.replace('_', '-')} {err.reason}".replace(" :", ":")


def model_errors(command):
    """Decorate a command so that :class:`NotSupported` (a model that cannot do what the
    options ask) ends it as a usage error (exit 2) with one line."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NotSupported as err:
            raise click.UsageError(option_text(err)) from None
    return run
