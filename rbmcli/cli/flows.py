"""The flow side of the commands (``--model nice|realnvp|glow|maf`` in ``rbm train``; flow
model files in ``rbm sample``, ``rbm score`` and ``rbm inpaint``).

Only Click and the standard library are imported at module level.
"""

import contextlib

import click

FLOW_MODELS = ("nice", "realnvp", "glow", "maf")
FLOW_DEFAULT_LR = 1e-3


def flow_train_options(f):
    """The ``rbm train`` options that only flows use."""
    from rbmcli.cli.train import FiniteFloat

    options = [
        click.option("--layers", type=click.IntRange(min=1), default=5, show_default=True,
                     help="Flows: coupling layers (glow: steps of actnorm, LU linear, "
                          "coupling)."),
        click.option("--hidden-units", type=click.IntRange(min=1), default=1024,
                     show_default=True, help="Flows: units per conditioner hidden layer."),
        click.option("--hidden-layers", type=click.IntRange(min=1), default=1,
                     show_default=True, help="Flows: hidden layers per conditioner MLP."),
        click.option("--warmup", type=click.IntRange(min=0), default=500, show_default=True,
                     help="Flows: steps of linear learning-rate warm-up."),
        click.option("--clip", type=FiniteFloat(min=0), default=100.0, show_default=True,
                     help="Flows: global gradient-norm limit (0: none)."),
        click.option("--weight-decay", type=FiniteFloat(min=0), default=1e-6,
                     show_default=True, help="Flows: L2 coefficient on conditioner weights."),
        click.option("--patience", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Flows: stop after this many epochs without validation gain."),
        click.option("--holdout", type=click.IntRange(min=0), default=10000,
                     show_default=True,
                     help="Flows without --validate: hold out the last N training images "
                          "for validation and early stopping (0: none)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


FLOW_ONLY = ("layers", "hidden_units", "hidden_layers", "warmup", "clip", "weight_decay",
             "patience", "holdout")
RBM_ONLY = ("hidden", "cd", "pcd", "pt", "momentum", "l2", "l1", "chains", "binarize", "lr_final",
            "momentum_warmup", "centering", "visible", "sigma", "sigma_lr")


def stored_flow_type(path):
    """The ``flow_type`` of the flow model file ``path``; None when it is not one."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            if f.attrs.get("model_type") == "flow":
                return str(f.attrs.get("flow_type"))
    except (OSError, ValueError):
        pass
    return None


@contextlib.contextmanager
def blas_threads(n):
    """Limit BLAS (OpenBLAS/MKL) to ``n`` threads inside the block (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


def train_flow(ctx, data, output, model, epochs, batch_size, lr, seed, dtype, validate,
               resume, force, threads, pictures, flow):
    """The body of ``rbm train --model nice|realnvp|glow|maf``."""
    from rbmcli.cli.train import check_output, run_to_the_end
    from rbmcli.flows.run import FlowTrainingRun
    from rbmcli.threads import configure_threads

    given = {"model" if name == "model_kind" else name for name in ctx.params
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    wrong = sorted(given & set(RBM_ONLY))
    if wrong:
        raise click.UsageError(f"--{wrong[0].replace('_', '-')} is for the RBM models, not "
                               "flows")
    check_output(output, resume, force)
    log = lambda msg: click.echo(msg, err=True)  # noqa: E731
    options = dict(model=model, batch_size=batch_size, seed=seed, dtype=dtype,
                   lr=lr if "lr" in given else FLOW_DEFAULT_LR, epochs=epochs, **flow)
    run = FlowTrainingRun.start(data=data, output=output, resume=resume, given=given,
                                options=options, validate=validate, log=log)
    with blas_threads(configure_threads(threads, log=log)):
        run_to_the_end(run, f"rbm train {data or ''} --model {model} -o {output} --resume "
                       f"--epochs {epochs}", pictures)


# ------------------------------------------------------------ sample / score / inpaint
def is_flow_model(model_path):
    """True when the model file named by ``-m`` (or its defaults) holds a flow; False
    when it is something else or cannot be read (the caller then reports that)."""
    from rbmcli.cli.common import resolve_model_path

    try:
        import h5py
        with h5py.File(resolve_model_path(model_path), "r") as f:
            return f.attrs.get("model_type") == "flow"
    except (OSError, ValueError):
        return False


def refuse_options(names, why):
    """UsageError when any of the options ``names`` was given on the command line."""
    ctx = click.get_current_context()
    for name in names:
        if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT:
            raise click.UsageError(f"--{name.replace('_', '-')} {why}")


def _threads(threads):
    from rbmcli.threads import configure_threads
    return configure_threads(threads, log=lambda msg: click.echo(msg, err=True))


def sample_flow(model_path, count, seed, threads, output, temperature):
    """``rbm sample`` for a flow: ``z ~ N(0, T^2 I)`` through the inverse flow, mapped
    back to pixel intensities in [0, 1]."""
    import numpy as np

    from rbmcli.cli.common import open_model, resolve_model_path
    from rbmcli.cli.sample import check_folder, file_sha256, output_kind, shown
    from rbmcli.io.datasets import write_dataset
    from rbmcli.flows.data import to_unit
    from rbmcli.io.images import save_grid

    refuse_options(("method", "steps", "init", "replicas", "gif"), "is for RBMs, not flows")
    kind = output_kind(output)
    check_folder(output)
    path = resolve_model_path(model_path)
    ff = open_model(model_path)
    n = _threads(threads)
    with blas_threads(n):
        y = ff.model.sample(count, np.random.default_rng(seed), temperature)
    images = to_unit(y, ff.lam).astype(np.float32)
    if kind == "png":
        save_grid(output, images, ff.image_shape)
    else:
        write_dataset(output, {"": {"images": images, "image_shape": ff.image_shape}},
                      attrs={"source": "rbm sample", "method": "flow", "seed": seed,
                             "temperature": temperature, "model": path,
                             "model_sha256": file_sha256(path),
                             "images_are": "sigmoid-space intensities of flow samples"})
    click.echo(f"wrote {shown(output)}: {count} samples ({ff.model.flow_type}, temperature "
               f"{temperature:g})", err=True)


RBM_SCORE_OPTIONS = ("mser", "free_energy", "pseudo_ll", "pseudo_ll_pixels", "exact",
                     "force_ais", "ais_runs", "ais_steps", "bracket", "reverse_burn_in",
                     "base", "cache")


def score_flow(data, model_path, seed, threads):
    """``rbm score --ll`` for a flow: exact log-likelihoods of the dequantized data.

    Returns an object with ``summary`` (dict: ``n``, ``ll`` (nats, logit space),
    ``ll_sd`` (standard error), ``bpp``, ``bpp_sd``) and ``per_sample`` (``ll``, ``bpp``).
    """
    from types import SimpleNamespace

    import numpy as np

    from rbmcli.cli.common import open_model, resolve_model_path
    from rbmcli.io.datasets import load_dataset
    from rbmcli.errors import InputError
    from rbmcli.flows.data import as_pixels, bits_per_pixel, to_logit_space

    refuse_options(RBM_SCORE_OPTIONS, "is for RBMs; flows have --ll (exact)")
    path = resolve_model_path(model_path)
    ff = open_model(model_path)
    ds = load_dataset(data)
    d = ff.model.n_visible
    if ds.images.shape[1] != d:
        raise InputError(f"has {ds.images.shape[1]} pixels per image but the model in {path} "
                         f"has {d} dimensions", ds.source)
    y, logdet = to_logit_space(as_pixels(ds.images), np.random.default_rng([seed, 17]),
                               ff.lam, ff.model.dtype)
    with blas_threads(_threads(threads)):
        ll = ff.model.log_prob(y)
    bpp = bits_per_pixel(ll, logdet, d)
    n = len(ll)
    click.echo(f"ll: nats of the dequantized data in logit space (lambda {ff.lam:g}, "
               f"dequantization noise seed {seed}); bpp: bits per pixel on the 0..256 "
               "scale", err=True)
    summary = {"n": n, "ll": float(ll.mean()), "ll_sd": float(ll.std() / np.sqrt(n)),
               "bpp": float(bpp.mean()), "bpp_sd": float(bpp.std() / np.sqrt(n))}
    return SimpleNamespace(summary=summary, per_sample={"ll": ll, "bpp": bpp})


def inpaint_flow(inputs, data, model_path, limit, invert, keep, mask, steps, samples, seed,
                 output):
    """``rbm inpaint`` for a flow: MALA over the unknown pixels in logit space
    (:mod:`rbmcli.flows.inpaint`). Writes the panel; for a data file prints
    ``error_unknown`` and ``error_mean_image`` like the RBM path."""
    import numpy as np

    from rbmcli.cli.common import open_model
    from rbmcli.io.datasets import as_unit_float, load_dataset
    from rbmcli.errors import InputError
    from rbmcli.flows.data import as_pixels, to_logit_space, to_unit
    from rbmcli.flows.inpaint import mala, start_states
    from rbmcli.io.images import save_grid
    from rbmcli.sampling.inpainting import data_mask, load_pngs, panel_tiles, unknown_error
    from rbmcli.progress import ProgressBar

    refuse_options(("method", "replicas", "gif"), "is for RBMs; flows use MALA")
    ff = open_model(model_path)
    model = ff.model
    d = model.n_visible
    truth = None
    if data:
        ds = load_dataset(data)
        if ds.images.shape[1] != d:
            raise InputError(f"has {ds.images.shape[1]} pixels per image, the model {d} "
                             "dimensions", data)
        known = data_mask(mask, keep, ff.image_shape)
        truth = as_unit_float(ds.images[:limit], np.float64)
        grey = truth
        known = np.broadcast_to(known, grey.shape)
    else:
        grey, known = load_pngs(inputs, ff.image_shape, invert, keep, mask)
    rng = np.random.default_rng(seed)
    n = len(grey)
    y_known, _ = to_logit_space(as_pixels(grey), rng, ff.lam, model.dtype)
    rep_known = np.repeat(known, samples, axis=0)
    y0 = start_states(model, np.repeat(y_known, samples, axis=0), rep_known, rng)
    click.echo(f"inpainting {n} image{'s' if n > 1 else ''} x {samples} chains by MALA, "
               f"{steps} steps", err=True)
    bar = ProgressBar(f"mala {n}x{samples} chains")
    try:
        with blas_threads(_threads(click.get_current_context().params.get("threads"))):
            y, acceptance, eps = mala(model, y0, rep_known, steps, rng,
                                      on_step=lambda t, _y: bar.update(t, steps))
    finally:
        bar.close()
    click.echo(f"MALA acceptance (second half) median {np.median(acceptance):.2f}, step size "
               f"median {np.median(eps):.3g}", err=True)
    completions = to_unit(y, ff.lam).reshape(n, samples, d)
    observed = np.where(known, grey, 0.0)
    if truth is not None:
        mean = completions.mean(axis=1)
        fill = _mean_image(data, d, grey)
        click.echo(f"error_unknown\t{unknown_error(mean, truth, known[0]):.6f}")
        click.echo(f"error_mean_image\t{unknown_error(fill, truth, known[0]):.6f}")
        shown = min(n, 10)
        tiles, columns = panel_tiles(observed[:shown], known[:shown], completions[:shown],
                                     mean[:shown], truth[:shown])
    else:
        tiles, columns = panel_tiles(observed, known, completions, completions.mean(axis=1))
    save_grid(output, tiles, ff.image_shape, ncols=columns)
    click.echo(f"wrote {output}: {n} image{'s' if n > 1 else ''} x {samples} completions "
               f"(MALA, {steps} steps)", err=True)


def _mean_image(spec, d, grey):
    """The baseline fill: the mean grey image of the ``train`` group of the data file
    ``spec`` when it has one (of ``d`` pixels), else of ``grey``."""
    import h5py

    from rbmcli.io.datasets import as_unit_float, load_dataset, split_spec

    path, _ = split_spec(spec)
    if path != "-":
        with h5py.File(path, "r") as f:
            has_train = isinstance(f.get("train"), h5py.Group) and "images" in f["train"]
        if has_train:
            images = load_dataset(f"{path}:train").images
            if images.shape[1] == d:
                return as_unit_float(images, float).mean(axis=0)
    return grey.mean(axis=0)


def describe_flow(ff):
    """Lines of ``rbm info`` for a flow model file."""
    m, hp = ff.model, ff.hyperparameters
    lines = [f"model\tflow ({m.flow_type})",
             f"dimensions\t{m.n_visible} ({ff.image_shape[0]}x{ff.image_shape[1]} images)",
             f"transforms\t{', '.join(t.kind for t in m.flow.transforms)}",
             f"parameters\t{sum(p.size for p in m.params.values()):,} ({m.dtype})",
             f"data space\tdequantized pixels in logit space, lambda {ff.lam:g}",
             f"training\tlayers {hp.get('layers')}, hidden {hp.get('hidden_layers')} x "
             f"{hp.get('hidden_units')}, lr {hp.get('lr')}, warm-up {hp.get('warmup')}, "
             f"clip {hp.get('clip')}, weight decay {hp.get('weight_decay')}, batch "
             f"{hp.get('batch_size')}, seed {hp.get('seed')}",
             f"epochs\t{ff.epoch}" + (" (interrupted; resume with --resume)"
                                      if ff.interrupted else "")]
    hist = ff.history
    if "valid_ll" in hist and len(hist["valid_ll"]):
        best = int(ff.state.get("best_epoch", len(hist["valid_ll"])))
        lines.append(f"valid ll\tbest {float(ff.state.get('best_valid_ll', float('nan'))):.2f}"
                     f" at epoch {best} (the saved parameters)")
        lines.append(f"train time\t{hist['seconds'].sum():.1f} s")
    return lines
