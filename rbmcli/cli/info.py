"""``rbm info``: describe a model file or a data file."""

import click


@click.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--filters", "filters_png", type=click.Path(dir_okay=False),
              help="Also write the first 100 hidden units' weights as a PNG (model files).")
def info(path, filters_png):
    """Describe PATH: a model (units, training options, history) or a data file
    (groups, image counts and shapes).

    \b
    Examples:
      rbm info model.h5
      rbm info model.h5 --filters filters.png
      rbm info mnist.h5
    """
    from rbmcli.io.modelfile import is_model_file, load_model

    if is_model_file(path):
        mf = load_model(path)
        if filters_png and mf.model.model_type == "flow":
            raise click.UsageError("--filters is for RBMs; a flow has no filters")
        for line in describe_model(mf):
            click.echo(line)
        if filters_png:
            from rbmcli.io.images import save_filters
            first = getattr(mf.model, "layers", [mf.model])[0]
            save_filters(filters_png, first.weights, mf.image_shape)
            click.echo(f"wrote {filters_png}", err=True)
        return
    if filters_png:
        raise click.UsageError("--filters needs a model file")
    for line in describe_data(path):
        click.echo(line)


def describe_model(mf):
    """Lines describing a :class:`rbmcli.io.modelfile.ModelFile`."""
    import math

    m, hp = mf.model, mf.hyperparameters
    if m.model_type == "flow":
        from rbmcli.cli.flows import describe_flow
        return describe_flow(mf)
    method = hp.get("method", "?")
    step_name = "temperatures" if method == "pt" else "steps"
    layers = getattr(m, "layers", [m])
    hidden = ",".join(str(layer.n_hidden) for layer in layers)
    lines = [
        f"model\t{m.model_type}",
        f"visible\t{m.n_visible} ({mf.image_shape[0]}x{mf.image_shape[1]} images)",
        f"hidden\t{hidden}",
        f"dtype\t{m.dtype}",
        f"binarization\t{mf.binarization}",
        f"training\t{method} ({hp.get('steps')} {step_name}"
        + (", from noise" if hp.get("cd_from") == "noise" else "") + f"), lr {hp.get('lr')}"
        + (f" -> {hp['lr_final']}" if hp.get("lr_final") not in (None, hp.get("lr")) else "")
        + f", momentum {hp.get('momentum')}"
        + (f" (0.5 for {hp['momentum_warmup']} epochs)" if hp.get("momentum_warmup") else "")
        + (", centered" if hp.get("centering") else "")
        + f", batch {hp.get('batch_size')}, l2 {hp.get('l2')}, "
        f"l1 {hp.get('l1')}, seed {hp.get('seed')}",
        f"epochs\t{mf.epoch}" + (" (interrupted; resume with --resume)" if mf.interrupted else ""),
    ]
    hist = mf.history
    if "mser_train" in hist and len(hist["mser_train"]):
        last = {k: v[-1] for k, v in hist.items()}
        text = f"mser train {last['mser_train']:.4f}"
        if not math.isnan(last.get("mser_valid", math.nan)):
            text += f", valid {last['mser_valid']:.4f} (epoch 1: {hist['mser_valid'][0]:.4f})"
            text += f", free-energy gap {last['free_energy_gap']:+.2f}"
        lines.append(f"last epoch\t{text}")
        lines.append(f"train time\t{hist['seconds'].sum():.1f} s")
    planned = hp.get("hidden_sizes")
    if planned is not None:
        done = mf.epoch // max(1, hp.get("epochs", 1))
        lines.append("layers\t" + ", ".join(f"{layer.model_type} {layer.n_visible}-"
                                              f"{layer.n_hidden}" for layer in layers)
                     + ("" if done >= len(planned) else
                        f" (training: {done} of {len(planned)} layers done)"))
    for k, layer in enumerate(layers):
        w = layer.weights
        where = f" (layer {k})" if len(layers) > 1 else ""
        lines.append(f"weights{where}\tmean {w.mean():+.4f}, std {w.std():.4f}, "
                     f"|max| {abs(w).max():.3f}")
        if hasattr(layer, "log_sigma"):
            sg = layer.sigma
            lines.append(f"sigma{where}\tmean {sg.mean():.4f}, min {sg.min():.4f}, max "
                         f"{sg.max():.4f} (standardised units)")
    return lines


def describe_data(path):
    """Lines describing an HDF5 data file: one per group of images."""
    import h5py

    from rbmcli.io.datasets import load_dataset
    from rbmcli.errors import InputError

    try:
        with h5py.File(path, "r") as f:
            groups = [name for name in f if isinstance(f[name], h5py.Group) and "images" in f[name]]
            root = "images" in f
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except OSError:
        raise InputError("not an HDF5 file, or corrupt", path) from None
    specs = ([path] if root else []) + [f"{path}:{g}" for g in groups]
    if not specs:
        raise InputError("neither a model file nor a data file (no 'images' dataset)", path)
    lines = []
    for spec in specs:
        ds = load_dataset(spec)
        labels = f", labels {len(set(ds.labels.tolist()))} classes" if ds.labels is not None else ""
        lines.append(f"{ds.source}\t{ds.images.shape[0]} images of {ds.image_shape[0]}x"
                     f"{ds.image_shape[1]}, {ds.images.dtype}{labels}")
    return lines
