"""Scores of binary data under a Bernoulli RBM (the Python layer of ``rbm score``).

Per-sample metrics of binary rows ``x`` (N, nv):

* ``mser``: h ~ P(h|x), x' ~ P(v|h), mean over pixels of (x - x')**2
  (:meth:`BernoulliRBM.reconstruction_error`).
* ``mser_mean_field``: the same with probabilities instead of samples,
  x' = P(v = 1 | P(h = 1 | x)).
* ``free_energy``: F(x) = -b.x - sum_j softplus(c_j + (x W)_j).
* ``pseudo_ll``: sum over all pixels of log P(x_i | x_-i) = -softplus(F(x) - F(x~i)),
  x~i being x with pixel i flipped (exact, from nv + 1 free energies per sample); with
  ``n_pixels = K`` an unbiased estimate from K pixels drawn without replacement per
  sample, scaled by nv / K.
* ``ll``: log P(x) = -F(x) - log Z, with log Z from :mod:`rbmcli.scoring.partition`.

:func:`estimate_log_partition` picks exact enumeration or AIS, runs reverse AIS for
``--bracket`` and keeps the AIS results in the model file's ``/partition`` group:

    /partition   attrs: method ("ais"), checksum (parameter SHA-256), runs, steps, seed,
                        base (where the base rates came from), log_z, log_z_sd,
                        log_z_lo, log_z_hi, log_z_base, seconds, rbm_version, and after
                        --bracket: reverse_burn_in, reverse_start, log_z_reverse,
                        log_z_reverse_sd, log_z_reverse_lo, log_z_reverse_hi,
                        reverse_seconds
                 dataset base_bias (nv,) float64: the base model's visible biases

A cached forward estimate is reused when the checksum and (runs, steps, seed) match;
the reverse one when reverse_burn_in matches too. The base rates do not enter the key:
every base gives an unbiased estimate of the same log Z.
"""

import json
import math
import time
from dataclasses import dataclass

import numpy as np

from rbmcli import __version__
from rbmcli.errors import InputError
from rbmcli.io.partition_cache import read_partition_cache, write_partition_cache
from rbmcli.models.base import NotSupported
from rbmcli.scoring import partition as pt
from rbmcli.pixels import binarize_stochastic, binarize_threshold

BINARIZATIONS = ("threshold", "stochastic")

# numpy.random.default_rng([seed, STREAM]) for each use of randomness
_DATA_STREAM, _BASE_STREAM, _MSER_STREAM, _PLL_STREAM = 0, 1, 2, 4


# --------------------------------------------------------------------------- data


def binarize(images, binarization, seed=0, stream=_DATA_STREAM):
    """Binary rows (N, D) uint8 from grey images as the model file's ``binarization``
    says: ``"threshold"`` (pixel >= 0.5) or ``"stochastic"`` (Bernoulli(pixel), drawn
    with ``numpy.random.default_rng([seed, stream])``)."""
    if binarization == "threshold":
        return binarize_threshold(images)
    if binarization == "stochastic":
        return binarize_stochastic(images, np.random.default_rng([seed, stream]))
    raise InputError(f"unknown binarization {binarization!r} (expected one of "
                     f"{', '.join(BINARIZATIONS)})")


def _check_rows(model, V):
    V = np.asarray(V)
    if V.ndim != 2 or V.shape[1] != model.n_visible:
        raise InputError(f"expected binary rows of shape (N, {model.n_visible}), found "
                         f"{V.shape}")
    if V.dtype != np.uint8 or V.max(initial=0) > 1:
        if not np.isin(V, (0, 1)).all():
            raise InputError("data must be 0 or 1 (binarize first)")
        V = V.astype(np.uint8)
    return np.ascontiguousarray(V)


# --------------------------------------------------------------------------- metrics


def reconstruction_errors(model, V, rng):
    """MSER of each row of binary ``V`` (N, nv): h ~ P(h|x), x' ~ P(v|h),
    ``mean_i (x_i - x'_i)**2``. Returns (N,) float64."""
    return np.asarray(model.reconstruction_error(_check_rows(model, V), rng), np.float64)


