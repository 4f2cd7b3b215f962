"""``rbm sample``: draw images from a model by Gibbs sampling, parallel tempering or
mean-field, as a PNG grid, an HDF5 data file (or HDF5 bytes on stdout), and a GIF.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`).
"""

import hashlib
import os

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (FiniteFloat, NotSupported, Output, check_count, check_outputs,
                               force_option, input_files, model_errors, model_option, open_model,
                               resolve_model_path, seed_option, threads_option, typed)
from rbmcli.errors import InputError
from rbmcli.progress import ProgressBar

METHODS = ("gibbs", "pt", "mf")
OUTPUT_KINDS = {".png": "png", ".h5": "h5", ".hdf5": "h5"}


def output_kind(path):
    """``"png"``, ``"h5"`` or ``"-"`` for an output path; UsageError otherwise."""
    if path == "-":
        return "-"
    kind = OUTPUT_KINDS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise click.UsageError(f"-o {path}: expected a .png or .h5 file, or - for HDF5 on "
                               "standard output")
    return kind


def file_sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shown(path):
    return "<stdout>" if path == "-" else path


@click.command()
@model_option
@click.option("-n", "count", type=click.IntRange(min=1), default=64, show_default=True,
              help="Number of samples (independent chains).")
@click.option("--method", type=click.Choice(METHODS), default="gibbs", show_default=True,
              help="gibbs: block Gibbs; pt: parallel tempering; mf: mean-field fixed point.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Sweeps (gibbs, pt) or iterations (mf) [default: 1000; mf 200; gibbs "
                   "on a model trained with --cd K --cd-from noise: K].")
@click.option("--init", "init", default="noise", show_default=True, metavar="noise|DATA",
              help="Start from white noise, or from the first N images of a data set "
                   "(FILE.h5[:GROUP] or -), binarised like the model's training data.")
@click.option("--replicas", type=click.IntRange(min=2), default=10, show_default=True,
              help="pt: temperatures per chain, inverse temperatures linearly 1 -> 0.")
@seed_option()
@click.option("--gif", "gif", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write an animated GIF of the chains as they run.")
@threads_option()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="FILE.png (image grid), FILE.h5 (samples + provenance) or - (HDF5 on stdout).")
@click.option("--temperature", type=FiniteFloat(min=0), default=None,
              help="Flows: draw z ~ N(0, T^2 I) [default: 1].")
@click.option("--label", default=None, metavar="K|all",
              help="Models trained with --labels: clamp the label units to class K and "
                   "sample the rest; all: a row of N // C samples for every class.")
@force_option()
@click.pass_context
@model_errors
def sample(ctx, model_path, count, method, steps, init, replicas, seed, gif, threads,
           output, temperature, label, force):
    """Draw N samples from a model and save them.

    Gibbs and pt chains start from white noise (or --init DATA) and run STEPS sweeps;
    the pictures are P(v=1|h) of the final hidden states (grey where the model is
    unsure); the HDF5 output keeps them as float32 `images` plus the binary states in
    group `states`, with the method, steps, seed, replicas and the model's SHA-256 as
    attributes. pt prints the swap acceptance of each neighbouring pair of
    temperatures to stderr. mf iterates the damped mean-field equations instead.

    \b
    Examples:
      rbm sample -n 64 -o samples.png
      rbm sample -m cd1.h5 -n 64 --method pt --replicas 10 -o s.png --gif chains.gif
      rbm sample -n 100 --steps 5000 -o samples.h5
      rbm sample -n 100 -o - | rbm data show - -o samples.png
      rbm sample --init mnist.h5:test -n 16 --steps 10 -o drift.png
      rbm sample -m realnvp.h5 -n 64 --temperature 0.7 -o flow.png    # a flow
      rbm sample -m classrbm.h5 --label 3 -n 16 -o threes.png
      rbm sample -m dbn.h5 --label all -n 100 -o digits.png --gif settling.gif
    """
    np = lazy.np
    kind = output_kind(output)
    if method != "pt" and typed(ctx, ("replicas",)):
        raise click.UsageError("--replicas is for --method pt")
    model_file = resolve_model_path(model_path)
    check_outputs([Output(output, "-o", "PNG" if kind == "png" else "HDF5"),
                   Output(gif, "--gif", "GIF", stream="a GIF cannot go to standard output",
                          suffixes=(".gif",))],
                  input_files(model_file, init), force)
    mf = open_model(model_path)
    model = mf.model
    replicas_used = replicas if method == "pt" else 1
    check_count("-n", count, count * model.n_visible * replicas_used)
    if gif and not model.animates:
        raise NotSupported(f"is for models sampled by Markov chains, not a {model.kind}", "gif")
    rng = np.random.default_rng(seed)
    start = None
    if init != "noise":
        ds = lazy.load_dataset(init)
        if ds.images.shape[1] != model.n_visible:
            raise InputError(f"has {ds.images.shape[1]} pixels per image, the model "
                             f"{model.n_visible} visible units", init)
        if len(ds.images) < count:
            raise InputError(f"has {len(ds.images)} images, fewer than -n {count}", init)
        start = lazy.as_unit_float(ds.images[:count])
    options = typed(ctx, ("method", "steps", "replicas", "temperature", "label"))
    ncols = None
    if label is not None:
        if model.classes is None:
            raise NotSupported("needs a model trained with --labels", "label")
        if label == "all":
            ncols = max(1, count // len(model.classes))
    n_threads = lazy.configure_threads(threads, log=lambda msg: click.echo(msg, err=True))
    total = model.planned_steps(options.get("method"), steps)
    recorder = lazy.GifRecorder(mf.image_shape, total, ncols=ncols) if gif else None
    bar = ProgressBar(f"{method} {count} chains")
    try:
        with lazy.blas_threads(n_threads):
            result = model.sample(count, rng, init=start,
                                  on_step=lazy.on_step_callback(bar, total, recorder), **options)
    finally:
        bar.close()
    if result.swap_acceptance is not None:
        rates = " ".join(f"{a:.2f}" for a in result.swap_acceptance)
        click.echo(f"swap acceptance per neighbouring pair (beta 1 -> 0): {rates}", err=True)

    images = np.clip(result.images, 0, 1).astype(np.float32)
    if kind == "png":
        lazy.save_grid(output, images, mf.image_shape, ncols=ncols)
    else:
        attrs = {"source": "rbm sample", **result.attrs, "seed": seed,
                 "model": model_file, "model_sha256": file_sha256(model_file)}
        if start is not None:
            attrs["init"] = init
        if result.swap_acceptance is not None:
            attrs["swap_acceptance"] = result.swap_acceptance
            attrs["betas"] = np.asarray(result.betas, np.float64)
        groups = {"": {"images": images, "image_shape": mf.image_shape}}
        if result.labels is not None:
            groups[""]["labels"] = result.labels
        if result.states is not None:
            groups["states"] = {"images": _states(result.states), "image_shape": mf.image_shape,
                                "attrs": {"content": "final visible states (pixel units)"}}
        lazy.write_dataset(output, groups, attrs=attrs)
    what = f"{len(images)} samples ({result.label})"
    if recorder is not None:
        recorder.save(gif)
        click.echo(f"wrote {gif}: {len(recorder.frames)} frames", err=True)
    click.echo(f"wrote {shown(output)}: {what}", err=True)



def _states(states):
    """Binary states as bool; real-valued ones (Gaussian models) as float32 in [0, 1]."""
    np = lazy.np
    if states.dtype.kind == "f" and not np.isin(states, (0, 1)).all():
        return np.clip(states, 0, 1).astype(np.float32)
    return states.astype(bool)
