"""Pieces shared by the commands: the model option, opening a model, the options a user
typed, turning what a model cannot do into a usage error, and the BLAS thread limit.

Only Click and the standard library are imported at module level, so that ``rbm --help``
stays instant.
"""

import contextlib
import functools
import os

import click

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
    from rbmcli.io.modelfile import load_model

    path = resolve_model_path(model_path)
    mf = load_model(path)
    problem = mf.model.unfinished(mf)
    if problem:
        raise InputError(problem, path)
    return mf


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


@contextlib.contextmanager
def blas_threads(n):
    """Limit BLAS (OpenBLAS/MKL) to ``n`` threads inside the block (threadpoolctl); no
    limit when ``n`` is None."""
    if n is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
