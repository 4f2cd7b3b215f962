"""Maximum-likelihood training of a Bernoulli RBM by CD-k, PCD-k or parallel tempering.

One :class:`Trainer` runs epochs of mini-batch updates. Each update takes positive
statistics from a data batch and negative statistics from

* ``cd``:  k Gibbs sweeps started at the data batch (Hinton 2002);
* ``pcd``: k Gibbs sweeps of persistent chains (Tieleman 2008);
* ``pt``:  one sweep of persistent chains at each of M inverse temperatures
  ``1 = beta_0 > ... > beta_{M-1} = 0`` followed by swaps of neighbours; the
  statistics come from the beta = 1 replicas (Cho, Raiko & Ilin 2010).

and applies them through :func:`rbmcli.kernels.rbm.gradients.apply_update` with momentum and
the Gaussian (L2) or Laplace (L1) prior on the weights, optionally as the centered
gradient (offsets: the data mean and a running mean of ``P(h | v+)``).
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from rbmcli import compiling
from rbmcli.models.aligned import aligned, aligned_zeros_like
from rbmcli.pixels import binarize_threshold
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.sampling.keys import draw_keys
from rbmcli.training.batches import MemoryRows
from rbmcli.kernels.rbm.binarize import bernoulli_rows
from rbmcli.kernels.rbm.gibbs import gibbs_sweeps
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.sampling.bernoulli import noise
from rbmcli.kernels.rbm.tempering import pt_swap_pass

METHODS = ("cd", "pcd", "pt")
CENTERING_SLIDE = 0.01
"""How far the hidden offset of the centered gradient moves towards each batch's mean."""
BINARIZATIONS = ("threshold", "stochastic")


@dataclass
class TrainOptions:
    """Training hyperparameters (stored as JSON in the model file)."""

    n_hidden: int = 500
    method: str = "cd"
    steps: int = 1          # Gibbs sweeps per update (cd, pcd) or temperatures (pt)
    epochs: int = 10
    batch_size: int = 100
    lr: float = 0.05
    momentum: float = 0.5
    lr_final: float = None  # None: constant; else linear from lr (epoch 1) to this (last)
    momentum_warmup: int = 0  # epochs at momentum min(0.5, momentum) before `momentum`
    l2: float = 0.0
    l1: float = 0.0
    seed: int = 0
    dtype: str = "float32"
    binarize: str = "threshold"
    chains: int = 0         # persistent chains for pcd/pt; 0 means the batch size
    centering: bool = False  # centered gradient (offsets: data mean, running mean of P(h|v+))
    cd_from: str = "data"   # where CD-K chains start each update: "data" or "noise"
    labels: bool = False    # label units (a class RBM, rbmcli.training.labels)

    def to_dict(self):
        """The options as JSON-ready values; ``labels`` only when set (files of models
        without label units stay as they were)."""
        options = asdict(self)
        if not options.get("labels"):
            options.pop("labels", None)
        return options

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def n_chains(self):
        return self.chains or self.batch_size

    def schedule(self, epoch):
        """(learning rate, momentum) for the 0-based ``epoch``.

        The learning rate goes linearly from ``lr`` in the first epoch to ``lr_final``
        in the last (constant when ``lr_final`` is None); momentum is
        ``min(0.5, momentum)`` for the first ``momentum_warmup`` epochs, then
        ``momentum`` (Hinton's practical guide, section 9).
        """
        lr = self.lr
        if self.lr_final is not None and self.epochs > 1:
            lr += (self.lr_final - self.lr) * min(epoch, self.epochs - 1) / (self.epochs - 1)
        momentum = min(0.5, self.momentum) if epoch < self.momentum_warmup else self.momentum
        return lr, momentum


class Binarizer(MemoryRows):
    """Turns grey pixels (N, D) (uint8 or float in [0, 1]) into binary rows.

    ``threshold`` binarises once (pixel >= 0.5); ``stochastic`` draws each pixel as a
    Bernoulli of its intensity afresh every time a row is used.
    """

    def __init__(self, images, method):
        self.method = method
        self.images = np.ascontiguousarray(images)
        self.scale = 1.0 / 255.0 if self.images.dtype == np.uint8 else 1.0
        self._fixed = binarize_threshold(self.images) if method == "threshold" else None

    def rows(self, index, rng):
        """Binary rows (len(index), D) uint8 of the images at ``index``."""
        if self._fixed is not None:
            return self._fixed[index]
        x = np.ascontiguousarray(self.images[index])
        out = np.empty(x.shape, np.uint8)
        bernoulli_rows(x, x.dtype.type(self.scale) if x.dtype.kind == "f" else self.scale,
                       draw_keys(rng, x.shape[0]), out)
        return out

    def mean(self):
        """Per-pixel probability of a 1 (D,) float64."""
        if self._fixed is not None:
            return self._fixed.mean(axis=0)
        return self.images.mean(axis=0, dtype=np.float64) * self.scale


