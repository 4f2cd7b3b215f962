"""``rbm score``: metrics of data under a model: reconstruction error, free energy,
pseudo-log-likelihood and log-likelihood (log Z exact or by AIS)."""

import sys

import click

from rbmcli.cli import lazy
from rbmcli.cli.common import (model_errors, model_option, open_model, resolve_model_path,
                               seed_option, threads_option, THREADS_HELP, typed)
from rbmcli.errors import InputError
from rbmcli.progress import ProgressBar


def _stdin_is_a_terminal():
    """True when standard input is a terminal (then DATA has no default)."""
    return sys.stdin.isatty()


@click.command()
@click.argument("data", required=False)
@model_option
@click.option("--mser", is_flag=True,
              help="Reconstruction error: mser (h ~ P(h|x), x' ~ P(v|h)) and "
                   "mser_mean_field (x' = P(v|P(h|x))), per pixel.")
@click.option("--free-energy", is_flag=True, help="Mean free energy F(x).")
@click.option("--pseudo-ll", is_flag=True,
              help="Pseudo-log-likelihood: sum over all pixels of log P(x_i|x_-i).")
@click.option("--pseudo-ll-pixels", type=click.IntRange(min=1), metavar="K",
              help="Estimate the pseudo-LL from K random pixels per image, scaled by "
                   "pixels/K (implies --pseudo-ll).")
@click.option("--ll", is_flag=True, help="Log-likelihood in nats: mean(-F(x)) - log Z.")
@click.option("--accuracy", is_flag=True,
              help="Models trained with --labels: the fraction of DATA's images whose "
                   "class (as `rbm classify` finds it) is their label.")
@click.option("--exact", is_flag=True,
              help="log Z by enumerating the smaller layer [default when it has <= 20 units].")
@click.option("--ais", "force_ais", is_flag=True,
              help="log Z by annealed importance sampling [default when both layers have "
                   "> 20 units].")
@click.option("--ais-runs", type=click.IntRange(min=1), default=100, show_default=True,
              help="AIS runs.")
@click.option("--ais-steps", type=click.IntRange(min=3), default=14500, show_default=True,
              help="AIS steps: 0->0.5->0.9->1 in the proportions 500:4000:10000.")
@click.option("--bracket", is_flag=True,
              help="Also reverse AIS: ll_ais (tends to over-estimate) and ll_reverse "
                   "(tends to under-estimate) bracket the log-likelihood (implies --ll).")
@click.option("--reverse-burn-in", type=click.IntRange(min=0), default=10000,
              show_default=True, help="Gibbs sweeps from the data before reverse AIS.")
@click.option("--base", metavar="DATA",
              help="Data whose pixel means define the AIS base model [default: DATA].")
@seed_option("Seed of stochastic binarization, MSER sampling, pseudo-LL pixels, AIS.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--per-sample", is_flag=True,
              help="Print one TSV row per image (with a header) instead of the means.")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Reuse and store the AIS estimate in the model file's /partition group.")
@threads_option(THREADS_HELP[:-1] + "; results do not depend on it.")
@click.pass_context
@model_errors
def score(ctx, data, model_path, mser, free_energy, pseudo_ll, pseudo_ll_pixels, ll, accuracy,
          exact, force_ais, ais_runs, ais_steps, bracket, reverse_burn_in, base, seed,
          as_json, per_sample, cache, threads):
    """Score DATA (FILE.h5, FILE.h5:GROUP, or - for HDF5 bytes on stdin, the default
    when stdin is not a terminal) under the model: print `metric<TAB>value` lines.

    Data are binarized as the model file says (stochastic binarization uses --seed).
    Without a metric option, prints --mser and --free-energy. --ll needs log Z: exact
    when the smaller layer has at most 20 units, else AIS from a base-rate model
    fitted to the (smoothed) pixel means of DATA or --base (Salakhutdinov & Murray
    2008), cached in the model file. Forward AIS tends to under-estimate log Z, so
    ll_ais tends to be too high; reverse AIS from Gibbs chains (--bracket) tends to
    over-estimate it, so ll_reverse tends to be too low.

    \b
    Examples:
      rbm score mnist.h5:test -m model.h5 --mser --free-energy
      rbm score mnist.h5:test -m model.h5 --ll --bracket
      rbm score mnist.h5:test -m model.h5 --pseudo-ll --per-sample --json
      rbm sample -n 100 -o - | rbm score - --mser --json
      rbm score mnist.h5:test -m realnvp.h5 --ll    # a flow: exact, nats and bits/pixel
      rbm score mnist.h5:test -m classrbm.h5 --accuracy --mser
    """
    if data is None:
        if _stdin_is_a_terminal():
            raise click.UsageError("no DATA: give FILE.h5[:GROUP], or pipe HDF5 bytes into "
                                   "standard input")
        data = "-"
    if exact and force_ais:
        raise click.UsageError("choose one of --exact, --ais")
    if base is not None and base.split(":")[0] == "-" and data.split(":")[0] == "-":
        raise click.UsageError("DATA and --base cannot both be standard input")
    path = resolve_model_path(model_path)
    mf = open_model(model_path)
    model = mf.model
    options = typed(ctx, METRICS + ("ais_runs", "ais_steps", "reverse_burn_in"))
    options.update({"exact": exact or None, "ais": force_ais or None})
    options = {k: v for k, v in options.items() if v is not None}
    others = any(options.get(name) for name in METRICS + ("exact", "ais"))
    if not others and not accuracy:
        options.update({name: True for name in model.default_metrics})
    if accuracy:
        model.check_classifies("accuracy")

    def load(spec):
        ds = lazy.load_dataset(spec)
        if ds.images.shape[1] != model.n_visible:
            raise InputError(f"has {ds.images.shape[1]} pixels per image but the model in "
                             f"{path} has {model.n_visible} visible units",
                             "<stdin>" if spec.split(":")[0] == "-" else spec)
        return ds

    ds = load(data)
    if base is not None:
        base_ds = load(base)
        options.update(base=base_ds.images, base_source=base_ds.source)
    if accuracy and ds.labels is None:
        raise InputError("has no labels: --accuracy needs labelled data",
                         "<stdin>" if data.split(":")[0] == "-" else data)
    n_threads = lazy.configure_threads(threads, log=lambda msg: click.echo(msg, err=True))
    with lazy.blas_threads(n_threads):
        scores = None
        if others or not accuracy:
            scores = model.score(ds.images, seed=seed, source=ds.source,
                                 cache=path if cache else None,
                                 log=lambda msg: click.echo(msg, err=True),
                                 progress=_progress_bar, **options)
        if accuracy:
            scores = lazy.with_accuracy(scores, lazy.classify_images(model, ds.images,
                                                                    ds.labels))
    _print_scores(scores, as_json, per_sample)


METRICS = ("mser", "free_energy", "pseudo_ll", "pseudo_ll_pixels", "ll", "bracket")


def _print_scores(scores, as_json, per_sample):
    """Print :class:`rbmcli.scoring.bernoulli.Scores` as JSON, per-sample TSV, or metric lines."""
    if as_json:
        click.echo(scores.json(per_sample))
    elif per_sample:
        click.echo(scores.tsv())
    else:
        for line in scores.lines():
            click.echo(line)


def _progress_bar(label):
    bar = ProgressBar(label)
    return bar.update, bar.close
