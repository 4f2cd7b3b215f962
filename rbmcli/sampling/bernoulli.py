"""Samplers of a Bernoulli RBM behind one signature: Gibbs, parallel tempering, mean-field.

Every sampler is called the same way, so a command picks one by name from
:data:`SAMPLERS`::

    result = SAMPLERS[name](model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
                            burn_in=None)

* ``model``: a :class:`rbmcli.models.rbm.BernoulliRBM` (only its public methods are used).
* ``V0``: (N, nv) start of N chains: uint8 0/1 states, or floats in [0, 1] (Gibbs and
  PT draw a Bernoulli state from them; mean-field starts from them as they are).
* ``steps``: sweeps (Gibbs, PT: one sweep of every replica) or fixed-point iterations
  (mean-field).
* ``rng``: a ``numpy.random.Generator``; the same seed gives the same result.
* ``clamp``: (N, nv) or (nv,) mask, non-zero where a unit is *known*: it keeps its
  value from ``V0`` for the whole run (inpainting), so the chains sample the
  conditional ``P(v_unknown | v_known)``.
* ``replicas``: PT only, the number of temperatures M per chain.
* ``burn_in``: when given (0 <= burn_in < steps), ``result.mean`` is the Rao-Blackwellised
  estimate of each chain's mean ``E[v]``: the average of ``E[v | h_t] = P(v = 1 | h_t)``
  over the sweeps ``t = burn_in + 1 .. steps`` (for inpainting, the posterior mean of
  the unknown pixels, the completion with the least expected squared error).
* ``on_step(t, images)``: called with ``t = 0`` and then about :data:`FRAMES` times (the
  last call at ``t = steps``) with the current (N, nv) images; for GIFs and progress
  bars. Recording never changes the result.

and returns a :class:`SampleResult`.

What the ``images`` are: for Gibbs and PT, the probabilities ``P(v = 1 | h)`` of the
final hidden states ``h`` (the mean of the next visible sample: grey where the model
is unsure, nicer to look at than binary states); the binary states themselves are
kept in ``states``. For mean-field, the fixed point ``mu`` itself. Known (clamped)
units show their known value in both.
"""

import math
from dataclasses import dataclass

import numpy as np

from rbmcli.sampling.keys import draw_keys
from rbmcli.pixels import binarize_stochastic, binarize_threshold
from rbmcli.kernels.rbm.tempering import pt_swap_pass

FRAMES = 60
"""About how many times ``on_step`` is called in a run (frames of a GIF)."""

DAMPING = 0.5
"""Mean-field damping: ``mu <- DAMPING * mu + (1 - DAMPING) * sigma(b + W lambda)``."""

DEFAULT_STEPS = {"gibbs": 1000, "pt": 1000, "mf": 200}


@dataclass
class SampleResult:
    """What a sampler returns.

    Attributes
    ----------
    images : (N, nv) float in [0, 1], the model's dtype
        Gibbs/PT: ``P(v | h)`` of the final hidden states; mean-field: the fixed point.
        Known units hold their known value.
    states : (N, nv) uint8
        Gibbs/PT: the final binary visible states; mean-field: ``images >= 0.5``.
    method : str
        ``"gibbs"``, ``"pt"`` or ``"mf"``.
    steps : int
    betas : (M,) float or None
        PT: the inverse temperatures, ``betas[0] = 1``.
    swap_acceptance : (M - 1,) float64 or None
        PT: accepted / attempted swaps of each neighbouring pair ``(k, k + 1)`` (NaN for
        a pair never tried, which happens only when ``steps < 2``).
    hidden : (N, nh) float or None
        Mean-field: the hidden fixed point ``lambda = sigma(c + W^T mu)``.
    mean : (N, nv) float64 or None
        With ``burn_in``: Gibbs/PT the average of ``P(v | h_t)`` over the sweeps after
        ``burn_in`` (known units hold their value); mean-field: ``images``.
    labels : (N,) int64 or None
        Class-conditional sampling: the class each image was drawn from.
    """

    images: np.ndarray
    states: np.ndarray
    method: str
    steps: int
    betas: np.ndarray = None
    swap_acceptance: np.ndarray = None
    hidden: np.ndarray = None
    mean: np.ndarray = None
    attrs: dict = None
    label: str = None
    labels: np.ndarray = None


# ----------------------------------------------------------------------------- inputs


