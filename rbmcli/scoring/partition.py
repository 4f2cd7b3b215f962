"""The partition function ``Z = sum_{v,h} exp(-E(v, h))`` of a Bernoulli RBM.

* :func:`log_partition_exact`: enumerate the 2**n states of the smaller layer and sum
  the other layer out analytically, in float64 with a running log-sum-exp, in chunks
  so memory stays below ~32 MB. Feasible up to about n = 25.
* :func:`ais_log_partition`: annealed importance sampling (Neal 2001) from a
  base-rate RBM, as in Salakhutdinov & Murray (2008), "On the quantitative analysis
  of deep belief networks": the base model has ``W = 0``, ``c = 0`` and visible biases
  ``bA = log(p / (1 - p))`` of smoothed data means (:func:`base_rate_biases`); the
  default schedule has 14,500 steps (500 from beta = 0 to 0.5, 4,000 to 0.9, 10,000
  to 1) and 100 runs.
* :func:`reverse_ais_log_partition`: the same path walked backwards from (approximate)
  model samples (reverse AIS, cf. Burda, Grosse & Salakhutdinov 2015).

Which way the estimates err. Forward AIS weights ``w`` have ``E[w] = Z / Z_0``, so
``E[mean w] = Z / Z_0`` and, by Jensen, ``E[log Z_fwd] <= log Z``: forward AIS is a
*stochastic lower bound* on log Z (and by Markov, ``P(log Z_fwd > log Z + t) <=
exp(-t)``), so the log-likelihood ``mean(-F) - log Z_fwd`` tends to be *over*-estimated.
Reverse AIS weights have ``E[w] = Z_0 / Z`` when the runs start from exact model
samples, so ``log Z_rev = log Z_0 - log mean w`` is a *stochastic upper bound* on
log Z and ``mean(-F) - log Z_rev`` a stochastic *lower* bound on the log-likelihood:
together they bracket it. The reverse bound needs exact model samples; started from
Gibbs chains that have not mixed it is only approximate (a warning, not a proof).

Uncertainty, as in Salakhutdinov & Murray: with ``M`` weights of relative standard
error ``s = sd(w) / (sqrt(M) mean(w))``, the estimate ``Zhat`` comes with
``log(Zhat (1 -+ 3 s))`` bounds and a log-space standard deviation ``s`` (delta
method). When the weights are heavy-tailed (too few steps), ``s`` itself is
under-estimated: a small ``s`` is necessary, not sufficient, for a good estimate.

Random numbers: ``numpy.random.default_rng([seed, 11])`` draws the forward runs' base
samples and keys, ``[seed, 12]`` picks and runs the reverse runs' Gibbs chains
(:func:`model_samples`), ``[seed, 13]`` draws the reverse runs' keys; the kernel's
counter-based uniforms make the result independent of the thread count.
"""

from dataclasses import dataclass, field

import numpy as np

from rbmcli.errors import InputError
from rbmcli.sampling.keys import draw_keys
from rbmcli.kernels.rbm.ais import ais_anneal

SCHEDULE = ((0.5, 500), (0.9, 4000), (1.0, 10000))
"""Salakhutdinov & Murray's schedule (their code's ``beta = [0:1/1000:0.5
0.5:1/10000:0.9 0.9:1/100000:1.0]``): (end beta, steps) of each linear segment."""
DEFAULT_STEPS = sum(n for _, n in SCHEDULE)  # 14,500
DEFAULT_RUNS = 100
EXACT_MAX_UNITS = 20
"""``rbm score --ll`` enumerates when the smaller layer has at most this many units."""
ENUMERATION_LIMIT = 30
"""Refuse to enumerate more than 2**30 states (about 1e9)."""
_CHUNK_ELEMENTS = 1 << 22  # float64 elements per enumeration chunk: 32 MB


# --------------------------------------------------------------------------- helpers


def log_mean_exp(x):
    """``log(mean(exp(x)))`` of a 1-D array, computed stably (float64)."""
    x = np.asarray(x, np.float64)
    m = np.max(x)
    if not np.isfinite(m):
        return float(m)
    return float(m + np.log(np.mean(np.exp(x - m))))


