"""``rbm transform``: write the hidden features of a model's layer to HDF5 for downstream use.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`).
"""

import os

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (Output, check_outputs, force_option, input_files, model_errors,
                               model_option, open_model, resolve_model_path, seed_option)
from rbmcli.errors import InputError


@click.command()
@click.argument("data")
@model_option
@click.option("--layer", type=click.IntRange(min=1), default=None,
              help="Which hidden layer, 1 = the first [default: the top one].")
@seed_option("Seed of stochastic binarization.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Output FILE.h5, or - for HDF5 bytes on standard output.")
@force_option()
@model_errors
def transform(data, model_path, layer, seed, output, force):
    """Write the hidden features of DATA (FILE.h5, FILE.h5:GROUP or -) under a model.

    The features of layer K are the mean-field up pass P(h_K | P(h_K-1 | ... v)), floats
    in [0, 1], so the output is an rbm data file (`images` of N x H features, `labels`
    copied) that `rbm train`, `rbm score` or any HDF5 reader can use. The images are
    binarised as the model was trained (a Gaussian first layer standardises them). FILE.h5
    without a group transforms every group of the file (train, test, ...) into groups of the
    same names; FILE.h5:GROUP or - writes the root data set.

    \b
    Examples:
      rbm transform mnist.h5 -m dbn.h5 -o features.h5
      rbm transform mnist.h5:test -m dbn.h5 --layer 2 -o h2.h5
      rbm transform mnist.h5 -m dbn.h5 --layer 1 -o h1.h5
      rbm train h1.h5 --hidden 100 -o on-features.h5
    """
    check_outputs([Output(output, "-o", "HDF5")],
                  input_files(data, resolve_model_path(model_path)), force)
    mf = open_model(model_path)
    model = mf.model
    n_features = model.n_features(layer)  # checks --layer before any data is read
    layer = layer or len(model.stack_layers)
    path, group = lazy.split_spec(data)
    specs = {"": data}
    if path != "-" and group is None:
        if not os.path.exists(path):
            raise InputError("no such file", path)
        groups, _ = lazy.image_groups(path)
        if groups:
            specs = {g: f"{path}:{g}" for g in groups}
    out = {}
    for name, spec in specs.items():
        ds = lazy.load_dataset(spec)
        if ds.images.shape[1] != model.n_visible:
            raise InputError(f"has {ds.images.shape[1]} pixels per image, the model "
                             f"{model.n_visible} visible units", spec)
        features = model.transform(lazy.as_unit_float(ds.images, lazy.np.float64), layer, seed)
        out[name] = {"images": features, "labels": ds.labels,
                     "attrs": {"content": f"P(h_{layer} = 1 | v), mean-field up pass",
                               "source": ds.source}}
    lazy.write_dataset(output, out, attrs={"source": "rbm transform", "layer": layer,
                                           "model": str(model.kind)})
    n = sum(len(g["images"]) for g in out.values())
    click.echo(f"wrote {'<stdout>' if output == '-' else output}: {n} x "
               f"{n_features} features of layer {layer}", err=True)