def noise(n, n_visible, rng):
    """White noise: (n, n_visible) uint8 with every unit Bernoulli(0.5)."""
    return (rng.random((n, n_visible)) < 0.5).astype(np.uint8)


def binarize_like(x01, binarization, rng):
    """Binary (N, D) uint8 states from grey pixels in [0, 1] the way the model was
    trained: ``"threshold"`` (pixel >= 0.5) or ``"stochastic"`` (Bernoulli(pixel))."""
    if binarization == "none":  # Gaussian models: grey levels as they are
        return np.asarray(x01, np.float32)
    if binarization == "stochastic":
        return binarize_stochastic(x01, rng)
    return binarize_threshold(x01)


def _check(model, V0, steps, clamp, replicas=None):
    """Checked copies: V0 (N, nv) uint8 or float64, clamp (N, nv) bool or None."""
    V0 = np.asarray(V0)
    if V0.ndim != 2 or V0.shape[1] != model.n_visible or V0.shape[0] == 0:
        raise ValueError(f"expected V0 of shape (N>0, {model.n_visible}), found {V0.shape}")
    if V0.dtype.kind == "f":
        if not (np.isfinite(V0).all() and V0.min() >= 0 and V0.max() <= 1):
            raise ValueError("float V0 must lie in [0, 1]")
        V0 = V0.astype(np.float64)
    elif V0.dtype == np.bool_ or V0.dtype.kind in "iu":
        if not np.isin(V0, (0, 1)).all():
            raise ValueError("integer V0 must hold 0/1 states")
        V0 = V0.astype(np.uint8)
    else:
        raise ValueError(f"V0 must be uint8 0/1 or float in [0, 1], found {V0.dtype}")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, found {steps!r}")
    if replicas is not None and (int(replicas) != replicas or replicas < 2):
        raise ValueError(f"parallel tempering needs replicas >= 2, found {replicas!r}")
    if clamp is not None:
        clamp = np.asarray(clamp)
        try:
            clamp = np.broadcast_to(clamp, V0.shape)
        except ValueError:
            raise ValueError(f"clamp of shape {clamp.shape} does not fit V0 {V0.shape}") \
                from None
        clamp = np.ascontiguousarray(clamp != 0)
        if not clamp.any():
            clamp = None
    return V0, clamp


def _as_states(V0, rng):
    """Binary uint8 states: V0 itself when binary, else a Bernoulli draw from it."""
    if V0.dtype == np.uint8:
        return np.ascontiguousarray(V0)
    return (rng.random(V0.shape) < V0).astype(np.uint8)


def _check_burn_in(burn_in, steps):
    if burn_in is not None and (int(burn_in) != burn_in or not 0 <= burn_in < steps):
        raise ValueError(f"burn_in must be an integer in [0, steps={steps}), found {burn_in!r}")


class _RunningMean:
    """Running sum of ``P(v | h_t)`` over the sweeps after ``burn_in`` (or nothing when
    ``burn_in`` is None)."""

    def __init__(self, burn_in, shape):
        self.burn_in = burn_in
        self.total = None if burn_in is None else np.zeros(shape, np.float64)
        self.count = 0

    def wants(self, t):
        return self.burn_in is not None and t > self.burn_in

    def add(self, probs):
        self.total += probs
        self.count += 1

    def result(self, V, clamp):
        if self.total is None:
            return None
        return _with_known(self.total / self.count, V, clamp)


def sweep_stops(steps, burn_in):
    """Where a chunked Gibbs run stops: the :func:`checkpoints`, and every sweep after
    ``burn_in`` (when it is given, for the running mean). Returns (stops, checkpoints)."""
    marks = set(checkpoints(steps))
    extra = set(range(burn_in + 1, steps + 1)) if burn_in is not None else set()
    return sorted(marks | extra), marks


def checkpoints(steps):
    """The steps after which ``on_step`` is called: every ``ceil(steps / FRAMES)``,
    and always ``steps`` itself (empty for ``steps == 0``)."""
    every = max(1, math.ceil(steps / FRAMES))
    ends = list(range(every, steps + 1, every))
    if steps > 0 and ends[-1] != steps:
        ends.append(steps)
    return ends


def _frame_rng(rng):
    """A second generator for the random draws that only pictures need, so that
    recording frames leaves the chains' random stream untouched."""
    return np.random.default_rng(rng.integers(0, 2**63))


# ------------------------------------------------------------------------------ Gibbs


