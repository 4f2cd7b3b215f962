"""Samplers of Gaussian RBMs and DBNs behind the signature of :mod:`rbmcli.sampling.bernoulli`::

    result = model.samplers[name](model, V0, steps, rng, clamp=None, replicas=10,
                                  on_step=None, burn_in=None)

``V0`` and the returned ``images`` are in **pixel units** (floats in [0, 1], or 0/1 states):
a Gaussian model standardises ``V0`` with its stored transform and maps its means back, so
the commands never see standardised values. ``states`` are the final visible states in
pixel units (Gaussian: real values clipped to [0, 1]; Bernoulli first layer of a DBN: 0/1).
With ``burn_in``, ``mean`` averages the images' kind of mean (``E[v | h_t]`` in pixels) over
the steps after it, as in :mod:`rbmcli.sampling.bernoulli` (mean-field: the images; DBN without
clamping: the final images, the top chain's average is not mapped down).

* Gaussian RBM: ``gibbs`` (block Gibbs, clamped units fixed), ``pt`` (parallel tempering on
  the path that tempers only the interaction, see :mod:`rbmcli.models.grbm`; swaps by
  :func:`rbmcli.kernels.rbm.tempering.pt_swap_pass` on the interaction energies), ``mf`` (damped
  mean-field ``mu = b + sigma W lambda``, ``lambda = sigmoid(c + (mu / sigma) W)``). Images
  are ``E[v | h]`` of the final hidden states (mf: ``mu``), in pixels.
* DBN without clamping: the Bernoulli sampler of that name runs in the top RBM, started at
  a stochastic up pass of ``V0``; then a single down pass (``h_l ~ p(h_l | h_{l+1})``, image
  = the mean of ``p(v | h_1)``; mf: a mean-field down pass).
* DBN with clamping (inpainting), ``gibbs`` only, the up-down scheme: every step is a
  stochastic up pass of the current image to the top RBM's visible layer, one Gibbs sweep
  of the top RBM, a stochastic down pass to ``h_1``, then the unknown pixels are redrawn
  from ``p(v | h_1)`` and the known ones reset. The recognition weights only approximate
  the posterior, so this samples the conditional approximately.
"""

import numpy as np

from rbmcli.errors import NotSupported
from rbmcli.sampling.bernoulli import (DAMPING, SampleResult, _as_states, _check, _check_burn_in,
                       _RunningMean, checkpoints, chunked_gibbs, ladder)
from rbmcli.kernels.rbm.tempering import pt_swap_pass
from rbmcli.sampling.keys import draw_keys


# ---------------------------------------------------------------------- Gaussian RBM


def _pixels(model, V):
    """Standardised (N, nv) -> pixels clipped to [0, 1], the model's dtype."""
    return np.clip(model.standardizer.inverse(V), 0, 1).astype(model.dtype)


def _start(model, V0, steps, clamp, replicas=None):
    """Checked pixel start X0 (N, nv) float, clamp mask, and standardised V."""
    X0, clamp = _check(model, V0, steps, clamp, replicas)
    X0 = X0.astype(np.float64)
    return X0, clamp, model.standardizer.forward(X0, model.dtype)


def _grbm_images(model, H, X0, clamp):
    """Pixels of ``E[v | h]`` (H: (N, nh) states or probabilities), known units from X0."""
    images = _pixels(model, model.visible_mean(H))
    return images if clamp is None else np.where(clamp, X0, images).astype(model.dtype)


def grbm_gibbs(model, V0, steps, rng, clamp=None, replicas=10, on_step=None, burn_in=None):
    """Block Gibbs sampling of a Gaussian RBM (module docstring); ``replicas`` is ignored."""
    X0, clamp, V = _start(model, V0, steps, clamp)
    _check_burn_in(burn_in, steps)
    if on_step:
        on_step(0, X0.astype(model.dtype))
    V, images, running = chunked_gibbs(
        model, V, steps, rng, clamp, burn_in, on_step,
        images_of_hidden=lambda H: _grbm_images(model, H, X0, clamp),
        images_of_visible=lambda V, r: _grbm_images(model, model.sample_hidden(V, r)[1], X0,
                                                    clamp))
    return SampleResult(images=images, states=_pixels(model, V), method="gibbs",
                        steps=int(steps), mean=running.result(X0, clamp))


def grbm_parallel_tempering(model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
                            burn_in=None):
    """Parallel tempering of a Gaussian RBM: ``replicas`` copies of every chain at inverse
    temperatures :func:`rbmcli.sampling.bernoulli.ladder`, temperature-major, one
    :meth:`GaussianRBM.tempering_sweep` each (known units reset in every replica) and a swap
    pass of alternating parity per step."""
    X0, clamp, V = _start(model, V0, steps, clamp, replicas)
    _check_burn_in(burn_in, steps)
    running = _RunningMean(burn_in, V.shape)
    n = V.shape[0]
    betas = ladder(int(replicas), np.float64)
    beta_r = np.repeat(betas, n)
    V = np.ascontiguousarray(np.tile(V, (len(betas), 1)))
    known = None if clamp is None else np.tile(clamp, (len(betas), 1))
    _, H = model.sample_hidden(V, rng, beta_r)
    accepted = np.zeros(len(betas) - 1, np.int64)
    attempted = np.zeros(len(betas) - 1, np.int64)
    if on_step:
        on_step(0, X0.astype(model.dtype))
    marks = set(checkpoints(steps))
    known_values = V.copy()
    for t in range(1, int(steps) + 1):
        V, H, E = model.tempering_sweep(H, beta_r, rng, known, known_values)
        pt_swap_pass(V, H, E, betas, n, draw_keys(rng, 1)[0], (t - 1) % 2, accepted, attempted)
        if running.wants(t):
            running.add(_grbm_images(model, H[:n], X0, clamp))
        if on_step and t in marks:
            on_step(t, _grbm_images(model, H[:n], X0, clamp))
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(attempted > 0, accepted / np.maximum(attempted, 1), np.nan)
    return SampleResult(images=_grbm_images(model, H[:n], X0, clamp),
                        states=_pixels(model, V[:n]), method="pt", steps=int(steps),
                        betas=betas, swap_acceptance=rates, mean=running.result(X0, clamp))


