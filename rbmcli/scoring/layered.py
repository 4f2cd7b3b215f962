"""Scores of grey images under a Gaussian RBM or a DBN (``rbm score`` on those model files).

Gaussian RBM (the images are standardised with the model's stored transform):

* ``mser``: h ~ P(h|v), v' = E[v | h], mean squared error per pixel in standardised units;
  ``mser_pixels``: the same error in pixel units (range [0, 1]); ``mser_mean_field``:
  v' = E[v | P(h|v)], standardised.
* ``free_energy``: mean F(v) of the standardised images.
* ``ll``: mean log p(v) = -F(v) - log Z in nats of the standardised data, log Z exact (at
  most 20 hidden units, or ``--exact``) or by AIS from the Gaussian base model
  (:mod:`rbmcli.scoring.grbm_partition`); ``ll_pixels`` = ll + sum_i log(1 / std_i), the log-density
  of the pixel values themselves.

DBN (the images are binarised as the file says, or standardised for a Gaussian first layer):

* ``mser``: the first layer's reconstruction error (as for that RBM).
* ``ll_bound``: the variational lower bound on log p(v) of :meth:`rbmcli.models.dbn.DBN.
  log_likelihood_bound` with :data:`BOUND_SAMPLES` draws of h ~ q(h|v) per image and log Z of
  the top RBM exact or by AIS (its base rates: the smoothed means of a stochastic up pass of
  the data); ``ll_bound_sd`` its standard error over the images, ``ll_bound_mc_sd`` the mean
  Monte Carlo standard error of one image's estimate. It is a *bound*, not the
  log-likelihood. A DBN has no free energy of v, so ``--free-energy`` does not apply.

Neither caches log Z in the model file.
"""

import time

import numpy as np

from rbmcli.pixels import as_unit_float
from rbmcli.models.base import NotSupported
from rbmcli.scoring import grbm_partition as gp
from rbmcli.scoring.classes import class_log_partition
from rbmcli.scoring.bernoulli import PartitionOptions, Scores, _with_progress, estimate_log_partition
from rbmcli.scoring.partition import DEFAULT_RUNS, DEFAULT_STEPS, EXACT_MAX_UNITS, base_rate_biases

BOUND_SAMPLES = 10
_MSER_STREAM, _BOUND_STREAM, _UP_STREAM = 2, 5, 6


def _summarise(n, per, extra):
    summary = {"n": n}
    summary.update({k: float(np.mean(v)) for k, v in per.items()})
    summary.update(extra)
    return Scores(summary, per)


def _ais_fields(est, seconds):
    return {"log_z": float(est.log_z), "log_z_method": "ais", "log_z_sd": float(est.log_z_sd),
            "log_z_lo": float(est.log_z_lo), "log_z_hi": float(est.log_z_hi),
            "ais_runs": int(est.runs), "ais_steps": int(est.steps), "ais_seconds": seconds}


def score_grbm(model, x01, *, mser=False, free_energy=False, ll=False, method=None, runs=100,
               steps=14500, seed=0, log=None, progress=None):
    """Scores of grey images ``x01`` (N, nv) in [0, 1] under a GaussianRBM (module
    docstring); ``method`` is "exact", "ais" or None (exact up to 20 hidden units)."""
    V = model.standardizer.forward(x01, model.dtype)
    per, extra = {}, {}
    if mser:
        rng = np.random.default_rng([seed, _MSER_STREAM])
        _, H = model.sample_hidden(V, rng)
        R = model.visible_mean(H).astype(np.float64)
        per["mser"] = np.mean((V - R) ** 2, axis=1)
        per["mser_pixels"] = np.mean((model.standardizer.inverse(R) - x01) ** 2, axis=1)
        Rm = model.visible_mean(model.hidden_probs(V)).astype(np.float64)
        per["mser_mean_field"] = np.mean((V - Rm) ** 2, axis=1)
    F = model.free_energy(V) if (free_energy or ll) else None
    if free_energy:
        per["free_energy"] = F
    if ll:
        method = method or ("exact" if model.n_hidden <= EXACT_MAX_UNITS else "ais")
        t0 = time.perf_counter()
        if method == "exact":
            lz = {"log_z": gp.log_partition_exact(model), "log_z_method": "exact"}
        else:
            est = _with_progress(progress, "forward AIS", lambda cb: gp.ais_log_partition(
                model, runs=runs, steps=steps, seed=seed, progress=cb))
            lz = _ais_fields(est, time.perf_counter() - t0)
            if log:
                log(f"log Z: forward AIS, {runs} runs x {steps} steps from the Gaussian base "
                    f"model: {lz['ais_seconds']:.1f} s")
        per["ll"] = -F - lz["log_z"]
        per["ll_pixels"] = per["ll"] + model.standardizer.log_jacobian
        extra["ll_sd"] = float(np.std(per["ll"], ddof=1) / np.sqrt(len(V))) if len(V) > 1 \
            else float("nan")
        extra.update(lz)
    return _summarise(len(V), per, extra)


def dbn_input(model, x01, binarization, seed):
    """What the DBN's first layer sees: standardised values (Gaussian) or binary states
    (binarised as the model file says; stochastic with ``seed``)."""
    return model.layers[0].data_input(x01, binarization, seed)