def gibbs(model, V0, steps, rng, clamp=None, replicas=10, on_step=None, burn_in=None):
    """Block Gibbs sampling: ``steps`` sweeps ``h ~ P(h|v)``, ``v ~ P(v|h)`` of N chains.

    Runs :meth:`BernoulliRBM.gibbs` in chunks (see :func:`checkpoints`; with
    ``burn_in``, one sweep at a time after it); clamped units never change.
    ``replicas`` is ignored. The returned ``images`` are ``P(v | h)`` for one more
    ``h ~ P(h | v_final)`` (clamped units: their value). With ``burn_in``, ``mean``
    averages ``P(v | h)`` for ``h ~ P(h | v_t)`` over the sweeps after it (those ``h``
    come from a separate random stream and never feed back into the chains).
    """
    V0, clamp = _check(model, V0, steps, clamp)
    _check_burn_in(burn_in, steps)
    V = _as_states(V0, rng)
    if on_step:
        on_step(0, V.astype(model.dtype))
    V, images, running = chunked_gibbs(
        model, V, steps, rng, clamp, burn_in, on_step,
        images_of_hidden=model.visible_probs,
        images_of_visible=lambda V, r: _gibbs_images(model, V, clamp, r))
    return SampleResult(images=images, states=V, method="gibbs", steps=int(steps),
                        mean=running.result(V, clamp))


def chunked_gibbs(model, V, steps, rng, clamp, burn_in, on_step, images_of_hidden,
                  images_of_visible):
    """The Gibbs loop of the binary and Gaussian samplers: ``model.gibbs`` run to each
    stop of :func:`sweep_stops`, the running mean fed after ``burn_in``, and ``on_step``
    called at the checkpoints.

    ``images_of_hidden(H)`` turns hidden states (N, nh) into the images averaged by the
    running mean; ``images_of_visible(V, rng)`` turns visible states into the images
    shown, drawing what it needs from ``rng`` (a separate stream for the frames, the
    chains' own for the final images). Returns (final V, final images, the running mean).
    """
    aux = _frame_rng(rng)
    running = _RunningMean(burn_in, V.shape)
    stops, marks = sweep_stops(steps, burn_in)
    done = 0
    for end in stops:
        V, HP = model.gibbs(V, end - done, rng, clamp=clamp)
        done = end
        if running.wants(end):
            running.add(images_of_hidden((aux.random(HP.shape) < HP).astype(np.uint8)))
        if on_step and end in marks and end != steps:
            on_step(end, images_of_visible(V, aux))
    images = images_of_visible(V, rng)
    if on_step and marks:
        on_step(steps, images)
    return V, images, running


def _gibbs_images(model, V, clamp, rng):
    """``P(v | h)`` for ``h ~ P(h | V)``, known units set to their value."""
    _, H = model.sample_hidden(V, rng)
    return _with_known(model.visible_probs(H), V, clamp)


def _with_known(images, V, clamp):
    if clamp is not None:
        images = np.where(clamp, V.astype(images.dtype), images)
    return images


# ----------------------------------------------------------------- parallel tempering


def ladder(replicas, dtype=np.float64):
    """Inverse temperatures of PT: ``replicas`` values linearly spaced from 1 to 0."""
    return np.linspace(1.0, 0.0, replicas).astype(dtype)


