"""Pieces shared by the commands: the model option, opening a model, the options a user
typed, checking an output folder, and turning what a model cannot do into a usage error.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`), so that ``rbm --help`` stays instant.
"""

import functools
import os

import click

from rbmcli.cli import lazy
from rbmcli.errors import InputError, NotSupported

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


def check_folder(path):
    """InputError now (before any sampling) when ``path`` cannot be created there."""
    if path in (None, "-"):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write: no such directory {folder!r}", path)


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