def score_dbn(model, x01, binarization, *, mser=False, ll=False, method=None, runs=100,
              steps=14500, seed=0, samples=BOUND_SAMPLES, log=None, progress=None):
    """Scores of grey images ``x01`` (N, nv) under a DBN (module docstring)."""
    V = dbn_input(model, x01, binarization, seed)
    per, extra = {}, {}
    if mser:
        per["mser"] = np.asarray(model.layers[0].reconstruction_error(
            V, np.random.default_rng([seed, _MSER_STREAM])), np.float64)
    if ll:
        top = model.top
        up = model.sample_up(V, np.random.default_rng([seed, _UP_STREAM]), len(model.layers) - 1)
        opts = PartitionOptions(method=method, runs=runs, steps=steps, seed=seed,
                                use_cache=False)
        if log and method != "exact" and min(top.n_visible, top.n_hidden) > 20:
            log(f"log Z of the top RBM ({top.n_visible}-{top.n_hidden}): AIS, {runs} runs x "
                f"{steps} steps, base rates of the data's up pass (smoothed means "
                f"{np.exp(-np.logaddexp(0, -base_rate_biases(up))).mean():.3f})")
        def estimate(rbm, name=""):
            return estimate_log_partition(rbm, opts, up, up, base_source="an up pass of DATA",
                                          log=lambda m: log and log(name + m),
                                          progress=progress)
        # a top RBM with label units: log Z over its classes (its F_top sums them out)
        lz = estimate(top) if top.labels is None else class_log_partition(top, estimate)
        bound, mc_sd = model.log_likelihood_bound(
            V, lz["log_z"], np.random.default_rng([seed, _BOUND_STREAM]), samples)
        per["ll_bound"] = bound
        if model.gaussian:
            per["ll_bound_pixels"] = bound + model.layers[0].standardizer.log_jacobian
        extra["ll_bound_sd"] = float(np.std(bound, ddof=1) / np.sqrt(len(V))) if len(V) > 1 \
            else float("nan")
        extra["ll_bound_mc_sd"] = float(np.mean(mc_sd))
        extra["bound_samples"] = int(samples)
        extra.update({f"{k}_top" if k.startswith("log_z") else k: v for k, v in lz.items()})
    return _summarise(len(V), per, extra)


def _refuse_bernoulli_only(kind, pseudo_ll=False, pseudo_ll_pixels=None, bracket=False,
                           base=None, reverse_burn_in=None):
    """NotSupported for the metrics and options only a Bernoulli RBM has."""
    if pseudo_ll or pseudo_ll_pixels is not None:
        raise NotSupported(f"is for Bernoulli RBMs, not a {kind}", "pseudo_ll")
    if bracket or reverse_burn_in is not None:
        raise NotSupported(f"(reverse AIS) is for Bernoulli RBMs, not a {kind}", "bracket")
    if base is not None:
        raise NotSupported(f"is for Bernoulli RBMs, not a {kind} (its AIS base model is "
                           + ("Gaussian)" if kind == "gaussian-rbm" else
                              "fitted to the data's up pass)"), "base")


def score_grbm_images(model, images, *, mser=False, free_energy=False, ll=False, exact=False,
                      ais=False, ais_runs=None, ais_steps=None, seed=0, log=None,
                      progress=None, cache=None, source="", base_source="", **bernoulli_only):
    """:func:`score_grbm` of grey ``images`` (N, nv) (uint8 or floats in [0, 1]) with the
    options of :func:`rbmcli.scoring.bernoulli.score_images`; ``exact`` and ``ais`` imply
    ``ll``. Bernoulli-only options raise NotSupported; ``cache`` is not used."""
    _refuse_bernoulli_only(model.kind, **bernoulli_only)
    return score_grbm(model, as_unit_float(images, np.float64), mser=mser,
                      free_energy=free_energy, ll=ll or exact or ais,
                      method="exact" if exact else "ais" if ais else None,
                      runs=ais_runs or DEFAULT_RUNS, steps=ais_steps or DEFAULT_STEPS,
                      seed=seed, log=log, progress=progress)


def score_dbn_images(model, images, *, mser=False, free_energy=False, ll=False, exact=False,
                     ais=False, ais_runs=None, ais_steps=None, seed=0, log=None, progress=None,
                     cache=None, source="", base_source="", **bernoulli_only):
    """:func:`score_dbn` of grey ``images`` (N, nv), binarised as ``model.binarization``
    says, with the options of :func:`rbmcli.scoring.bernoulli.score_images` (``ll`` is the
    variational lower bound ``ll_bound``). A DBN has no free energy of v."""
    _refuse_bernoulli_only(model.kind, **bernoulli_only)
    if free_energy:
        raise NotSupported(": a dbn has no free energy of v; --ll gives its lower bound",
                           "free_energy")
    return score_dbn(model, as_unit_float(images, np.float64), model.binarization, mser=mser,
                     ll=ll or exact or ais,
                     method="exact" if exact else "ais" if ais else None,
                     runs=ais_runs or DEFAULT_RUNS, steps=ais_steps or DEFAULT_STEPS,
                     seed=seed, log=log, progress=progress)