class TrainingDiverged(Exception):
    """Raised when the parameters become NaN or infinite."""


class Trainer:
    """Runs training epochs on a model, keeping the state needed to resume.

    Parameters
    ----------
    model : BernoulliRBM
    options : TrainOptions
    train : Binarizer or rbmcli.training.batches.StreamedRows
        Training images (their ``batches`` give each epoch's).
    valid : Binarizer or None
        Validation images, for the per-epoch MSER and free-energy gap.
    rng : numpy.random.Generator
    state : dict, optional
        Buffers from a checkpoint (momentum, chains); new ones are made when absent.
    """

    def __init__(self, model, options, train, valid, rng, state=None):
        self.model = model
        self.options = options
        self.train = train
        self.valid = valid
        self.rng = rng
        self.lr, self.momentum = options.schedule(0)  # run_epoch sets them per epoch
        self._constants_key = self._constants_cache = None  # see _constants
        dtype = model.dtype
        self.state = dict(state or {})
        st = self.state
        for name, like in (("velocity_weights", model.weights),
                           ("velocity_visible_bias", model.visible_bias),
                           ("velocity_hidden_bias", model.hidden_bias)):
            st[name] = aligned(st[name]) if name in st else aligned_zeros_like(like)
        n_chains = options.n_chains
        if options.method == "pcd" and "chains" not in st:
            st["chains"] = train.rows(rng.integers(0, len(train), n_chains), rng)
        if options.method == "pt" and "replica_visible" not in st:
            v = train.rows(rng.integers(0, len(train), n_chains), rng)
            st["replica_visible"] = np.ascontiguousarray(np.tile(v, (options.steps, 1)))
            _, st["replica_hidden"] = model.sample_hidden(st["replica_visible"], rng)
        self.betas = np.linspace(1.0, 0.0, max(options.steps, 2)).astype(dtype) \
            if options.method == "pt" else None
        # A fixed evaluation sample: the same binary rows every epoch, so curves are smooth.
        eval_rng = np.random.default_rng([options.seed, 7])
        n_eval = min(len(train), 1000)
        self.eval_index = np.sort(eval_rng.choice(len(train), n_eval, replace=False))
        self.eval_train = train.rows(self.eval_index, eval_rng)
        self.eval_valid = valid.rows(np.arange(len(valid)), eval_rng) if valid else None
        st.setdefault("swap_parity", np.zeros((), np.int64))
        if options.centering:
            st.setdefault("offset_visible", train.mean().astype(dtype))
            st.setdefault("offset_hidden", np.full(model.n_hidden, 0.5, dtype))
        self._first_update = True

    # ------------------------------------------------------------------ one epoch
    def snapshot(self):
        """A copy of everything an epoch changes (parameters, buffers, RNG state)."""
        m = self.model
        return ([m.weights.copy(), m.visible_bias.copy(), m.hidden_bias.copy()],
                {k: np.copy(v) for k, v in self.state.items()},
                self.rng.bit_generator.state)

    def restore(self, snap):
        """Return to a :meth:`snapshot` (used when an epoch is interrupted)."""
        params, state, rng_state = snap
        m = self.model
        m.weights = params[0]  # also rewrites the tiled transpose
        for dst, src in zip((m.visible_bias, m.hidden_bias), params[1:]):
            np.copyto(dst, src)
        for k, v in state.items():
            if np.ndim(self.state[k]) == 0:
                self.state[k] = v
            else:
                np.copyto(self.state[k], v)
        self.rng.bit_generator.state = rng_state

    def run_epoch(self, epoch=0, on_batch=None):
        """One pass over the training data in random order (the batches of
        ``train.batches``), the 0-based ``epoch`` of the run (for the learning-rate and
        momentum schedule, and the chunk order of streamed data).

        ``on_batch(done, total)`` is called after each batch (progress bars).
        Returns the epoch's metrics (dict).
        """
        opts = self.options
        self.lr, self.momentum = opts.schedule(epoch)
        with compiling.watch() as clock:
            start = time.perf_counter()
            n_batches = -(-len(self.train) // opts.batch_size)
            self._swaps = np.zeros((2, max(len(self.betas) - 1, 0)
                                    if self.betas is not None else 0), np.int64)
            batches = self.train.batches(self.rng, opts.batch_size, epoch)
            for k, batch in enumerate(batches):
                self.update(*batch)
                if on_batch:
                    on_batch(k + 1, n_batches)
            # The epoch's time without Numba compiling kernels (the first batch of a new
            # install, about a minute): the log line and the history's "seconds" say how
            # long training took, not how long the first run compiled.
            seconds = time.perf_counter() - start - clock.seconds
        if not self.model.is_finite():
            raise TrainingDiverged("weights or biases became NaN or infinite")
        return self.evaluate(seconds)

    def update(self, v_pos):
        """One parameter update from the binary data batch ``v_pos`` (B, nv) uint8.

        The per-batch Python is kept short (constant arguments come from
        :meth:`_constants`): while it runs, the second core waits."""
        m, opts, st = self.model, self.options, self.state
        k = self._constants(v_pos.shape[0])
        compiling_update = None
        if self._first_update:  # a new install: the update compiles in a second process
            self._first_update = False  # while this one compiles the sampling kernels
            compiling_update = compiling.compile_alongside(apply_update, self._update_arguments(
                v_pos, k["hp_pos"], v_pos, k["hp_neg"], k["scalars"], k["no_offsets"]))
        if opts.method == "cd":
            from_noise = opts.cd_from == "noise"
            if from_noise:
                v_neg = noise(len(v_pos), m.n_visible, self.rng)
                hp_pos = m.hidden_probs(v_pos)
            else:
                v_neg = v_pos.copy()
                hp_pos = k["hp_pos"]
            hp_neg = k["hp_neg"]
            gibbs_sweeps(v_neg, m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias,
                         k["betas"], draw_keys(self.rng, len(v_neg)), opts.steps,
                         k["no_clamp"], k["no_probs"] if from_noise else hp_pos, hp_neg)
        else:
            hp_pos = m.hidden_probs(v_pos)
            if opts.method == "pcd":
                v_neg = st["chains"]
                hp_neg = k["hp_neg"]
                gibbs_sweeps(v_neg, m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias,
                             k["betas"], draw_keys(self.rng, len(v_neg)), opts.steps,
                             k["no_clamp"], k["no_probs"], hp_neg)
            else:
                v_neg, hp_neg = self._tempering_step()
        if compiling_update is not None:
            compiling_update.wait()
        apply_update(*self._update_arguments(v_pos, hp_pos, v_neg, hp_neg, k["scalars"],
                                             self._offsets(hp_pos, k["no_offsets"])))

    def _update_arguments(self, v_pos, hp_pos, v_neg, hp_neg, scalars, offsets):
        """The arguments of :func:`rbmcli.kernels.rbm.gradients.apply_update` for one batch:
        data ``v_pos`` (B+, nv) uint8 and ``hp_pos`` (B+, nh), negative samples ``v_neg``
        (B-, nv) uint8 and ``hp_neg`` (B-, nh), ``scalars`` (lr, momentum, l2, l1) and the
        centering ``offsets`` (mu, lam)."""
        m, st = self.model, self.state
        return (m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias,
                st["velocity_weights"], st["velocity_visible_bias"], st["velocity_hidden_bias"],
                v_pos, hp_pos, v_neg, hp_neg, *scalars, *offsets)

    def _constants(self, batch_size):
        """Arguments of :meth:`update` that stay the same from batch to batch: made once
        per batch size, learning rate and momentum (the last batch of an epoch may be
        shorter)."""
        m, opts = self.model, self.options
        key = (batch_size, self.lr, self.momentum)
        if self._constants_key != key:
            n_neg = batch_size if opts.method == "cd" else opts.n_chains
            dt = m.dtype.type
            self._constants_cache = {
                "betas": np.ones(n_neg, m.dtype),
                "hp_pos": np.empty((batch_size, m.n_hidden), m.dtype),
                "hp_neg": np.empty((n_neg, m.n_hidden), m.dtype),
                "no_clamp": np.zeros((0, m.n_visible), np.uint8),
                "no_probs": np.empty((0, m.n_hidden), m.dtype),
                "no_offsets": (np.zeros(0, m.dtype), np.zeros(0, m.dtype)),
                "scalars": (dt(self.lr), dt(self.momentum), dt(opts.l2), dt(opts.l1))}
            self._constants_key = key
        return self._constants_cache

    def _offsets(self, hp_pos, no_offsets):
        """(mu, lam) for :func:`rbmcli.kernels.rbm.gradients.apply_update`: ``no_offsets`` (empty
        arrays) for the plain gradient; with centering, the training data mean and the
        hidden offset, first moved towards this batch's mean of ``P(h | v+)`` (a running
        mean with sliding factor :data:`CENTERING_SLIDE`, as in Melchior et al. 2016)."""
        if not self.options.centering:
            return no_offsets
        dtype = self.model.dtype
        st = self.state
        lam = st["offset_hidden"]
        lam += dtype.type(CENTERING_SLIDE) * (hp_pos.mean(axis=0, dtype=dtype) - lam)
        return st["offset_visible"], lam

    def _tempering_step(self):
        """One PT sweep and swap pass; returns the beta = 1 replicas and P(h|v) of them."""
        m, st = self.model, self.state
        V, H = st["replica_visible"], st["replica_hidden"]
        n_temps = len(self.betas)
        n_chains = V.shape[0] // n_temps
        E, _ = m.tempering_sweep(V, H, np.repeat(self.betas, n_chains), self.rng)
        parity = int(st["swap_parity"])
        pt_swap_pass(V, H, E, self.betas, n_chains, draw_keys(self.rng, 1)[0], parity,
                     self._swaps[0], self._swaps[1])
        st["swap_parity"] = np.asarray(parity ^ 1, np.int64)
        v_neg = V[:n_chains]
        return v_neg, m.hidden_probs(v_neg)

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, seconds):
        """Per-epoch metrics: MSER on a training sample and the validation data, the
        free-energy gap mean F(valid) - mean F(train sample), PT swap rates."""
        m = self.model
        eval_rng = np.random.default_rng([self.options.seed, 11])
        out = {"seconds": seconds, "lr": self.lr, "momentum": self.momentum,
               "mser_train": float(m.reconstruction_error(self.eval_train, eval_rng).mean()),
               "mser_valid": np.nan, "free_energy_gap": np.nan}
        if self.eval_valid is not None:
            out["mser_valid"] = float(m.reconstruction_error(self.eval_valid, eval_rng).mean())
            out["free_energy_gap"] = float(m.free_energy(self.eval_valid).mean()
                                           - m.free_energy(self.eval_train).mean())
        if self.betas is not None:
            accepted, attempted = self._swaps
            out["swap_acceptance"] = accepted / np.maximum(attempted, 1)
        return out