def mean_field_reconstruction_errors(model, V):
    """Deterministic MSER of each row: ``x' = P(v = 1 | P(h = 1 | x))``,
    ``mean_i (x_i - x'_i)**2``. Returns (N,) float64."""
    V = _check_rows(model, V)
    R = model.visible_probs(model.hidden_probs(V)).astype(np.float64)
    return np.mean((V - R) ** 2, axis=1)


def pseudo_log_likelihood(model, V, n_pixels=None, rng=None, max_bytes=1 << 25):
    """Pseudo-log-likelihood ``sum_i log P(x_i | x_-i)`` of each row (N,) float64.

    ``log P(x_i | x_-i) = -softplus(F(x) - F(x~i))`` where ``x~i`` flips pixel i. With
    ``n_pixels`` K < nv, each row sums K pixels drawn without replacement by ``rng``
    and scales by nv / K (an unbiased estimate of the full sum). The flipped copies
    are scored by :meth:`BernoulliRBM.free_energy` in chunks of at most ``max_bytes``.
    """
    V = _check_rows(model, V)
    n, nv = V.shape
    if n_pixels is None or n_pixels >= nv:
        k, scale = nv, 1.0
    else:
        if n_pixels < 1:
            raise InputError(f"n_pixels must be >= 1, found {n_pixels}")
        if rng is None:
            raise InputError("a random subset of pixels needs an rng")
        k, scale = int(n_pixels), nv / float(n_pixels)
    F = model.free_energy(V)
    out = np.empty(n, np.float64)
    per_chunk = max(1, int(max_bytes // (k * nv)))
    for s0 in range(0, n, per_chunk):
        rows = V[s0:s0 + per_chunk]
        b = rows.shape[0]
        if k == nv:
            pixels = np.broadcast_to(np.arange(nv), (b, nv))
        else:
            pixels = np.argsort(rng.random((b, nv)), axis=1)[:, :k]
        flipped = np.repeat(rows, k, axis=0)
        flat = np.arange(b * k)
        flipped[flat, pixels.ravel()] ^= 1
        F_flipped = model.free_energy(flipped).reshape(b, k)
        out[s0:s0 + b] = -scale * np.logaddexp(0.0, F[s0:s0 + b, None] - F_flipped).sum(axis=1)
    return out


# --------------------------------------------------------------------------- log Z


@dataclass
class PartitionOptions:
    """How ``rbm score --ll`` gets log Z.

    method: ``"exact"``, ``"ais"`` or None (exact when the smaller layer has at most
    :data:`rbmcli.scoring.partition.EXACT_MAX_UNITS` units). ``bracket`` adds forward and
    reverse AIS (also when the method is exact, to compare).
    """

    method: str = None
    bracket: bool = False
    runs: int = pt.DEFAULT_RUNS
    steps: int = pt.DEFAULT_STEPS
    seed: int = 0
    reverse_burn_in: int = 10000  # REVERSE_BURN_IN
    use_cache: bool = True


REVERSE_BURN_IN = 10000
"""Gibbs sweeps from the data before reverse AIS, by default."""


def _quiet(_msg):
    pass


def _settings_match(cache, opts):
    return (cache.get("method") == "ais" and "base_bias" in cache
            and all(k in cache for k in ("log_z", "log_z_sd", "log_z_lo", "log_z_hi"))
            and int(cache.get("runs", -1)) == opts.runs
            and int(cache.get("steps", -1)) == opts.steps
            and int(cache.get("seed", -1)) == opts.seed)


def estimate_log_partition(model, opts, base_data, start_data, *, model_path=None,
                           base_source="", start_source="", log=_quiet, progress=None):
    """log Z of ``model`` and how it was obtained, as an ordered dict of output fields.

    Parameters
    ----------
    model : BernoulliRBM
    opts : PartitionOptions
    base_data : (N, nv) uint8
        Binary data whose smoothed means define the AIS base model.
    start_data : (N, nv) uint8
        Binary data where the reverse-AIS Gibbs chains start.
    model_path : str, optional
        The model file, whose ``/partition`` cache is read and written (when
        ``opts.use_cache``).
    base_source, start_source : str
        Descriptions of the two data sets, stored in the cache.
    log : callable
        ``log(message)`` for one-line notes (cache hits, timings).
    progress : callable, optional
        ``progress(label)`` returning a ``(update(done, total), close())`` pair.

    Returns
    -------
    dict
        ``log_z``, ``log_z_method`` and, with AIS: ``log_z_sd``, ``log_z_lo``,
        ``log_z_hi``, ``ais_runs``, ``ais_steps``; with the bracket: ``log_z_ais``,
        ``log_z_ais_sd``, ``log_z_reverse``, ``log_z_reverse_sd``, ``log_z_reverse_lo``,
        ``log_z_reverse_hi``, ``reverse_burn_in``.
    """

    smaller = min(model.n_visible, model.n_hidden)
    method = opts.method or ("exact" if smaller <= pt.EXACT_MAX_UNITS else "ais")
    out = {}
    if method == "exact":
        t0 = time.perf_counter()
        out["log_z"] = pt.log_partition_exact(model)
        out["log_z_method"] = "exact"
        log(f"log Z: exact, enumerating 2**{smaller} states ({time.perf_counter() - t0:.1f} s)")
        if not opts.bracket:
            return out

    checksum = model.checksum()
    use_cache = opts.use_cache and model_path is not None
    cache = read_partition_cache(model_path) if use_cache else {}
    if cache and cache.get("checksum") != checksum:
        log(f"log Z: the estimate cached in {model_path} is for other parameters; "
            "recomputing")
        cache = {}
    elif cache and not _settings_match(cache, opts):
        log(f"log Z: the estimate cached in {model_path} has other settings (runs "
            f"{cache.get('runs')}, steps {cache.get('steps')}, seed {cache.get('seed')}); "
            "recomputing")
        cache = {}
    changed = False
    if cache:
        b_base = np.asarray(cache["base_bias"], np.float64)
        log(f"log Z: reusing the AIS estimate cached in {model_path} ({opts.runs} runs x "
            f"{opts.steps} steps, seed {opts.seed}, base rates of {cache.get('base')})")
    else:
        b_base = pt.base_rate_biases(base_data)
        t0 = time.perf_counter()
        est = _with_progress(progress, "forward AIS", lambda cb: pt.ais_log_partition(
            model, b_base, runs=opts.runs, steps=opts.steps, seed=opts.seed, progress=cb))
        seconds = time.perf_counter() - t0
        log(f"log Z: forward AIS, {opts.runs} runs x {opts.steps} steps, base rates of "
            f"{base_source}: {seconds:.1f} s")
        cache = dict(method="ais", checksum=checksum, runs=opts.runs, steps=opts.steps,
                     seed=opts.seed, base=base_source, log_z=est.log_z,
                     log_z_sd=est.log_z_sd, log_z_lo=est.log_z_lo, log_z_hi=est.log_z_hi,
                     log_z_base=est.log_z_base, seconds=seconds, rbm_version=__version__,
                     base_bias=b_base)
        changed = True
    if opts.bracket:
        if "log_z_reverse" in cache and int(cache.get("reverse_burn_in", -1)) == \
                opts.reverse_burn_in:
            log(f"log Z: reusing the reverse AIS estimate cached in {model_path}")
        else:
            t0 = time.perf_counter()
            starts = _with_progress(progress, "Gibbs burn-in", lambda cb: _model_samples(
                model, start_data, opts, cb))
            rev = _with_progress(progress, "reverse AIS", lambda cb: pt.reverse_ais_log_partition(
                model, b_base, starts, steps=opts.steps, seed=opts.seed, progress=cb))
            seconds = time.perf_counter() - t0
            log(f"log Z: reverse AIS, {opts.runs} runs x {opts.steps} steps from "
                f"{opts.reverse_burn_in} Gibbs sweeps started at {start_source}: {seconds:.1f} s")
            cache.update(reverse_burn_in=opts.reverse_burn_in, reverse_start=start_source,
                         log_z_reverse=rev.log_z, log_z_reverse_sd=rev.log_z_sd,
                         log_z_reverse_lo=rev.log_z_lo, log_z_reverse_hi=rev.log_z_hi,
                         reverse_seconds=seconds)
            changed = True
    if changed and use_cache:
        _write_cache(model_path, cache, checksum, log)

    ais = {"log_z": cache["log_z"], "log_z_sd": cache["log_z_sd"],
           "log_z_lo": cache["log_z_lo"], "log_z_hi": cache["log_z_hi"]}
    if method == "ais":
        out.update(ais)
        out["log_z_method"] = "ais"
    out["ais_runs"] = opts.runs
    out["ais_steps"] = opts.steps
    if opts.bracket:
        out["log_z_ais"] = ais["log_z"]
        out["log_z_ais_sd"] = ais["log_z_sd"]
        for key in ("log_z_reverse", "log_z_reverse_sd", "log_z_reverse_lo",
                    "log_z_reverse_hi"):
            out[key] = float(cache[key])
        out["reverse_burn_in"] = opts.reverse_burn_in
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def _model_samples(model, data, opts, callback):
    """Reverse-AIS starting states: :func:`rbmcli.scoring.partition.model_samples` in chunks of
    1,000 sweeps so that a progress bar can move."""
    total = opts.reverse_burn_in
    states = pt.model_samples(model, data, opts.runs, min(total, 1000), seed=opts.seed)
    done = min(total, 1000)
    rng = np.random.default_rng([opts.seed, 14])
    while done < total:
        if callback:
            callback(done, total)
        n = min(1000, total - done)
        states, _ = model.gibbs(states, n, rng)
        done += n
    if callback:
        callback(total, total)
    return states


def _with_progress(progress, label, run):
    if progress is None:
        return run(None)
    update, close = progress(label)
    try:
        return run(update)
    finally:
        close()


def _write_cache(path, cache, checksum, log):
    attrs = {k: v for k, v in cache.items() if k != "base_bias"}
    try:
        written = write_partition_cache(
            path, attrs, checksum, {"base_bias": np.asarray(cache["base_bias"], np.float64)})
    except InputError as err:
        log(f"log Z: could not cache the estimate: {err}")
        return
    if written:
        log(f"log Z: cached in {path}")
    else:
        log(f"log Z: not cached: {path} changed while log Z was being estimated")


# --------------------------------------------------------------------------- all scores


@dataclass
class Scores:
    """``summary``: metric name -> value (ordered as printed); ``per_sample``: metric
    name -> (N,) float64 array."""

    summary: dict
    per_sample: dict

    def lines(self):
        """The summary as ``metric<TAB>value`` lines (floats to 10 significant digits),
        what ``rbm score`` prints."""
        return [f"{key}\t{_text(value)}" for key, value in self.summary.items()]

    def json(self, per_sample=False):
        """The summary (and with ``per_sample`` the per-sample values under
        ``"per_sample"``) as one line of JSON; nan and inf become null."""
        obj = {k: _json_value(v) for k, v in self.summary.items()}
        if per_sample:
            obj["per_sample"] = {k: [_json_value(float(x)) for x in np.asarray(v)]
                                 for k, v in self.per_sample.items()}
        return json.dumps(obj)

    def tsv(self):
        """The per-sample values as TSV: a header ``index<TAB>metric...`` and one row per
        image (floats to 10 significant digits), without a final newline."""
        names = list(self.per_sample)
        cols = [self.per_sample[k] for k in names]
        lines = ["\t".join(["index"] + names)]
        lines += ["\t".join([str(i)] + [f"{float(c[i]):.10g}" for c in cols])
                  for i in range(self.summary["n"])]
        return "\n".join(lines)


def _text(value):
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score(model, V, *, mser=False, free_energy=False, pseudo_ll=False,
          pseudo_ll_pixels=None, log_partition=None, seed=0):
    """Every requested metric of binary rows ``V`` (N, nv) under ``model``.

    ``log_partition`` (a dict from :func:`estimate_log_partition`) adds ``ll`` (mean of
    ``-F(x) - log Z``), its standard error over the data ``ll_sd``, the log Z fields,
    and with the bracket ``ll_ais`` and ``ll_reverse``. Returns :class:`Scores`.
    """
    V = _check_rows(model, V)
    n = V.shape[0]
    summary, per = {"n": n}, {}
    if mser:
        per["mser"] = reconstruction_errors(model, V, np.random.default_rng([seed, _MSER_STREAM]))
        per["mser_mean_field"] = mean_field_reconstruction_errors(model, V)
    F = None
    if free_energy or log_partition is not None:
        F = model.free_energy(V)
    if free_energy:
        per["free_energy"] = F
    if pseudo_ll:
        per["pseudo_ll"] = pseudo_log_likelihood(
            model, V, pseudo_ll_pixels, np.random.default_rng([seed, _PLL_STREAM]))
    for key, values in per.items():
        summary[key] = float(np.mean(values))
    if pseudo_ll and pseudo_ll_pixels is not None and pseudo_ll_pixels < model.n_visible:
        summary["pseudo_ll_pixels"] = int(pseudo_ll_pixels)
    if log_partition is not None:
        lz = log_partition
        per["ll"] = -F - lz["log_z"]
        summary["ll"] = float(np.mean(per["ll"]))
        summary["ll_sd"] = float(np.std(-F, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        summary.update(lz)
        if "log_z_ais" in lz:
            summary["ll_ais"] = float(np.mean(-F) - lz["log_z_ais"])
            summary["ll_reverse"] = float(np.mean(-F) - lz["log_z_reverse"])
            per["ll_reverse"] = -F - lz["log_z_reverse"]
    return Scores(summary, per)


def score_images(model, images, *, mser=False, free_energy=False, pseudo_ll=False,
                 pseudo_ll_pixels=None, ll=False, exact=False, ais=False, ais_runs=None,
                 ais_steps=None, bracket=False, reverse_burn_in=None, base=None,
                 base_source="", source="", cache=None, seed=0, log=None, progress=None):
    """The metrics of grey ``images`` (N, nv) under a Bernoulli RBM (the module docstring):
    the images are binarised as ``model.binarization`` says (stochastic with ``seed``).

    ``ll`` needs log Z: ``exact`` (enumeration), ``ais`` (forward AIS, ``ais_runs`` x
    ``ais_steps``) or, with neither, exact up to
    :data:`rbmcli.scoring.partition.EXACT_MAX_UNITS` units in the smaller layer; ``bracket``
    adds reverse AIS from ``reverse_burn_in`` Gibbs sweeps started at the data. ``base``
    (grey images, default ``images``) defines the AIS base model. ``cache`` names the model
    file whose ``/partition`` group keeps AIS estimates (None: no cache). ``bracket``,
    ``exact`` and ``ais`` imply ``ll``; ``pseudo_ll_pixels`` implies ``pseudo_ll``.
    Returns :class:`Scores`.
    """

    if exact and ais:
        raise NotSupported("choose one of exact and ais")
    smaller = min(model.n_visible, model.n_hidden)
    if exact and smaller > pt.ENUMERATION_LIMIT:
        raise NotSupported(f": the smaller layer has {smaller} units; enumerating 2**{smaller} "
                           f"states is not feasible (at most 2**{pt.ENUMERATION_LIMIT}); use "
                           "AIS", "exact")
    pseudo_ll = pseudo_ll or pseudo_ll_pixels is not None
    ll = ll or bracket or exact or ais
    V = binarize(images, model.binarization, seed, _DATA_STREAM)
    log_partition = None
    if ll:
        base_V = V if base is None else binarize(base, model.binarization, seed, _BASE_STREAM)
        opts = PartitionOptions(method="exact" if exact else "ais" if ais else None,
                                bracket=bracket, runs=ais_runs or pt.DEFAULT_RUNS,
                                steps=ais_steps or pt.DEFAULT_STEPS, seed=seed,
                                reverse_burn_in=(REVERSE_BURN_IN if reverse_burn_in is None
                                                 else reverse_burn_in),
                                use_cache=cache is not None)
        log_partition = estimate_log_partition(
            model, opts, base_V, V, model_path=cache,
            base_source=source if base is None else base_source, start_source=source,
            log=log or _quiet, progress=progress)
    return score(model, V, mser=mser, free_energy=free_energy, pseudo_ll=pseudo_ll,
                 pseudo_ll_pixels=pseudo_ll_pixels, log_partition=log_partition, seed=seed)
