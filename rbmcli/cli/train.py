"""``rbm train``: fit an RBM to data by CD-k, PCD-k or parallel tempering, or a
normalizing flow (``--model nice|realnvp|glow|maf``, see :mod:`rbmcli.cli.flows`)."""

import sys

import click

from rbmcli.cli.flows import FLOW_MODELS, FLOW_ONLY, flow_train_options, train_flow


class FiniteFloat(click.FloatRange):
    """A FloatRange that also refuses nan and inf."""

    def convert(self, value, param, ctx):
        import math

        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number.", param, ctx)
        return value


class HiddenSizes(click.IntRange):
    """``H`` (a positive integer) or ``H1,H2,...`` (layer sizes of a DBN): a tuple of ints."""

    name = "H|H1,H2,..."

    def __init__(self):
        super().__init__(min=1)

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        return tuple(super(HiddenSizes, self).convert(p.strip(), param, ctx) for p in parts)
def check_output(output, resume, force):
    """--resume and --force against an existing OUTPUT (UsageError / ClickException)."""
    import os

    if resume and force:
        raise click.UsageError("--resume continues OUTPUT, --force overwrites it: pick one")
    if os.path.exists(output) and not (resume or force):
        raise click.ClickException(f"{output}: exists; use --resume to continue it or --force "
                                   "to overwrite it")


_HYPER = ("hidden", "cd", "pcd", "pt", "batch_size", "lr", "lr_final", "momentum",
          "momentum_warmup", "l2", "l1", "seed", "dtype", "binarize", "chains", "centering",
          "model_kind", "visible", "sigma", "sigma_lr", "sigma_init", "cd_from")
DEFAULT_LR = {"rbm": 0.05, "grbm": 0.002, "dbn": 0.05}
RBM_DEFAULTS = dict(method=("pcd", 1), epochs=100, lr_final=0.0, centering=True,
                    binarize="stochastic")
"""What `rbm train DATA` does for a Bernoulli RBM when these options are not given: the
recipe that benchmarks/quality/REPORT.md found best (centered PCD-1, learning rate
decayed linearly to 0, 100 epochs, stochastic binarisation)."""
GRBM_DEFAULTS = dict(method=("cd", 50), cd_from="noise", epochs=3, lr_final=0.0,
                     centering=False, binarize="threshold", sigma="fixed", sigma_init=0.5)
"""What `rbm train DATA --model grbm` does when these options are not given: CD-50 from
white noise with sigma fixed at 0.5 and the learning rate (0.002) decayed to 0 in 3
epochs, the recipe of benchmarks/quality/grbm.py (samples that are digits at 50 sweeps;
chains from the data or persistent chains, the old defaults, gave one blob from noise)."""
OTHER_DEFAULTS = dict(method=("cd", 1), epochs=10, lr_final=None, centering=False,
                      binarize="threshold")
DEFAULTS = {"rbm": RBM_DEFAULTS, "grbm": GRBM_DEFAULTS}


@click.command()
@click.argument("data", required=False)
@click.option("-o", "--output", default="model.h5", show_default=True,
              type=click.Path(dir_okay=False), help="Model file (also the checkpoint).")
@click.option("--model", "model_kind", type=click.Choice(["rbm", "grbm", "dbn", *FLOW_MODELS]),
              default="rbm", show_default=True,
              help="rbm: Bernoulli RBM; grbm: Gaussian-Bernoulli RBM on standardised grey "
                   "pixels; dbn: deep belief network trained greedily, layer by layer; "
                   "nice, realnvp, glow, maf: a normalizing flow on dequantized pixels in "
                   "logit space.")
@click.option("--hidden", type=HiddenSizes(), default="500", show_default=True,
              help="Hidden units; for --model dbn the layer sizes, e.g. 500,500,2000.")
@click.option("--visible", type=click.Choice(["binary", "gaussian"]), default="binary",
              show_default=True, help="dbn: the first layer's visible units (gaussian: a "
              "Gaussian RBM on standardised pixels).")
@click.option("--first-layer", type=click.Path(dir_okay=False), default=None, metavar="MODEL",
              help="dbn: use the RBM (or, with --visible gaussian, the Gaussian RBM) in MODEL "
                   "as layer 0 and train only the layers above it.")
@click.option("--sigma", type=click.Choice(["learn", "fixed"]), default=None,
              help="grbm: learn per-pixel sigma, or keep it at --sigma-init [default: grbm "
                   "fixed, dbn --visible gaussian learn].")
@click.option("--sigma-init", type=click.FloatRange(min=0.1, max=5.0), default=None,
              help="grbm: the initial sigma of every pixel in standardised units (with "
                   "--sigma fixed, the sigma used throughout) [default: grbm 0.5, dbn 1].")
@click.option("--sigma-lr", type=FiniteFloat(min=0), default=0.1, show_default=True,
              help="grbm: learning rate of log sigma as a fraction of --lr.")
@click.option("--cd", type=click.IntRange(min=1), help="CD-K: K Gibbs sweeps from the data "
              "[default for grbm: --cd 50 --cd-from noise; dbn: --cd 1].")
