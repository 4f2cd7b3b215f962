"""``rbm inpaint``: fill the unknown pixels of images (PNGs, or every image of a data
file, then scored against the truth) by sampling the model's conditional.

Only Click and the standard library are imported at module level.
"""

import os

import click

from rbmcli.cli.common import model_option

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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--gif", "gif", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write an animated GIF of the panel as the chains run.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Kernel threads [default: the cores not busy with other work].")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output PNG panel.")
@click.pass_context
def inpaint(ctx, inputs, model_path, keep, mask, invert, method, steps, samples, replicas,
            limit, seed, gif, threads, output):
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
    from rbmcli.cli.sample import check_folder

    if keep is not None and mask is not None:
        raise click.UsageError("--keep and --mask are mutually exclusive")
    if method != "pt" and _given(ctx, "replicas"):
        raise click.UsageError("--replicas is for --method pt")
    data = [a for a in inputs if is_data_spec(a)]
    if data and len(inputs) > 1:
        raise click.UsageError("give PNG images or one data file, not both or several")
    if not data and limit is not None:
        raise click.UsageError("-n is for data files")
    check_folder(output)
    check_folder(gif)
    ctx.meta["rbm.threads"] = threads  # applied in _run, once the inputs are checked
    options = dict(keep=keep, mask=mask, method=method, samples=samples,
                   replicas=replicas, seed=seed, gif=gif, output=output)
    from rbmcli.cli.flows import inpaint_flow, is_flow_model
    if is_flow_model(model_path):
        return inpaint_flow(inputs, data[0] if data else None, model_path, limit or 100,
                            invert, keep, mask, steps or 1000, samples, seed, output)
    from rbmcli.sampling.bernoulli import DEFAULT_STEPS
    options["steps"] = steps or DEFAULT_STEPS[method]
    if data:
        _inpaint_data(data[0], model_path, limit or 1000, **options)
    else:
        _inpaint_pngs(inputs, model_path, invert, **options)


def _given(ctx, name):
    return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT


def _run(model_file, bits, known, rng, method, steps, samples, replicas, gif, truth=None):
    """Fill the images; returns completions (n, K, D), the posterior mean (n, D) and
    the GIF recorder (and writes nothing)."""
    import numpy as np

    from rbmcli.io.animation import GifRecorder, on_step_callback
    from rbmcli.sampling.inpainting import complete, panel_tiles, start_mean
    from rbmcli.progress import ProgressBar

    from rbmcli.threads import configure_threads
    configure_threads(click.get_current_context().meta.get("rbm.threads"),
                      log=lambda msg: click.echo(msg, err=True))
    shown = min(len(bits), PANEL_ROWS)
    recorder = None
    if gif:
        def arrange(images):
            comp = images[:shown * samples].reshape(shown, samples, -1)
            return panel_tiles(bits[:shown], known[:shown], comp, comp.mean(axis=1),
                               None if truth is None else truth[:shown])[0]
        columns = samples + (3 if truth is not None else 2)
        recorder = GifRecorder(model_file.image_shape, steps, arrange, ncols=columns)
    bar = ProgressBar(f"{method} {len(bits)}x{samples} chains")
    try:
        completions, mean, result = complete(model_file.model, bits, known, method, steps,
                                             samples, rng, replicas,
                                             on_step_callback(bar, steps, recorder),
                                             start=start_mean(model_file))
    finally:
        bar.close()
    if result.swap_acceptance is not None:
        rates = " ".join(f"{a:.2f}" for a in result.swap_acceptance)
        click.echo(f"swap acceptance per neighbouring pair (beta 1 -> 0): {rates}", err=True)
    return np.clip(completions, 0, 1), np.clip(mean, 0, 1), recorder


def _inpaint_pngs(paths, model_path, invert, keep, mask, method, steps, samples, replicas,
                  seed, gif, output):
    import numpy as np

    from rbmcli.cli.common import open_model
    from rbmcli.io.images import save_grid
    from rbmcli.sampling.inpainting import load_pngs, panel_tiles
    from rbmcli.sampling.bernoulli import binarize_like

    mf = open_model(model_path)
    grey, known = load_pngs(paths, mf.image_shape, invert, keep, mask)
    rng = np.random.default_rng(seed)
    bits = binarize_like(grey, mf.binarization, rng)
    completions, mean, recorder = _run(mf, bits, known, rng, method, steps, samples,
                                       replicas, gif)
    tiles, columns = panel_tiles(bits, known, completions, mean)
    save_grid(output, tiles, mf.image_shape, ncols=columns)
    if recorder is not None:
        recorder.save(gif)
        click.echo(f"wrote {gif}: {len(recorder.frames)} frames", err=True)
    click.echo(f"wrote {output}: {len(paths)} image{'s' if len(paths) > 1 else ''} x "
               f"{samples} completions ({method}, {steps} steps)", err=True)


def _inpaint_data(spec, model_path, limit, keep, mask, method, steps, samples, replicas,
                  seed, gif, output):
    import numpy as np

    from rbmcli.cli.common import open_model
    from rbmcli.io.datasets import as_unit_float, load_dataset
    from rbmcli.errors import InputError
    from rbmcli.io.images import save_grid
    from rbmcli.sampling.inpainting import data_mask, mean_image, panel_tiles, unknown_error
    from rbmcli.sampling.bernoulli import binarize_like

    mf = open_model(model_path)
    ds = load_dataset(spec)
    nv = mf.model.n_visible
    if ds.images.shape[1] != nv:
        raise InputError(f"has {ds.images.shape[1]} pixels per image, the model {nv} "
                         "visible units", spec)
    known = data_mask(mask, keep, mf.image_shape)
    where = f"mask {mask}" if mask is not None else f"{keep or 'top'} half known"
    fill, fill_source = mean_image(spec, mf)
    rng = np.random.default_rng(seed)
    truth = binarize_like(as_unit_float(ds.images[:limit]), mf.binarization, rng)
    n = len(truth)
    known_n = np.broadcast_to(known, truth.shape)
    bits = np.where(known_n, truth, 0).astype(truth.dtype)
    click.echo(f"inpainting {n} images of {ds.source} ({where}) by {method}, {steps} steps, "
               f"{samples} completions each", err=True)
    completions, mean, recorder = _run(mf, bits, known_n, rng, method, steps, samples,
                                       replicas, gif, truth)
    click.echo(f"error_unknown\t{unknown_error(mean, truth, known):.6f}")
    click.echo(f"error_mean_image\t{unknown_error(fill, truth, known):.6f}")
    click.echo(f"mean image: {fill_source}", err=True)
    shown = min(n, PANEL_ROWS)
    tiles, columns = panel_tiles(bits[:shown], known_n[:shown], completions[:shown],
                                 mean[:shown], truth[:shown])
    save_grid(output, tiles, mf.image_shape, ncols=columns)
    if recorder is not None:
        recorder.save(gif)
        click.echo(f"wrote {gif}: {len(recorder.frames)} frames", err=True)
    click.echo(f"wrote {output}: first {shown} images x {samples} completions", err=True)
