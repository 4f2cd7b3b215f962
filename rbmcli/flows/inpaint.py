"""Inpainting with a flow: sample the unknown pixels from the flow's conditional density
``p(y_unknown | y_known)`` in logit space by MALA (the Metropolis-adjusted Langevin
algorithm, Roberts & Tweedie 1996), using the flow's exact log-density and its
hand-written gradient.

Each chain proposes ``y' = y + (eps^2 / 2) grad log p(y) + eps xi`` on its unknown
coordinates (xi ~ N(0, I)) and accepts with the Metropolis-Hastings probability, so
the chain leaves the conditional exactly invariant. During the first half of the run
each chain's step size ``eps`` adapts towards an acceptance rate of 0.574 (Roberts &
Rosenthal 1998); the second half runs with the step sizes fixed.
"""

import numpy as np

TARGET_ACCEPTANCE = 0.574


def mala(model, y0, known, steps, rng, eps0=0.05, on_step=None):
    """Run MALA chains on the unknown coordinates.

    Parameters
    ----------
    model : FlowModel
    y0 : (N, D) start, in the model's (logit) space; known coordinates stay fixed.
    known : (N, D) bool
    steps : int
    rng : numpy.random.Generator
    on_step : callable(step, y), optional

    Returns
    -------
    y : (N, D) final states
    acceptance : (N,) acceptance rate of each chain over the second half
    eps : (N,) final step sizes
    """
    y = np.array(y0, dtype=model.dtype, copy=True)
    free = (~np.asarray(known)).astype(model.dtype)
    n = len(y)
    eps = np.full(n, eps0)
    lp, g = model.grad_log_prob(y)
    accepted = np.zeros(n)
    adapt = steps // 2
    for t in range(steps):
        e = eps[:, None]
        drift = 0.5 * e * e * g
        prop = (y + free * (drift + e * rng.standard_normal(y.shape))).astype(model.dtype)
        lp2, g2 = model.grad_log_prob(prop)
        forward = (prop - y - drift) * free
        backward = (y - prop - 0.5 * e * e * g2) * free
        log_q = (np.einsum("ij,ij->i", forward, forward, dtype=np.float64)
                 - np.einsum("ij,ij->i", backward, backward, dtype=np.float64)) / (2 * eps ** 2)
        log_alpha = np.where(np.isfinite(lp2), lp2 - lp + log_q, -np.inf)
        accept = np.log(rng.random(n)) < log_alpha
        y[accept], lp[accept], g[accept] = prop[accept], lp2[accept], g2[accept]
        if t < adapt:
            eps *= np.exp(0.1 * (accept - TARGET_ACCEPTANCE) / np.sqrt(1 + t / 10))
        else:
            accepted += accept
        if on_step:
            on_step(t + 1, y)
    return y, accepted / max(steps - adapt, 1), eps


def start_states(model, y_known, known, rng, temperature=0.7):
    """Chains' starting points: the known coordinates, and a model sample's elsewhere."""
    sample = model.sample_space(len(y_known), rng, temperature)
    return np.where(known, y_known, sample).astype(model.dtype)