def relative_standard_error(log_w):
    """``sd(w) / (sqrt(M) mean(w))`` of ``w = exp(log_w)`` (M,), computed stably;
    0 for a single weight."""
    log_w = np.asarray(log_w, np.float64)
    if log_w.size < 2:
        return 0.0
    w = np.exp(log_w - np.max(log_w))
    return float(np.std(w, ddof=1) / (np.sqrt(w.size) * np.mean(w)))


def ais_schedule(n_steps=DEFAULT_STEPS):
    """The inverse temperatures ``0 = beta_0 < ... < beta_K = 1`` (K + 1,) float64.

    :data:`SCHEDULE` rescaled to ``n_steps`` (>= 3) steps: each segment keeps its
    share of the steps (rounded, at least 1) and is spaced linearly.
    """
    n_steps = int(n_steps)
    if n_steps < len(SCHEDULE):
        raise ValueError(f"an AIS schedule needs at least {len(SCHEDULE)} steps")
    counts = [max(1, round(n_steps * n / DEFAULT_STEPS)) for _, n in SCHEDULE[:-1]]
    counts.append(n_steps - sum(counts))
    parts, start = [np.zeros(1)], 0.0
    for (end, _), n in zip(SCHEDULE, counts):
        parts.append(np.linspace(start, end, n + 1)[1:])
        start = end
    betas = np.concatenate(parts)
    betas[-1] = 1.0
    return betas


def base_rate_biases(V):
    """Visible biases of the base-rate model: ``log(p / (1 - p))`` with the smoothed
    means ``p_i = (sum_n V[n, i] + 1) / (N + 2)`` (Laplace's rule of succession, so
    that no pixel gets an infinite bias) of binary data ``V`` (N, nv). Returns (nv,)
    float64."""
    V = np.asarray(V)
    p = (V.sum(axis=0, dtype=np.float64) + 1.0) / (V.shape[0] + 2.0)
    return np.log(p) - np.log1p(-p)


def log_partition_base(b_base, n_hidden):
    """``log Z_0 = nh log 2 + sum_i softplus(bA_i)`` of the base model as the AIS path
    sees it (its hidden units are free)."""
    return float(n_hidden * np.log(2.0) + np.logaddexp(0.0, np.asarray(b_base, np.float64)).sum())


# --------------------------------------------------------------------------- exact


def _softplus_rows(X):
    """``sum_j softplus(X[:, j])`` (rows,), float64, overwriting X:
    ``max(x, 0) + log1p(exp(-|x|))`` (about 5x faster than ``np.logaddexp``)."""
    relu = np.maximum(X, 0.0).sum(axis=1)
    np.abs(X, out=X)
    np.negative(X, out=X)
    np.exp(X, out=X)
    np.log1p(X, out=X)
    return relu + X.sum(axis=1)


