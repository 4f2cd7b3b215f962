"""``rbm train``: fit an RBM to data by CD-k, PCD-k or parallel tempering, or a
normalizing flow (``--model nice|realnvp|glow|maf``); the recipes are
:mod:`rbmcli.training.recipes`."""

import os
import signal
import sys

import click

from rbmcli import interrupts
from rbmcli.cli import lazy
from rbmcli.memory import DEFAULT_FRACTION, parse_size
from rbmcli.cli.common import (FiniteFloat, Output, check_outputs, input_files, model_errors,
                               seed_option, threads_option)


class HiddenSizes(click.IntRange):
    """``H`` (a positive integer) or ``H1,H2,...`` (layer sizes of a DBN): a tuple of ints."""

    name = "H|H1,H2,..."

    def __init__(self):
        super().__init__(min=1)

    def convert(self, value, param, ctx):
        # Click may pass a value it has already converted: a tuple of ints, kept as it is
        parts = [p.strip() for p in value.split(",")] if hasattr(value, "split") else value
        return tuple(super(HiddenSizes, self).convert(p, param, ctx) for p in parts)
class MemorySize(click.ParamType):
    """``--memory SIZE``: bytes, or a size such as ``64M``, ``2G``, ``512MiB`` (an int)."""

    name = "SIZE"

    def convert(self, value, param, ctx):
        try:
            return parse_size(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


def network_options(f):
    """The ``rbm train`` options that only flows use."""
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


def check_output(output, resume, force, pictures, model_kind, inputs):
    """The output rule (:func:`rbmcli.cli.common.check_outputs`) for OUTPUT and, with
    --pictures, OUTPUT-samples.png and OUTPUT-filters.png: --resume continues OUTPUT (and
    replaces its pictures), --force overwrites them all; OUTPUT cannot be ``-`` nor one of
    the inputs (UsageError / ClickException)."""
    if resume and force:
        raise click.UsageError("--resume continues OUTPUT, --force overwrites it: pick one")
    model = Output(output, "-o", "HDF5", stream="the model file cannot go to standard output",
                   replaceable=resume)
    # "-", its folder, an input (with --resume OUTPUT is read first: a data file is refused
    # there as "not an rbm model file")
    check_outputs([model], () if resume else inputs, force=True)
    if os.path.exists(output) and not (resume or force):
        raise click.ClickException(f"{output}: exists; use --resume to continue it or --force "
                                   "to overwrite it")
    stem = os.path.splitext(output)[0]
    names = ["samples"] + ([] if model_kind in FLOWS and not resume else ["filters"])
    drawn = [Output(f"{stem}-{name}.png", "--pictures", "PNG", replaceable=resume)
             for name in names] if pictures else []
    check_outputs(drawn, inputs, force)


MODELS = ("rbm", "grbm", "dbn", "nice", "realnvp", "glow", "maf")
FLOWS = MODELS[3:]
"""The names of --model (rbmcli.training.recipes.MODELS, written out here so that
``rbm --help`` imports nothing heavy; a test checks that the two agree)."""


@click.command()
@click.argument("data", required=False)
@click.option("-o", "--output", default="model.h5", show_default=True,
              type=click.Path(dir_okay=False), help="Model file (also the checkpoint).")
@click.option("--model", "model_kind", type=click.Choice(MODELS),
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
@click.option("--stack-start", type=click.Choice(["flipped", "random"]), default=None,
              help="dbn: how each layer above the first starts. flipped: as the layer below "
                   "turned upside down when it has at least as many hidden units as that "
                   "layer has visible ones (the DBN's bound starts at the layers below); "
                   "random: small random weights, as Hinton et al. 2006 [default: random "
                   "with --labels, which classifies better, else flipped].")
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
@seed_option()
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--binarize", type=click.Choice(["threshold", "stochastic"]), default=None,
              help="threshold: pixel >= 0.5; stochastic: Bernoulli(pixel), redrawn each "
                   "epoch [default: rbm stochastic, dbn threshold].")
@click.option("--labels", is_flag=True, default=False,
              help="rbm, dbn: add a softmax group of one-hot label units, one per class of "
                   "DATA's labels, to the (top) RBM's visible layer and train it "
                   "generatively (a class RBM): `rbm classify`, `rbm sample --label K`.")
@click.option("--fine-tune", type=click.Choice(["up-down", "backprop"]), default=None,
              help="dbn: after the greedy layers, fine-tune the whole DBN. up-down (needs "
                   "--labels): the algorithm of Hinton, Osindero & Teh 2006, untied "
                   "recognition and generative weights, CD in the top RBM (3, 6, then 10 "
                   "sweeps). backprop (needs labelled DATA): the up pass and a softmax "
                   "trained as a classifier by gradient descent (momentum 0.9); the "
                   "generative DBN is kept as it was.")
@click.option("--fine-tune-epochs", type=click.IntRange(min=1), default=None,
              help="Epochs of --fine-tune [default: --epochs].")
@click.option("--fine-tune-lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate of --fine-tune [default: up-down --lr; backprop 0.1, "
                   "decayed linearly over the epochs].")
@click.option("--fine-tune-momentum", type=click.FloatRange(min=0, max=1, max_open=True),
              default=None, help="Momentum of --fine-tune [default: up-down 0, backprop "
                                 "0.9].")
@click.option("--fine-tune-l2", type=click.FloatRange(min=0), default=None,
              help="Weight decay of --fine-tune: a W is subtracted from each weight's "
                   "update direction [default: 0].")
@click.option("--fine-tune-cd", type=HiddenSizes(), default=None, metavar="K|K1,K2,...",
              help="up-down: CD sweeps in the top RBM, one K per equal part of the "
                   "fine-tuning epochs [default: 3,6,10, the paper's].")
@click.option("--fine-tune-input", type=click.Choice(["binary", "grey"]), default=None,
              help="up-down: the images its wake and generative steps see: binary (as "
                   "--binarize makes them) or grey (the grey levels in [0, 1], the "
                   "paper's) [default: binary].")
@click.option("--validate", "validate", metavar="DATA",
              help="Validation data (FILE.h5[:GROUP]) for MSER and the free-energy gap.")
@click.option("--resume", is_flag=True, help="Continue the run checkpointed in --output.")
@click.option("--force", is_flag=True, help="Overwrite an existing --output (and its "
              "pictures).")
@threads_option()
@click.option("--memory", type=MemorySize(), default=None,
              help="Budget for the training data: a data file whose rows take more (as "
                   "read, plus the binarised or standardised copy training makes) is read "
                   "from the file in shuffled chunks each epoch instead of loaded whole "
                   "(rbm, grbm; see README). K, M, G: powers of 1000; KiB, MiB, GiB: of "
                   "1024 [default: %d%% of the memory available]." % (100 * DEFAULT_FRACTION))
@click.option("--pictures/--no-pictures", default=True, show_default=True,
              help="Write OUTPUT-samples.png and OUTPUT-filters.png at the end.")
@network_options
@click.pass_context
@model_errors
def train(ctx, data, output, model_kind, hidden, visible, first_layer, stack_start, sigma,
          sigma_lr, sigma_init, cd, pcd, pt, cd_from, epochs, batch_size, lr, lr_final,
          momentum, momentum_warmup, l2, l1, centering, chains, seed, dtype, binarize, labels,
          fine_tune, fine_tune_epochs, fine_tune_lr, fine_tune_momentum, fine_tune_l2,
          fine_tune_cd, fine_tune_input, validate, resume, force, threads, memory, pictures,
          **network):
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
      rbm train big.h5 --memory 2G               # streams big.h5 if it takes more
      rbm train --hidden 100 --epochs 5          # embedded synthetic digits
      rbm train mnist.h5 --model grbm -o grbm.h5  # CD-50 from noise
      rbm train mnist.h5 --model dbn --hidden 500,500,2000 -o dbn.h5
      rbm train mnist.h5 --model dbn --hidden 500,500,2000 --labels -o dbn.h5
      rbm train mnist.h5 --model dbn --hidden 500,500,2000 --labels --fine-tune up-down
      rbm train mnist.h5 --model dbn --hidden 500,500,2000 --fine-tune backprop
      rbm train mnist.h5 --model realnvp --layers 5 --epochs 100 -o realnvp.h5
    """
    with interrupts.trap(raising=True) as stop:
        try:
            check_output(output, resume, force, pictures, model_kind,
                         input_files(data, validate, first_layer))
            params = dict(ctx.params, model=model_kind)
            given = {"model" if name == "model_kind" else name for name in ctx.params
                     if ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT}
            log = lambda msg: click.echo(msg, err=True)  # noqa: E731
            run = lazy.start_run(model_kind, params, given, data=data, output=output,
                                 resume=resume, validate=validate, log=log)
            threads_used = lazy.configure_threads(threads, log=log)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted ({interrupts.signal_name(stop.signum or 2)}) before "
                       f"training started: nothing was saved"
                       + (f" ({output} is unchanged)" if os.path.exists(output) else ""),
                       err=True)
            interrupts.quiet_half_built_compilers()  # the signal may have cut one short
            sys.exit(130)
        with lazy.blas_threads(threads_used):
            run_to_the_end(run, run.resume_command, pictures, stop)


def run_to_the_end(run, resume_command, pictures, stop=None):
    """Run the epochs of ``run`` (a TrainingRun); on SIGINT or SIGTERM say which epoch
    the output file holds and how to resume, and exit with status 130; write the
    pictures at the end when asked (a signal there stops at once: the model is saved).
    ``stop``: the :class:`rbmcli.interrupts.Trap` in force, if any."""
    try:
        run.run_epochs()
        if stop is not None:
            stop.raising = True
            if stop.stopped:
                raise KeyboardInterrupt
        if pictures:
            run.write_pictures()
    except interrupts.Interrupted as err:
        click.echo(interrupted_message(err, resume_command), err=True)
        sys.exit(130)
    except KeyboardInterrupt:  # outside the loop's checks: the file is as last saved
        signum = (stop.signum if stop is not None else None) or signal.SIGINT
        if run.finished() and run.saved_epoch == run.epoch:
            click.echo(f"\ninterrupted ({interrupts.signal_name(signum)}) while writing "
                       f"the pictures: {run.output} holds the whole run "
                       f"({run.saved_epoch} epochs)", err=True)
        else:
            click.echo(interrupted_message(interrupts.Interrupted(
                signum, run.saved_epoch, run.output), resume_command), err=True)
        sys.exit(130)


def interrupted_message(stop, resume_command):
    """The line printed after a run stopped on a signal: what the file holds (the epoch
    of the checkpoint actually written) and how to continue."""
    name = stop.signal_name
    if stop.epoch is None:
        return f"\ninterrupted ({name}): nothing was saved"
    return (f"\ninterrupted ({name}): {stop.output} holds {stop.epoch} complete epochs; "
            f"continue with: {resume_command}").replace("  ", " ")
