"""Training a Gaussian-Bernoulli RBM (:mod:`rbmcli.models.grbm`) by CD-k, PCD-k or parallel tempering.

Same interface as :class:`rbmcli.training.rbm.Trainer` (``run_epoch``, ``evaluate``, ``snapshot``,
``restore``, ``state``, ``rng``), so :class:`rbmcli.training.run.TrainingRun` checkpoints,
resumes and logs it unchanged. The gradient of the log-likelihood, with ``x = v / sigma``
and ``HP = P(h | v)`` (the energy is linear in ``h``, so ``h`` is replaced by its
conditional mean on both sides)::

    dW = <x^T HP>+ - <x^T HP>-
    db = <(v - b) / sigma^2>+ - <...>-
    dc = <HP>+ - <HP>-
    dz = <(v - b)^2 / sigma^2 - x * (HP W^T)>+ - <...>-        (z = log sigma)

GRBMs are unstable at learning rates that suit binary RBMs; the remedies used here are:
a separate, smaller learning rate for ``z`` (``sigma_lr`` times the epoch's learning rate,
which follows the ``lr_final`` and ``momentum_warmup`` schedule), every gradient
entry clipped to ``[-grad_clip, grad_clip]``, and ``z`` clipped to
[:data:`rbmcli.models.grbm.LOG_SIGMA_MIN`, :data:`rbmcli.models.grbm.LOG_SIGMA_MAX`] after each update.
``z`` starts at ``log(sigma_init)`` (default 1, the data's own std); with
``sigma = "fixed"`` it stays there. A fixed sigma below 1 makes the model's visible noise
smaller than the data's variance, so the hidden units must explain it (Hinton's practical
guide: unit-variance Gaussian visible units make learning hard).

Negative statistics: CD-k runs k Gibbs sweeps from the batch (or, with ``cd_from =
"noise"``, from white noise, the start of ``rbm sample``); PCD-k keeps persistent
chains; PT keeps ``steps`` replicas per chain at inverse temperatures linearly spaced from 1
to 0 on the tempered path of :mod:`rbmcli.models.grbm` and swaps neighbours with
:func:`rbmcli.kernels.rbm.tempering.pt_swap_pass`, given the interaction energies (the tempered part).
"""

from dataclasses import dataclass

import numpy as np

from rbmcli.models.grbm import GaussianRBM, Standardizer
from rbmcli.sampling.keys import draw_keys
from rbmcli.training.batches import MemoryRows, pixel_moments
from rbmcli.training.rbm import Trainer, TrainOptions
from rbmcli.pixels import as_unit_float
from rbmcli.sampling.bernoulli import noise
from rbmcli.kernels.rbm.tempering import pt_swap_pass

SIGMA_MODES = ("learn", "fixed")


@dataclass
class GaussianTrainOptions(TrainOptions):
    """:class:`rbmcli.training.rbm.TrainOptions` plus the GRBM's own (stored as JSON)."""

    model: str = "grbm"
    lr: float = 0.005
    sigma: str = "learn"      # "learn" or "fixed" (at sigma_init)
    sigma_init: float = 1.0   # initial sigma of every pixel (standardised units)
    sigma_lr: float = 0.1     # learning rate of log sigma, as a fraction of lr
    grad_clip: float = 1.0    # every gradient entry is clipped to [-grad_clip, grad_clip]
    binarize: str = "none"


class StandardizedData(MemoryRows):
    """Training images standardised once: ``rows(index, rng)`` (len(index), nv)."""

    def __init__(self, images, standardizer, dtype):
        self.standardizer = standardizer
        self.images = standardizer.forward(as_unit_float(images, np.float64), dtype)

    def rows(self, index, rng):
        return self.images[index]

    def mean(self):
        """(D,) float64 mean training image in pixels (the standardisation mean)."""
        return np.asarray(self.standardizer.mean, np.float64)


def new_grbm(options, images, block_rows=None):
    """A fresh GRBM for ``options`` whose standardisation is fitted to ``images`` (N, nv):
    an array, or with ``block_rows`` an :class:`rbmcli.io.datasets.ImageFile` read that
    many rows at a time (:func:`rbmcli.training.batches.pixel_moments`)."""
    rng = np.random.default_rng(options.seed)
    std = Standardizer.fit(as_unit_float(images, np.float64)) if block_rows is None else \
        Standardizer.floored(*pixel_moments(images, block_rows))
    return GaussianRBM.initialize(images.shape[1], options.n_hidden, rng,
                                  np.dtype(options.dtype).type, std, sigma=options.sigma_init)


