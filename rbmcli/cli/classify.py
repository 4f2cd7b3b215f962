"""``rbm classify``: the class of every image under a model with label units (a class RBM,
or a DBN whose top RBM has them), with the accuracy and confusion matrix when the data
have labels.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`).
"""

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (Output, check_outputs, force_option, input_files,
                               model_errors, model_option, open_model, resolve_model_path,
                               threads_option)
from rbmcli.errors import InputError

MAX_ERRORS = 400
"""At most this many misclassified images in the --errors grid (the first ones)."""


@click.command()
@click.argument("data")
@model_option
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: predictions, and with labels accuracy, errors "
                   "and the confusion matrix.")
@click.option("--per-sample", is_flag=True,
              help="Print a TSV row per image: index, prediction (label) and the "
                   "probability of every class.")
@click.option("--errors", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help=f"Write a grid of the misclassified images (the first {MAX_ERRORS}; "
                   "DATA needs labels).")
@force_option()
@threads_option()
@model_errors
def classify(data, model_path, as_json, per_sample, errors, force, threads):
    """Classify the images of DATA (FILE.h5, FILE.h5:GROUP, or - for HDF5 on stdin) with
    a model trained with --labels: one predicted class per line on stdout.

    Each image goes up the model (a DBN: its mean-field up pass) to the top RBM, and
    its class is the label whose units give the lowest free energy F(x, y) there
    (exact: one free energy per class; probabilities softmax(-F)). When DATA has
    labels, the accuracy and the confusion matrix go to stderr (or into --json).

    \b
    Examples:
      rbm classify mnist.h5:test -m classrbm.h5
      rbm classify mnist.h5:test -m dbn.h5 --json
      rbm classify mnist.h5:test -m dbn.h5 --per-sample --errors wrong.png
    """
    path = resolve_model_path(model_path)
    check_outputs([Output(errors, "--errors", "PNG", stream="the grid cannot go to standard "
                          "output", suffixes=(".png",))], input_files(path, data), force)
    mf = open_model(model_path)
    model = mf.model
    model.check_classifies()  # a one-line usage error before the data are read
    ds = lazy.load_dataset(data)
    source = "<stdin>" if data.split(":")[0] == "-" else data
    if ds.images.shape[1] != model.n_visible:
        raise InputError(f"has {ds.images.shape[1]} pixels per image but the model in "
                         f"{path} has {model.n_visible} visible units", source)
    if errors is not None and ds.labels is None:
        raise InputError("has no labels: --errors needs labelled data", source)
    n_threads = lazy.configure_threads(threads, log=lambda msg: click.echo(msg, err=True))
    with lazy.blas_threads(n_threads):
        result = lazy.classify_images(model, ds.images, ds.labels)
    if as_json:
        click.echo(result.json(per_sample))
    elif per_sample:
        click.echo(result.tsv())
    else:
        click.echo("\n".join(str(p) for p in result.predictions))
    if result.truth is not None and not as_json:
        for line in result.report():
            click.echo(line, err=True)
    if errors is not None:
        wrong = result.misclassified()
        if len(wrong) == 0:
            click.echo(f"no misclassified images: {errors} not written", err=True)
            return
        shown = wrong[:MAX_ERRORS]
        lazy.save_grid(errors, lazy.as_unit_float(ds.images[shown]), ds.image_shape)
        click.echo(f"wrote {errors}: {len(shown)} of {len(wrong)} misclassified images",
                   err=True)
