"""``rbm info``: describe a model file or a data file."""

import os

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import Output, check_outputs, force_option, input_files, model_errors
from rbmcli.errors import InputError


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--filters", "filters_png", type=click.Path(dir_okay=False),
              help="Also write the first 100 hidden units' weights as a PNG (model files).")
@force_option()
@model_errors
def info(path, filters_png, force):
    """Describe PATH: a model (units, training options, history) or a data file
    (groups, image counts and shapes).

    \b
    Examples:
      rbm info model.h5
      rbm info model.h5 --filters filters.png
      rbm info mnist.h5
    """
    check_outputs([Output(filters_png, "--filters", "PNG", suffixes=(".png",),
                          stream="standard output has the description")],
                  input_files(path), force)
    if lazy.is_model_file(path):
        mf = lazy.load_model(path)
        model = mf.model
        filters = model.filters() if filters_png else None
        for line in model.describe(mf):
            click.echo(line)
        if filters_png:
            lazy.save_filters(filters_png, filters, mf.image_shape)
            click.echo(f"wrote {filters_png}", err=True)
        return
    if filters_png:
        raise click.UsageError("--filters needs a model file")
    file, group = split_group(path)
    for line in describe_data(file, group):
        click.echo(line)


def split_group(path):
    """``(file, group)`` of PATH: ``FILE.h5:GROUP`` names one group of an existing data
    file (not a file called so); group is None otherwise."""
    head, sep, tail = path.rpartition(":")
    if sep and head and tail and "/" not in tail and not os.path.exists(path) \
            and os.path.isfile(head):
        return head, tail
    return path, None


def describe_data(path, group=None):
    """Lines describing an HDF5 data file: one per group of images (only ``group`` when
    given; InputError listing the groups when it has no such group)."""
    groups, root = lazy.image_groups(path)
    specs = ([path] if root else []) + [f"{path}:{g}" for g in groups]
    if group is not None:
        if group not in groups:
            found = ", ".join(groups) if groups else "none"
            raise InputError(f"no group {group!r} of images (groups: {found}); "
                             f"'rbm info {path}' describes the whole file", path)
        specs = [f"{path}:{group}"]
    if not specs:
        raise InputError("neither a model file nor a data file (no 'images' dataset)", path)
    lines = []
    for spec in specs:
        ds = lazy.load_dataset(spec)
        labels = f", labels {len(set(ds.labels.tolist()))} classes" if ds.labels is not None else ""
        lines.append(f"{ds.source}\t{ds.images.shape[0]} images of {ds.image_shape[0]}x"
                     f"{ds.image_shape[1]}, {ds.images.dtype}{labels}")
    return lines
