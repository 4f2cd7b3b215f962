"""Pieces shared by the commands that use a model (sample, inpaint, score)."""

import os

import click

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
    raises InputError naming the file when it is missing or bad."""
    from rbmcli.errors import InputError
    from rbmcli.io.modelfile import load_model
    path = resolve_model_path(model_path)
    mf = load_model(path)
    planned = mf.hyperparameters.get("hidden_sizes")
    if mf.model.model_type == "dbn" and (len(mf.model.layers) < max(2, len(planned or ()))
                                         or mf.epoch < mf.hyperparameters.get("epochs", 0)
                                         * len(planned or ())):
        raise InputError(f"the DBN is still in training ({mf.epoch} epochs over "
                         f"{len(mf.model.layers)} of {len(planned or ())} layers); finish it "
                         "with 'rbm train --resume'", path)
    return mf
