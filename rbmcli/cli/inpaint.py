"""``rbm inpaint``: fill the unknown pixels of images (PNGs, or every image of a data
file, then scored against the truth) by sampling the model's conditional.

Only Click and the standard library are imported at module level (the rest through
:mod:`rbmcli.cli.lazy`).
"""

import os

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (NotSupported, Output, check_count, check_outputs, force_option,
                               input_files, model_errors, model_option, open_model,
                               resolve_model_path, seed_option, threads_option, typed)
from rbmcli.errors import InputError
from rbmcli.progress import ProgressBar

METHODS = ("gibbs", "pt", "mf")
KEEP = ("top", "bottom", "left", "right")
PANEL_ROWS = 10  # images shown in the panel of a data file


def is_data_spec(arg):
    """True when an IMAGE argument names HDF5 data (``-``, ``FILE.h5[:GROUP]``)."""
    if arg == "-" or arg.startswith("-:"):
        return True
    head, sep, tail = arg.rpartition(":")
    path = head if sep and tail and "/" not in tail and head else arg
    if os.path.splitext(path)[1].lower() in (".h5", ".hdf5", ".hdf"):
        return True
    if os.path.isfile(path):
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    return False


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE.png... | DATA.h5[:GROUP]")
@model_option
@click.option("--keep", type=click.Choice(KEEP), default=None,
              help="The known half of every image [data files: default top].")
@click.option("--mask", "mask", type=click.Path(dir_okay=False), default=None,
              metavar="MASK.png",
              help="Known pixels: white in this PNG (the model's image size, or the image's).")
@click.option("--invert", is_flag=True,
              help="Invert grey levels of PNGs (dark ink on white paper -> white on black).")
@click.option("--method", type=click.Choice(METHODS), default="gibbs", show_default=True,
              help="gibbs: clamped block Gibbs; pt: clamped parallel tempering; mf: mean-field.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Sweeps (gibbs, pt) or iterations (mf) [default: 1000; mf 200].")
@click.option("--samples", type=click.IntRange(min=1), default=8, show_default=True,
              help="Completions per image.")
@click.option("--replicas", type=click.IntRange(min=2), default=10, show_default=True,
              help="pt: temperatures per chain.")
@click.option("-n", "limit", type=click.IntRange(min=1), default=None,
              help="Data files: fill the first N images [default: 1000].")