class GaussianTrainer(Trainer):
    """Runs GRBM training epochs (see the module docstring): :class:`rbmcli.training.rbm.Trainer`
    with the GRBM's update, snapshot and evaluation (``run_epoch`` is inherited).

    Parameters
    ----------
    model : GaussianRBM
    options : GaussianTrainOptions
    train, valid : StandardizedData (valid may be None)
    rng : numpy.random.Generator
    state : dict, optional
        Buffers from a checkpoint (momentum, chains).
    """

    def __init__(self, model, options, train, valid, rng, state=None):
        super().__init__(model, options, train, valid, rng, state)
        self.state.setdefault("velocity_log_sigma", np.zeros_like(model.log_sigma))

    def _replica_betas(self):
        betas = np.linspace(1.0, 0.0, max(self.options.steps, 2))
        return np.repeat(betas, self.options.n_chains)

    # ------------------------------------------------------------------ one epoch
    def snapshot(self):
        """A copy of everything an epoch changes: the parameters in the order weights,
        visible_bias, hidden_bias, log_sigma, the buffers and the RNG state."""
        snap = super().snapshot()
        return ([*snap[0], self.model.log_sigma.copy()],) + snap[1:]

    def restore(self, snap):
        """Return to a :meth:`snapshot`."""
        np.copyto(self.model.log_sigma, snap[0][3])
        super().restore(snap)

    def negative_phase(self, v_pos):
        """Negative visible states (B-, nv) for the data batch ``v_pos``."""
        m, opts, st = self.model, self.options, self.state
        if opts.method == "cd":
            if opts.cd_from == "noise":
                pixels = noise(len(v_pos), m.n_visible, self.rng).astype(np.float64)
                v_pos = m.standardizer.forward(pixels, m.dtype)
            v_neg, _ = m.gibbs(v_pos, opts.steps, self.rng)
            return v_neg
        if opts.method == "pcd":
            st["chains"], _ = m.gibbs(st["chains"], opts.steps, self.rng)
            return st["chains"]
        return self._tempering_step()

    def _tempering_step(self):
        """One sweep of every replica and a swap pass; returns the beta = 1 replicas."""
        m, st = self.model, self.state
        V, H, E = m.tempering_sweep(st["replica_hidden"], self._replica_betas(), self.rng)
        parity = int(st["swap_parity"])
        pt_swap_pass(V, H, E, self.betas, self.options.n_chains, draw_keys(self.rng, 1)[0],
                     parity, self._swaps[0], self._swaps[1])
        st["swap_parity"] = np.asarray(parity ^ 1, np.int64)
        st["replica_visible"], st["replica_hidden"] = V, H
        return V[:self.options.n_chains]

    def update(self, v_pos):
        """One parameter update from the standardised batch ``v_pos`` (B, nv)."""
        m, opts, st = self.model, self.options, self.state
        v_neg = self.negative_phase(v_pos)
        grads = self.gradients(v_pos, v_neg)
        dt = m.dtype.type
        lrs = {"log_sigma": dt(self.lr * opts.sigma_lr)}  # self.lr: this epoch's schedule
        for name, param in m.parameters().items():
            if name == "log_sigma" and opts.sigma == "fixed":
                continue
            vel = st[f"velocity_{name}"]
            g = np.clip(grads[name], -opts.grad_clip, opts.grad_clip).astype(m.dtype)
            vel *= dt(self.momentum)
            vel += lrs.get(name, dt(self.lr)) * g
            param += vel
        m.clip_log_sigma()

    def gradients(self, v_pos, v_neg):
        """The log-likelihood gradient estimate (dict name -> array like the parameter)."""
        m, opts = self.model, self.options
        sigma = m.sigma

        def stats(V):
            V = np.asarray(V, m.dtype)
            HP = m.hidden_probs(V)
            X = V / sigma
            D = (V - m.visible_bias) / sigma
            return {"weights": X.T @ HP / len(V),
                    "visible_bias": (D / sigma).mean(axis=0),
                    "hidden_bias": HP.mean(axis=0),
                    "log_sigma": (D * D - X * (HP @ m.weights.T)).mean(axis=0)}

        pos, neg = stats(v_pos), stats(v_neg)
        grads = {k: pos[k] - neg[k] for k in pos}
        grads["weights"] -= opts.l2 * m.weights + opts.l1 * np.sign(m.weights)
        return grads

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, seconds):
        """MSER (standardised units) on a training sample and the validation data, the
        free-energy gap, mean sigma, and PT swap rates."""
        m = self.model
        eval_rng = np.random.default_rng([self.options.seed, 11])
        out = {"seconds": seconds, "lr": self.lr, "momentum": self.momentum,
               "mser_train": float(m.reconstruction_error(self.eval_train, eval_rng).mean()),
               "mser_valid": np.nan, "free_energy_gap": np.nan,
               "sigma_mean": float(m.sigma.mean())}
        if self.eval_valid is not None:
            out["mser_valid"] = float(m.reconstruction_error(self.eval_valid, eval_rng).mean())
            out["free_energy_gap"] = float(m.free_energy(self.eval_valid).mean()
                                           - m.free_energy(self.eval_train).mean())
        if self.betas is not None and hasattr(self, "_swaps"):  # set by run_epoch
            accepted, attempted = self._swaps
            out["swap_acceptance"] = accepted / np.maximum(attempted, 1)
        return out