def format_metrics(epoch, n_epochs, metrics):
    """One log line for an epoch, e.g. ``epoch 3/10  4.1s  mser train 0.0312 ...``."""
    parts = [f"epoch {epoch}/{n_epochs}", f"{metrics['seconds']:.1f}s"]
    if not np.isnan(metrics["mser_train"]):  # NaN: backprop fine-tuning
        parts.append(f"mser train {metrics['mser_train']:.4f}")
    if not np.isnan(metrics["mser_valid"]):
        parts.append(f"valid {metrics['mser_valid']:.4f}")
    if not np.isnan(metrics["free_energy_gap"]):
        parts.append(f"F gap {metrics['free_energy_gap']:+.2f}")
    if not np.isnan(metrics.get("sigma_mean", np.nan)):
        parts.append(f"sigma {metrics['sigma_mean']:.3f}")
    if not np.isnan(metrics.get("class_error_train", np.nan)):
        parts.append(f"class error train {metrics['class_error_train']:.4f}")
        if not np.isnan(metrics.get("class_error_valid", np.nan)):
            parts.append(f"valid {metrics['class_error_valid']:.4f}")
    if "swap_acceptance" in metrics:
        parts.append("swaps " + " ".join(f"{a:.2f}" for a in metrics["swap_acceptance"]))
    return "  ".join(parts)


def new_model(options, train):
    """A freshly initialised model for ``options`` and the training rows ``train`` (a
    Binarizer, or StreamedRows of one): the visible biases from their mean."""
    rng = np.random.default_rng(options.seed)
    mean = train.mean()
    return BernoulliRBM.initialize(len(mean), options.n_hidden, mean, rng,
                                   np.dtype(options.dtype).type)