@seed_option()
@click.option("--gif", "gif", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write an animated GIF of the panel as the chains run.")
@threads_option()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Output PNG panel (- for standard output, with PNG inputs).")
@force_option()
@click.pass_context
@model_errors
def inpaint(ctx, inputs, model_path, keep, mask, invert, method, steps, samples, replicas,
            limit, seed, gif, threads, output, force):
    """Fill in the unknown pixels of images.

    The known pixels of a PNG are the half named by --keep, or the white pixels of
    --mask, or else its opaque ones (transparent = unknown). They are binarised like
    the model's training data and held fixed while the unknown ones, started from a
    draw of the training mean image, are sampled from the model. Other image sizes
    are resized to the model's. The PNG panel has one row per image: the observed
    image (unknown pixels grey), the completions (P(v=1|h) for gibbs and pt) and the
    posterior mean (P(v=1|h) averaged over the last 3/4 of the sweeps of all chains).

    On a data file (FILE.h5[:GROUP]) every image is filled (--keep top by default)
    and, the truth being known, stdout gets `error_unknown` (mean squared error per
    unknown pixel of the posterior mean against the binarised truth) and
    `error_mean_image` (the same for filling with the training mean image); the
    panel shows the first 10 images with the truth in the last column.

    For a flow model the unknown pixels are sampled by MALA (Metropolis-adjusted
    Langevin) under the flow's exact density in logit space (default 1000 steps; data
    files: the first 100 images).

    \b
    Examples:
      rbm inpaint digit.png -o filled.png
      rbm inpaint scan.png --invert --keep left --samples 4 -o filled.png
      rbm inpaint photo.png --mask mask.png --method pt -o filled.png
      rbm inpaint mnist.h5:test -n 1000 --keep top --method mf -o panel.png
      rbm inpaint half-six.png -m realnvp.h5 -o filled.png    # a flow: MALA
    """
    if keep is not None and mask is not None:
        raise click.UsageError("--keep and --mask are mutually exclusive")
    if method != "pt" and typed(ctx, ("replicas",)):
        raise click.UsageError("--replicas is for --method pt")
    data = [a for a in inputs if is_data_spec(a)]
    if data and len(inputs) > 1:
        raise click.UsageError("give PNG images or one data file, not both or several")
    if not data and limit is not None:
        raise click.UsageError("-n is for data files")
    scores = "standard output has the scores of a data file" if data else None
    check_outputs([Output(output, "-o", "PNG", suffixes=(".png",), stream=scores),
                   Output(gif, "--gif", "GIF", stream="a GIF cannot go to standard output",
                          suffixes=(".gif",))],
                  input_files(*inputs, mask, resolve_model_path(model_path)), force)
    mf = open_model(model_path)
    model = mf.model
    if gif and not model.animates:
        raise NotSupported(f"is for models sampled by Markov chains, not a {model.kind}", "gif")
    options = typed(ctx, ("method", "steps", "replicas"))
    if data:
        _inpaint_data(ctx, mf, data[0], limit or model.default_inpaint_count, keep, mask,
                      samples, seed, gif, output, threads, options)
    else:
        _inpaint_pngs(ctx, mf, inputs, invert, keep, mask, samples, seed, gif, output,
                      threads, options)



def _run(mf, images, known, rng, samples, gif, threads, options, truth=None, observed=False):
    """Fill the images (the model's :meth:`~rbmcli.models.base.Model.inpaint`) with a
    progress bar and the GIF recorder; returns the :class:`~rbmcli.models.base.Inpainting`
    and the recorder (and writes nothing)."""
    model = mf.model
    replicas = options.get("replicas", 10) if options.get("method") == "pt" else 1
    check_count("--samples", samples, samples * len(images) * model.n_visible * replicas,
                f"{len(images)} x {samples} completions")
    n_threads = lazy.configure_threads(threads, log=lambda msg: click.echo(msg, err=True))
    _, steps = model.fill_plan(options.get("method"), options.get("steps"))
    shown = min(len(images), PANEL_ROWS)
    recorder = None
    if gif:
        def arrange(frame):
            comp = frame[:shown * samples].reshape(shown, samples, -1)
            return lazy.panel_tiles(images[:shown], known[:shown], comp, comp.mean(axis=1),
                                    None if truth is None else truth[:shown])[0]
        columns = samples + (3 if truth is not None else 2)
        recorder = lazy.GifRecorder(mf.image_shape, steps, arrange, ncols=columns)
    bar = ProgressBar(f"{options.get('method', 'inpainting')} {len(images)}x{samples} chains")
    try:
        with lazy.blas_threads(n_threads):
            fill = model.fill if observed else model.inpaint
            filled = fill(images, known, rng, samples=samples,
                          on_step=lazy.on_step_callback(bar, steps, recorder), **options)
    finally:
        bar.close()
    for note in filled.notes:
        click.echo(note, err=True)
    return filled, recorder


def _finish(output, tiles, columns, image_shape, gif, recorder, what):
    lazy.save_grid(output, tiles, image_shape, ncols=columns)
    if recorder is not None:
        recorder.save(gif)
        click.echo(f"wrote {gif}: {len(recorder.frames)} frames", err=True)
    click.echo(f"wrote {'<stdout>' if output == '-' else output}: {what}", err=True)


def _inpaint_pngs(ctx, mf, paths, invert, keep, mask, samples, seed, gif, output, threads,
                  options):
    np = lazy.np
    grey, known = lazy.load_pngs(paths, mf.image_shape, invert, keep, mask)
    rng = np.random.default_rng(seed)
    filled, recorder = _run(mf, grey, known, rng, samples, gif, threads, options)
    tiles, columns = lazy.panel_tiles(filled.observed, known, filled.completions, filled.mean)
    label, _ = mf.model.fill_plan(options.get("method"), options.get("steps"))
    _finish(output, tiles, columns, mf.image_shape, gif, recorder,
            f"{len(paths)} image{'s' if len(paths) > 1 else ''} x {samples} completions "
            f"({label})")


def _inpaint_data(ctx, mf, spec, limit, keep, mask, samples, seed, gif, output, threads,
                  options):
    np = lazy.np
    model = mf.model
    ds = lazy.load_dataset(spec)
    nv = model.n_visible
    if ds.images.shape[1] != nv:
        raise InputError(f"has {ds.images.shape[1]} pixels per image, the model {nv} "
                         "visible units", spec)
    known = lazy.data_mask(mask, keep, mf.image_shape)
    where = f"mask {mask}" if mask is not None else f"{keep or 'top'} half known"
    grey = lazy.as_unit_float(ds.images[:limit])
    n = len(grey)
    known_n = np.broadcast_to(known, grey.shape)
    rng = np.random.default_rng(seed)
    truth = model.observe(grey, rng)
    bits = np.where(known_n, truth, 0).astype(truth.dtype)
    label, _ = model.fill_plan(options.get("method"), options.get("steps"))
    click.echo(f"inpainting {n} images of {ds.source} ({where}) by {label}, {samples} "
               "completions each", err=True)
    filled, recorder = _run(mf, bits, known_n, rng, samples, gif, threads, options, truth,
                            observed=True)
    fill, fill_source = lazy.mean_image(spec, model, truth)
    click.echo(f"error_unknown\t{lazy.unknown_error(filled.mean, truth, known):.6f}")
    click.echo(f"error_mean_image\t{lazy.unknown_error(fill, truth, known):.6f}")
    click.echo(f"mean image: {fill_source}", err=True)
    shown = min(n, PANEL_ROWS)
    tiles, columns = lazy.panel_tiles(bits[:shown], known_n[:shown], filled.completions[:shown],
                                      filled.mean[:shown], truth[:shown])
    _finish(output, tiles, columns, mf.image_shape, gif, recorder,
            f"first {shown} images x {samples} completions")