@click.option("--pcd", type=click.IntRange(min=1), help="PCD-K: K sweeps of persistent chains "
              "[default for rbm: --pcd 1].")
@click.option("--pt", type=click.IntRange(min=2), help="Parallel tempering with M temperatures.")
@click.option("--cd-from", type=click.Choice(["data", "noise"]), default=None,
              help="Where the --cd chains start each update. noise: white noise, as `rbm "
              "sample` starts; the model learns to turn noise into data in K sweeps "
              "(short-run MCMC, Nijkamp et al. 2019), and `rbm sample` then defaults to K "
              "sweeps [default: data; noise for grbm's default method].")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Total epochs (with --resume: the new total) [default: rbm 100, grbm 3, "
                   "otherwise 10].")
@click.option("--batch-size", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--lr", type=FiniteFloat(min=0, min_open=True), default=None,
              help="Learning rate [default: 0.05; grbm 0.002].")
@click.option("--lr-final", type=FiniteFloat(min=0), default=None,
              help="Decay the learning rate linearly to this in the last epoch (equal to "
                   "--lr: constant) [default: rbm and grbm 0, dbn constant].")
@click.option("--momentum", type=FiniteFloat(0, 1, max_open=True), default=0.5,
              show_default=True)
@click.option("--momentum-warmup", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="EPOCHS", help="Use momentum 0.5 for the first EPOCHS epochs.")
@click.option("--l2", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Gaussian prior on W: gradient -A W.")
@click.option("--l1", type=FiniteFloat(min=0), default=0.0, show_default=True,
              help="Laplace prior on W: gradient -A sign(W).")
@click.option("--centering/--no-centering", default=None,
              help="Centered gradient: offsets the data mean and a running mean of P(h|v) "
                   "(Melchior, Fischer & Wiskott 2016) [default: on for rbm].")
@click.option("--chains", type=click.IntRange(min=1), default=None,
              help="Persistent chains for --pcd/--pt [default: batch size].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--binarize", type=click.Choice(["threshold", "stochastic"]), default=None,
              help="threshold: pixel >= 0.5; stochastic: Bernoulli(pixel), redrawn each "
                   "epoch [default: rbm stochastic, dbn threshold].")
@click.option("--validate", "validate", metavar="DATA",
              help="Validation data (FILE.h5[:GROUP]) for MSER and the free-energy gap.")
@click.option("--resume", is_flag=True, help="Continue the run checkpointed in --output.")
@click.option("--force", is_flag=True, help="Overwrite an existing --output.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Kernel threads [default: the cores not busy with other work].")
@click.option("--pictures/--no-pictures", default=True, show_default=True,
              help="Write OUTPUT-samples.png and OUTPUT-filters.png at the end.")
@flow_train_options
@click.pass_context
def train(ctx, data, output, model_kind, hidden, visible, first_layer, sigma, sigma_lr,
          sigma_init, cd, pcd,
          pt, cd_from, epochs, batch_size, lr, lr_final, momentum, momentum_warmup, l2, l1,
          centering, chains, seed, dtype, binarize, validate, resume, force, threads, pictures, **flow):
    """Train an RBM, a Gaussian RBM, a deep belief network or a normalizing flow on DATA
    (FILE.h5, FILE.h5:GROUP or -).

    Without DATA, trains on the embedded synthetic digits (10,000 28x28 images drawn
    in-process). Each epoch logs seconds, reconstruction error (MSER) and, with
    --validate, the free-energy gap to stderr, and checkpoints OUTPUT atomically.
    Ctrl-C saves a checkpoint; --resume continues it.

    \b
    Examples:
      rbm train mnist.h5 --cd 1 --hidden 500 --epochs 10 --validate mnist.h5:test
      rbm train mnist.h5 --pt 10 --binarize stochastic -o pt.h5
      rbm train mnist.h5 --resume --epochs 20
      rbm train --hidden 100 --epochs 5          # embedded synthetic digits
      rbm train mnist.h5 --model grbm -o grbm.h5  # CD-50 from noise
      rbm train mnist.h5 --model dbn --hidden 500,500,2000 -o dbn.h5
      rbm train mnist.h5 --model realnvp --layers 5 --epochs 100 -o realnvp.h5
    """
    if resume and ctx.get_parameter_source("model_kind") == click.core.ParameterSource.DEFAULT:
        from rbmcli.cli.flows import stored_flow_type
        model_kind = stored_flow_type(output) or model_kind  # resume a flow without --model
    if model_kind in FLOW_MODELS:
        return train_flow(ctx, data, output, model_kind, epochs or 10, batch_size, lr, seed,
                          dtype, validate, resume, force, threads, pictures, flow)
    flow_given = [n for n in FLOW_ONLY
                  if ctx.get_parameter_source(n) != click.core.ParameterSource.DEFAULT]
    if flow_given:
        raise click.UsageError(f"--{flow_given[0].replace('_', '-')} is for flow models "
                               "(--model nice|realnvp|glow|maf)")

    import os

    from rbmcli.threads import configure_threads

    methods = [(name, k) for name, k in (("cd", cd), ("pcd", pcd), ("pt", pt)) if k]
    if len(methods) > 1:
        raise click.UsageError("choose one of --cd, --pcd, --pt")
    check_output(output, resume, force)
    given = {name for name in _HYPER
             if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
    if resume and os.path.exists(output):
        from rbmcli.io.modelfile import stored_model_type
        stored = {"gaussian-rbm": "grbm", "dbn": "dbn"}.get(stored_model_type(output), "rbm")
        model_kind = model_kind if "model_kind" in given else stored
    defaults = DEFAULTS.get(model_kind, OTHER_DEFAULTS)
    method, steps = methods[0] if methods else defaults["method"]
    if cd_from is None:  # the default method brings its own start; a typed --cd: the data
        cd_from = "data" if methods else defaults.get("cd_from", "data")
    if cd_from != "data" and method != "cd":
        raise click.UsageError("--cd-from is for --cd")
    sigma = sigma or defaults.get("sigma", "learn")
    sigma_init = sigma_init if sigma_init is not None else defaults.get("sigma_init", 1.0)
    epochs = epochs if epochs is not None else defaults["epochs"]
    if "lr_final" not in given:
        lr_final = defaults["lr_final"]
    centering = defaults["centering"] if centering is None else centering
    binarize = binarize or defaults["binarize"]
    options = _model_options(model_kind, hidden, visible, sigma, sigma_lr, sigma_init, given,
                             resume)
    if first_layer is not None:
        if model_kind != "dbn":
            raise click.UsageError("--first-layer is for --model dbn")
        if resume:
            raise click.UsageError("--first-layer starts a DBN; --resume continues one")
        options["first_layer"] = first_layer
    options.update(method=method, steps=steps, epochs=epochs, batch_size=batch_size,
                   lr=lr if lr is not None else DEFAULT_LR[model_kind], lr_final=lr_final,
                   momentum=momentum, momentum_warmup=momentum_warmup, l2=l2, l1=l1,
                   centering=centering, seed=seed, dtype=dtype, chains=chains or 0,
                   cd_from=cd_from)
    if model_kind != "grbm":
        options["binarize"] = binarize
    if model_kind == "dbn":
        from rbmcli.training.dbn import DBNRun as TrainingRun
    else:
        from rbmcli.training.run import TrainingRun
    given = {{"model_kind": "model"}.get(name, name) for name in given}
    run = TrainingRun.start(
        data=data, output=output, resume=resume, given=given, options=options,
        validate=validate, log=lambda msg: click.echo(msg, err=True))
    configure_threads(threads, log=lambda msg: click.echo(msg, err=True))
    run_to_the_end(run, f"rbm train {data or ''} -o {output} --resume --epochs {epochs}",
                   pictures)


def run_to_the_end(run, resume_command, pictures):
    """Run the epochs of ``run`` (a TrainingRun); on Ctrl-C say how to resume and exit
    with status 130; write the pictures at the end when asked."""
    try:
        run.run_epochs()
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: checkpoint saved to {run.output} after {run.epoch} "
                   f"complete epochs; continue with: {resume_command}".replace("  ", " "),
                   err=True)
        sys.exit(130)
    if pictures:
        run.write_pictures()


def _model_options(model_kind, hidden, visible, sigma, sigma_lr, sigma_init, given, resume):
    """The options that depend on --model; UsageError for options of another model. With
    --resume, the options not typed come from the checkpoint."""
    options = {"model": model_kind}
    if not resume or "hidden" in given:
        if model_kind == "dbn" and len(hidden) < 2:
            raise click.UsageError("--model dbn needs two or more layer sizes, e.g. --hidden "
                                   "500,500,2000")
        if model_kind != "dbn" and len(hidden) > 1:
            raise click.UsageError("--hidden H1,H2,...: a list of layer sizes is for --model "
                                   "dbn")
        options["n_hidden"] = hidden[0]
        if model_kind == "dbn":
            options["hidden_sizes"] = list(hidden)
    if model_kind != "dbn" and "visible" in given:
        raise click.UsageError("--visible is for --model dbn")
    gaussian = model_kind == "grbm" or (model_kind == "dbn" and visible == "gaussian")
    if gaussian and "centering" in given:
        raise click.UsageError("--centering is for binary visible units, not --model grbm or "
                               "--visible gaussian")
    if not gaussian and ({"sigma", "sigma_lr", "sigma_init"} & given):
        raise click.UsageError("--sigma, --sigma-lr and --sigma-init are for Gaussian visible "
                               "units "
                               "(--model grbm, or --model dbn --visible gaussian)")
    if not resume and gaussian:
        options.update(sigma=sigma, sigma_lr=sigma_lr, sigma_init=sigma_init)
    if not resume and model_kind == "dbn":
        options["visible"] = visible
    typed = {"sigma": sigma, "sigma_lr": sigma_lr, "sigma_init": sigma_init,
             "visible": visible}
    options.update({name: value for name, value in typed.items() if name in given})
    return options
