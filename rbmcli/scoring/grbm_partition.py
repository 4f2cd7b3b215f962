"""The partition function of a Gaussian-Bernoulli RBM (:mod:`rbmcli.models.grbm`).

* :func:`log_partition_exact`: the visible units integrate out in closed form for each
  hidden state, ``log Z = sum_i log(sqrt(2 pi) sigma_i) + logsumexp_h [c.h + (b / sigma).(W h)
  + |W h|^2 / 2]``; the 2**nh hidden states are enumerated in float64 chunks.
* :func:`ais_log_partition`: annealed importance sampling along the tempered path of
  :mod:`rbmcli.models.grbm` (only the interaction ``(v / sigma).W h + c.h`` is scaled by beta),
  from the base model with the same visible Gaussian ``Normal(b, sigma^2)`` and ``W = 0``,
  ``c = 0``, whose ``log Z_0 = nh log 2 + sum_i log(sqrt(2 pi) sigma_i)`` is analytic.
  With ``a = c + (v / sigma) W`` the unnormalised marginal is
  ``f_beta(v) = exp(-sum_i (v_i - b_i)^2 / (2 sigma_i^2)) prod_j (1 + exp(beta a_j))``, so a
  step adds ``sum_j softplus(beta_k a_j) - softplus(beta_{k-1} a_j)`` to the log weight, and
  the transition is one Gibbs sweep ``h ~ sigmoid(beta a)``, ``v ~ Normal(b + beta sigma W h,
  sigma^2)``. Same schedule, runs and error bars as :mod:`rbmcli.scoring.partition`.

Random numbers: ``numpy.random.default_rng([seed, 21])``.
"""

import numpy as np

from rbmcli.errors import InputError
HALF_LOG_2PI = 0.5 * float(np.log(2 * np.pi))
from rbmcli.scoring.partition import (DEFAULT_RUNS, DEFAULT_STEPS, ENUMERATION_LIMIT, ais_schedule,
                        forward_estimate, log_mean_exp)

_CHUNK_ELEMENTS = 1 << 22


def _gaussian_log_normalizer(model):
    """``sum_i log(sqrt(2 pi) sigma_i)`` (float)."""
    return float(model.n_visible * HALF_LOG_2PI + model.log_sigma.astype(np.float64).sum())


def log_partition_exact(model, max_units=ENUMERATION_LIMIT):
    """Exact ``log Z`` (float) by enumerating the 2**nh hidden states.

    Raises
    ------
    InputError
        When the model has more than ``max_units`` hidden units.
    """
    nh = model.n_hidden
    if nh > max_units:
        raise InputError(f"cannot enumerate 2**{nh} hidden states (at most 2**{max_units}); "
                         "use AIS")
    W = model.weights.astype(np.float64)
    bs = model.visible_bias.astype(np.float64) / model.sigma.astype(np.float64)
    c = model.hidden_bias.astype(np.float64)
    bits = np.arange(nh, dtype=np.int64)
    chunk = int(max(1, min(2 ** nh, _CHUNK_ELEMENTS // max(1, model.n_visible))))
    parts = []
    for start in range(0, 2 ** nh, chunk):
        idx = np.arange(start, min(start + chunk, 2 ** nh), dtype=np.int64)
        H = ((idx[:, None] >> bits) & 1).astype(np.float64)
        WH = H @ W.T                                   # (states, nv)
        logp = H @ c + WH @ bs + 0.5 * np.einsum("ij,ij->i", WH, WH)
        parts.append(log_mean_exp(logp) + np.log(len(idx)))
    return _gaussian_log_normalizer(model) + float(np.logaddexp.reduce(parts))


def log_partition_base(model):
    """``log Z_0 = nh log 2 + sum_i log(sqrt(2 pi) sigma_i)`` of the AIS base model."""
    return float(model.n_hidden * np.log(2.0)) + _gaussian_log_normalizer(model)


def ais_log_partition(model, runs=DEFAULT_RUNS, steps=DEFAULT_STEPS, seed=0, progress=None):
    """Forward AIS estimate of ``log Z`` (:class:`rbmcli.scoring.partition.AISEstimate`).

    Parameters
    ----------
    model : GaussianRBM
    runs : int
        Independent runs (>= 1).
    steps : int
        Steps of :func:`rbmcli.scoring.partition.ais_schedule` (>= 3).
    seed : int
    progress : callable, optional
        ``progress(steps_done, steps_total)``, called every 100 steps.
    """
    if runs < 1:
        raise InputError(f"AIS needs at least 1 run, found {runs}")
    betas = ais_schedule(steps)
    rng = np.random.default_rng([seed, 21])
    dtype = model.dtype
    W = model.weights
    b, c, sigma = model.visible_bias, model.hidden_bias, model.sigma
    V = b + sigma * rng.standard_normal((runs, model.n_visible), dtype=dtype)
    log_w = np.zeros(runs, np.float64)
    n_steps = betas.size - 1
    A = ((V / sigma) @ W + c).astype(np.float64)
    for k in range(1, n_steps + 1):
        lw_new = np.logaddexp(0.0, betas[k] * A).sum(axis=1)
        log_w += lw_new - np.logaddexp(0.0, betas[k - 1] * A).sum(axis=1)
        if k < n_steps:
            p = 0.5 * (1.0 + np.tanh(0.5 * betas[k] * A))
            H = (rng.random(A.shape) < p).astype(dtype)
            V = b + dtype.type(betas[k]) * sigma * (H @ W.T) \
                + sigma * rng.standard_normal(V.shape, dtype=dtype)
            A = ((V / sigma) @ W + c).astype(np.float64)
        if progress and (k % 100 == 0 or k == n_steps):
            progress(k, n_steps)
    return forward_estimate(log_w, log_partition_base(model), steps)