def grbm_mean_field(model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
                    burn_in=None, damping=DAMPING):
    """Damped mean-field fixed point of a Gaussian RBM, ``mu <- damping mu + (1 - damping)
    (b + sigma W sigmoid(c + (mu / sigma) W))``, known units fixed; deterministic."""
    X0, clamp, mu = _start(model, V0, steps, clamp)
    _check_burn_in(burn_in, steps)
    known_values = mu.copy()
    if on_step:
        on_step(0, X0.astype(model.dtype))
    marks = set(checkpoints(steps))
    keep = model.dtype.type(damping)
    for t in range(1, int(steps) + 1):
        mu = keep * mu + (1 - keep) * model.visible_mean(model.hidden_probs(mu))
        if clamp is not None:
            mu = np.where(clamp, known_values, mu)
        if on_step and t in marks:
            on_step(t, _pixels(model, mu))
    images = _pixels(model, mu)
    return SampleResult(images=images, states=images.copy(), method="mf", steps=int(steps),
                        hidden=model.hidden_probs(mu),
                        mean=None if burn_in is None else images.astype(np.float64))


GRBM_SAMPLERS = {"gibbs": grbm_gibbs, "pt": grbm_parallel_tempering, "mf": grbm_mean_field}


# ----------------------------------------------------------------------------- DBN


def first_layer_input(model, X0, rng):
    """What the first layer of the DBN ``model`` sees for pixels ``X0`` (N, nv): standardised
    values (Gaussian) or 0/1 states (Bernoulli: X0 itself when binary, else a draw)."""
    return model.layers[0].visible_input(X0, rng)


def dbn_pixels(model, means):
    """Pixels in [0, 1] (N, nv) of the first layer's visible means (N, nv)."""
    return model.layers[0].visible_pixels(means)


def _dbn_sampler(method):
    def run(model, V0, steps, rng, clamp=None, replicas=10, on_step=None, burn_in=None):
        X0, clamp = _check(model, V0, steps, clamp, replicas if method == "pt" else None)
        _check_burn_in(burn_in, steps)
        if clamp is not None:
            if method != "gibbs":
                raise NotSupported(f"{method}: a dbn fills images by its up-down Gibbs scheme "
                                   "only; use gibbs", "method")
            return dbn_up_down(model, X0, steps, rng, clamp, on_step, burn_in)
        L = len(model.layers)
        start = model.sample_up(first_layer_input(model, X0, rng), rng, L - 1) if L > 1 \
            else X0

        def top_step(t, top_images):  # mean-field down: draws nothing from rng
            on_step(t, dbn_pixels(model, model.down(top_images, None, mean_field=True)))
        if method not in model.top.samplers:  # a top RBM with label units: gibbs only
            raise NotSupported(f"must be one of {', '.join(model.top.samplers)} for this "
                               "model (or give --label)", "method")
        res = model.top.samplers[method](model.top, start, steps, rng, replicas=replicas,
                                         on_step=top_step if on_step else None)
        if method == "mf":
            images = dbn_pixels(model, model.down(res.images, None, mean_field=True))
        else:
            images = dbn_pixels(model, model.down(res.states, rng))
        return SampleResult(images=images, states=images.copy(), method=method,
                            steps=int(steps), betas=res.betas,
                            swap_acceptance=res.swap_acceptance,
                            mean=None if burn_in is None else images.astype(np.float64))
    run.__name__ = f"dbn_{method}"
    run.__doc__ = f"DBN sampling with the top RBM's {method!r} sampler (module docstring)."
    return run


def dbn_up_down(model, X0, steps, rng, clamp, on_step=None, burn_in=None):
    """The clamped up-down scheme of the module docstring. ``X0`` (N, nv) pixels, ``clamp``
    (N, nv) bool (known); returns a :class:`SampleResult` whose images are the final means of
    ``p(v | h_1)`` in pixels, known pixels set to their value (and with ``burn_in``, ``mean``
    their average over the steps after it)."""
    first, top = model.layers[0], model.top
    L = len(model.layers)
    X = first_layer_input(model, X0, rng)
    known_values = X.copy()
    if on_step:
        on_step(0, X0.astype(model.dtype))
    marks = set(checkpoints(steps))
    running = _RunningMean(burn_in, X0.shape)
    means = None
    for t in range(1, int(steps) + 1):
        h = model.sample_up(X, rng, L - 1) if L > 1 else X
        h, _ = top.gibbs(h, 1, rng)
        means = model.down(h, rng)
        fresh = first.draw_visible(means, rng)
        X = np.where(clamp, known_values, fresh)
        if running.wants(t):
            running.add(dbn_pixels(model, means))
        if on_step and t in marks:
            on_step(t, np.where(clamp, X0, dbn_pixels(model, means)).astype(model.dtype))
    images = np.where(clamp, X0, dbn_pixels(model, means) if means is not None else X0)
    images = images.astype(model.dtype)
    return SampleResult(images=images, states=images.copy(), method="gibbs", steps=int(steps),
                        mean=running.result(X0, clamp))


DBN_SAMPLERS = {name: _dbn_sampler(name) for name in ("gibbs", "pt", "mf")}