def log_partition_exact(model, max_units=ENUMERATION_LIMIT):
    """Exact ``log Z`` (float) by enumerating the smaller layer.

    Over the visible states (when nv <= nh):
    ``log Z = logsumexp_v [b.v + sum_j softplus(c_j + (v W)_j)]``; over the hidden
    states: ``logsumexp_h [c.h + sum_i softplus(b_i + (W h)_i)]``. Float64 throughout,
    2**n states in chunks of at most ~4M pre-activations.

    Raises
    ------
    InputError
        When the smaller layer has more than ``max_units`` units.
    """
    W = np.asarray(model.weights, np.float64)
    b = np.asarray(model.visible_bias, np.float64)
    c = np.asarray(model.hidden_bias, np.float64)
    if W.shape[0] <= W.shape[1]:
        small_bias, other_bias, M = b, c, W          # states over v; M maps v -> h
    else:
        small_bias, other_bias, M = c, b, W.T        # states over h
    n = M.shape[0]
    if n > max_units:
        raise InputError(f"cannot enumerate 2**{n} states (at most 2**{max_units}); "
                         "use AIS")
    M = np.ascontiguousarray(M)
    chunk = int(max(1, min(2 ** n, _CHUNK_ELEMENTS // max(1, M.shape[1]))))
    bits = np.arange(n, dtype=np.int64)
    running_max, running_sum = -np.inf, 0.0
    for start in range(0, 2 ** n, chunk):
        idx = np.arange(start, min(start + chunk, 2 ** n), dtype=np.int64)
        S = ((idx[:, None] >> bits) & 1).astype(np.float64)
        logp = S @ small_bias + _softplus_rows(S @ M + other_bias)
        m = float(np.max(logp))
        if m > running_max:
            running_sum = running_sum * np.exp(running_max - m) if running_sum else 0.0
            running_max = m
        running_sum += float(np.sum(np.exp(logp - running_max)))
    return float(running_max + np.log(running_sum))


# --------------------------------------------------------------------------- AIS


@dataclass
class AISEstimate:
    """The result of forward or reverse AIS.

    Attributes
    ----------
    log_z : float
        The estimate of log Z.
    log_z_sd : float
        Its log-space standard deviation ``s`` (relative standard error of the mean
        weight).
    log_z_lo, log_z_hi : float
        ``log Z`` at the mean weight -+ 3 standard errors (may be -inf / inf).
    log_z_base : float
        ``log Z_0`` of the base model.
    log_w : np.ndarray
        (runs,) float64 log importance weights.
    direction : str
        ``"forward"`` (a stochastic lower bound on log Z) or ``"reverse"`` (a
        stochastic upper bound, given exact starting samples).
    steps : int
        Steps of the schedule.
    """

    log_z: float
    log_z_sd: float
    log_z_lo: float
    log_z_hi: float
    log_z_base: float
    log_w: np.ndarray = field(repr=False)
    direction: str
    steps: int

    @property
    def runs(self):
        return int(self.log_w.size)


def _check_base(model, b_base):
    b_base = np.asarray(b_base, np.float64)
    if b_base.shape != (model.n_visible,) or not np.isfinite(b_base).all():
        raise InputError(f"base-rate biases must be {model.n_visible} finite numbers, found "
                         f"shape {b_base.shape}")
    return b_base


def _anneal(model, b_base, V, betas, keys, progress, chunk_steps):
    """Run the AIS kernel over the whole schedule ``betas`` from states ``V`` (R, nv),
    in chunks of ``chunk_steps`` steps; returns the (R,) log weights."""
    dtype = model.dtype
    W = model._weights  # the writable array: the kernels are compiled for it
    WT = np.ascontiguousarray(W.T)   # our own copy: AIS never changes the weights
    bA = np.ascontiguousarray(b_base, dtype)
    mix = np.ascontiguousarray(np.stack([betas, 1.0 - betas], axis=1), dtype)
    V = np.ascontiguousarray(V, np.uint8).copy()
    log_w = np.zeros(V.shape[0], np.float64)
    n_steps = betas.size - 1
    done = 0
    if progress:
        progress(0, n_steps)
    while done < n_steps:
        stop = min(n_steps, done + chunk_steps)
        ais_anneal(V, log_w, W, WT, bA, model.visible_bias, model.hidden_bias, betas, mix,
                   done + 1, stop + 1, keys)
        done = stop
        if progress:
            progress(done, n_steps)
    return log_w


def _chunk_steps(model, runs):
    """Steps per kernel call (between 10 and 100,000, ~0.01-0.1 s of work on one core
    at ~5 units per ns), so that a progress bar moves; the chunking depends only on
    the model's shape and the number of runs, so a seed reproduces the result."""
    work = runs * (model.n_visible + 4 * model.n_hidden) * max(model.n_hidden, 1) / 5.0
    return int(np.clip(2e8 / max(work, 1.0), 10, 100_000))


def ais_log_partition(model, b_base, runs=DEFAULT_RUNS, steps=DEFAULT_STEPS, seed=0,
                      progress=None):
    """Forward AIS estimate of ``log Z`` (:class:`AISEstimate`).

    Parameters
    ----------
    model : BernoulliRBM
    b_base : (n_visible,) float
        Visible biases of the base-rate model (:func:`base_rate_biases`).
    runs : int
        Independent AIS runs (>= 1).
    steps : int
        Steps of the schedule :func:`ais_schedule` (>= 3).
    seed : int
        Seeds ``numpy.random.default_rng([seed, 11])``.
    progress : callable, optional
        ``progress(steps_done, steps_total)``, called between kernel chunks.
    """
    if runs < 1:
        raise InputError(f"AIS needs at least 1 run, found {runs}")
    b_base = _check_base(model, b_base)
    betas = ais_schedule(steps)
    rng = np.random.default_rng([seed, 11])
    p = 1.0 / (1.0 + np.exp(-b_base))
    V0 = (rng.random((runs, model.n_visible)) < p).astype(np.uint8)
    keys = draw_keys(rng, runs)
    log_w = _anneal(model, b_base, V0, betas, keys, progress, _chunk_steps(model, runs))
    return forward_estimate(log_w, log_partition_base(b_base, model.n_hidden), steps)


def forward_estimate(log_w, log_z0, steps):
    """The :class:`AISEstimate` of forward AIS weights ``log_w`` (runs,) from a base
    model with ``log Z_0 = log_z0``: ``log Z = log Z_0 + log mean(w)`` and its error bars."""
    s = relative_standard_error(log_w)
    log_z = log_z0 + log_mean_exp(log_w)
    return AISEstimate(
        log_z=log_z, log_z_sd=s,
        log_z_lo=log_z + (np.log1p(-3 * s) if s < 1 / 3 else -np.inf),
        log_z_hi=log_z + np.log1p(3 * s), log_z_base=log_z0, log_w=log_w,
        direction="forward", steps=int(steps))


def reverse_ais_log_partition(model, b_base, V_start, steps=DEFAULT_STEPS, seed=0,
                              progress=None):
    """Reverse AIS estimate of ``log Z`` (:class:`AISEstimate`): one run from each row
    of ``V_start`` (runs, n_visible), which should be samples of the model (e.g.
    :func:`model_samples`), annealed from beta = 1 down to the base model.

    ``log Z_rev = log Z_0 - log mean(w)``; its -+3 standard-error bounds are
    ``log Z_0 - log(mean(w) (1 +- 3 s))``. Keys from ``default_rng([seed, 13])``.
    """
    b_base = _check_base(model, b_base)
    V_start = np.asarray(V_start)
    if V_start.ndim != 2 or V_start.shape[1] != model.n_visible or V_start.shape[0] < 1:
        raise InputError(f"expected starting states of shape (runs >= 1, "
                         f"{model.n_visible}), found {V_start.shape}")
    if not np.isin(V_start, (0, 1)).all():
        raise InputError("starting states must be 0 or 1")
    betas = ais_schedule(steps)[::-1].copy()
    keys = draw_keys(np.random.default_rng([seed, 13]), V_start.shape[0])
    log_w = _anneal(model, b_base, V_start, betas, keys, progress,
                    _chunk_steps(model, V_start.shape[0]))
    log_z0 = log_partition_base(b_base, model.n_hidden)
    s = relative_standard_error(log_w)
    log_z = log_z0 - log_mean_exp(log_w)
    return AISEstimate(
        log_z=log_z, log_z_sd=s, log_z_lo=log_z - np.log1p(3 * s),
        log_z_hi=log_z - (np.log1p(-3 * s) if s < 1 / 3 else -np.inf),
        log_z_base=log_z0, log_w=log_w, direction="reverse", steps=int(steps))


def model_samples(model, V_data, n, burn_in, seed=0):
    """``n`` approximate model samples (n, nv) uint8: Gibbs chains started at rows of
    binary data ``V_data`` (chosen at random, without replacement when there are
    enough) and run for ``burn_in`` sweeps. Uses ``default_rng([seed, 12])``."""
    rng = np.random.default_rng([seed, 12])
    V_data = np.asarray(V_data)
    rows = rng.choice(V_data.shape[0], size=n, replace=V_data.shape[0] < n)
    states, _ = model.gibbs(V_data[rows], int(burn_in), rng)
    return states