def parallel_tempering(model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
                       burn_in=None):
    """Parallel tempering: every chain has ``replicas`` = M copies at inverse
    temperatures :func:`ladder` (1 -> 0), stored temperature-major as in
    :mod:`rbmcli.training.rbm` (replica ``k * N + i`` is chain i at ``betas[k]``).

    Each step is one Gibbs sweep of every replica (:meth:`BernoulliRBM.tempering_sweep`)
    followed by one pass of swaps between neighbours ``(k, k + 1)`` with ``k`` of
    alternating parity (:func:`rbmcli.kernels.rbm.tempering.pt_swap_pass`). The result is read
    from the beta = 1 replicas; with ``burn_in``, ``mean`` averages ``P(v | h)`` of
    their hidden states after each step past it.

    Clamping: known units are fixed in every replica, so every tempered distribution is
    the conditional ``P_beta(v_unknown, h | v_known)`` and swaps keep it invariant. A
    clamped sweep is ``v ~ P_beta(v | h)``, reset the known units, then
    ``h ~ P_beta(h | v)``: ``h`` must see the reset ``v``. (Resetting after a full
    sweep would not do: :meth:`~BernoulliRBM.tempering_sweep` draws ``h`` from the
    unreset ``v``, and the chain of ``h`` would ignore the known pixels entirely.)
    """
    V0, clamp = _check(model, V0, steps, clamp, replicas)
    _check_burn_in(burn_in, steps)
    n = V0.shape[0]
    running = _RunningMean(burn_in, V0.shape)
    betas = ladder(int(replicas), model.dtype)
    beta_r = np.repeat(betas, n)
    V = np.ascontiguousarray(np.tile(_as_states(V0, rng), (len(betas), 1)))
    known = None if clamp is None else np.tile(clamp, (len(betas), 1))
    known_values = None if clamp is None else V.copy()
    _, H = model.sample_hidden(V, rng, beta=beta_r)
    H = np.ascontiguousarray(H)
    accepted = np.zeros(len(betas) - 1, np.int64)
    attempted = np.zeros(len(betas) - 1, np.int64)
    if on_step:
        on_step(0, V[:n].astype(model.dtype))
    marks = set(checkpoints(steps))
    for t in range(1, int(steps) + 1):
        if known is None:
            E, _ = model.tempering_sweep(V, H, beta_r, rng)
        else:
            E = _clamped_sweep(model, V, H, beta_r, known, known_values, rng)
        pt_swap_pass(V, H, E, betas, n, draw_keys(rng, 1)[0], (t - 1) % 2,
                     accepted, attempted)
        if running.wants(t):
            running.add(model.visible_probs(H[:n]))
        if on_step and t in marks:
            on_step(t, _with_known(model.visible_probs(H[:n]), V[:n], clamp))
    images = _with_known(model.visible_probs(H[:n]), V[:n], clamp)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(attempted > 0, accepted / np.maximum(attempted, 1), np.nan)
    return SampleResult(images=images, states=V[:n].copy(), method="pt", steps=int(steps),
                        betas=betas, swap_acceptance=rates,
                        mean=running.result(V[:n], clamp))


def _clamped_sweep(model, V, H, beta_r, known, known_values, rng):
    """``v ~ P_beta(v|h)``, known units reset, ``h ~ P_beta(h|v)``, in place; returns
    the energies E(v, h) (R,) float64 of the new states."""
    _, Vn = model.sample_visible(H, rng, beta=beta_r)
    np.copyto(Vn, known_values, where=known)
    _, Hn = model.sample_hidden(Vn, rng, beta=beta_r)
    V[...] = Vn
    H[...] = Hn
    return np.ascontiguousarray(model.energy(V, H), np.float64)


# -------------------------------------------------------------------------- mean-field


def mean_field(model, V0, steps, rng, clamp=None, replicas=10, on_step=None,
               burn_in=None, damping=DAMPING):
    """Damped mean-field fixed point of the visible and hidden marginals.

    Iterates ``lambda = sigma(c + W^T mu)``, ``mu <- damping * mu + (1 - damping) *
    sigma(b + W lambda)`` ``steps`` times from ``mu = V0`` (known units stay at their
    value in ``V0``). At convergence ``mu = sigma(b + W sigma(c + W^T mu))`` on the
    unknown units (damping does not move the fixed points). Deterministic: ``rng`` and
    ``replicas`` are unused. ``images`` is ``mu``, ``hidden`` is ``lambda`` of it; with
    ``burn_in``, ``mean`` is ``mu`` too (the fixed point is already a mean).
    """
    V0, clamp = _check(model, V0, steps, clamp)
    _check_burn_in(burn_in, steps)
    mu = np.array(V0, dtype=model.dtype)
    known_values = mu.copy()
    if on_step:
        on_step(0, mu.copy())
    marks = set(checkpoints(steps))
    keep = model.dtype.type(damping)
    for t in range(1, int(steps) + 1):
        lam = model.hidden_probs(mu)
        mu = keep * mu + (1 - keep) * model.visible_probs(lam)
        if clamp is not None:
            np.copyto(mu, known_values, where=clamp)
        if on_step and t in marks:
            on_step(t, mu.copy())
    mu = np.clip(mu, 0, 1)
    return SampleResult(images=mu, states=(mu >= 0.5).astype(np.uint8), method="mf",
                        steps=int(steps), hidden=model.hidden_probs(mu),
                        mean=None if burn_in is None else mu.astype(np.float64))


SAMPLERS = {"gibbs": gibbs, "pt": parallel_tempering, "mf": mean_field}
"""Sampler by name; every one has the signature described in the module docstring."""
