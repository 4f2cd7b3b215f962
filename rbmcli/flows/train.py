"""Maximum-likelihood training of a flow: Adam with learning-rate warm-up, global-norm
gradient clipping, L2 weight decay on the conditioners' weight matrices, and early
stopping on the validation log-likelihood.

Every batch is dequantized afresh (new uniform noise each epoch); the validation data
are dequantized once with a fixed seed, so the validation curve is smooth. The best
parameters so far (by validation log-likelihood) are kept beside the current ones.
"""

import time
from dataclasses import asdict, dataclass

import numpy as np

from rbmcli.flows.data import LAMBDA, to_logit_space
from rbmcli.training.rbm import TrainingDiverged  # the core's NaN guard exception
from rbmcli.kernels.flows.adam import adam_scalars, adam_step


@dataclass
class FlowOptions:
    """Training hyperparameters of a flow (stored as JSON in the model file)."""

    model: str = "realnvp"
    layers: int = 5
    hidden_units: int = 1024
    hidden_layers: int = 1
    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    warmup: int = 500           # steps of linear learning-rate warm-up from 0
    clip: float = 100.0         # global gradient-norm limit; 0: none
    weight_decay: float = 1e-6  # L2 coefficient on the conditioners' weight matrices
    patience: int = 10          # epochs without validation improvement before stopping
    holdout: int = 10000        # training images held out for validation (no --validate)
    seed: int = 0
    dtype: str = "float32"
    lam: float = LAMBDA
    init_batch: int = 1000      # images for actnorm's data-dependent initialisation

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def decays(name):
    """True for the parameters weight decay applies to (conditioner weight matrices)."""
    return name.split(".")[-1].startswith("w")


class FlowTrainer:
    """Runs epochs on a :class:`~rbmcli.flows.model.FlowModel`.

    Parameters
    ----------
    model : FlowModel
    options : FlowOptions
    train : (N, D) uint8 pixels
    valid : (M, D) uint8 pixels, or None
    rng : numpy.random.Generator
    state : dict, optional
        From a checkpoint: ``adam_m.<p>``, ``adam_v.<p>``, ``best.<p>``, ``step``,
        ``best_valid_ll``, ``best_epoch``, ``bad_epochs``.
    """

    def __init__(self, model, options, train, valid, rng, state=None):
        self.model = model
        self.options = options
        self.train = train
        self.rng = rng
        st = self.state = dict(state or {})
        for name, p in model.params.items():
            st.setdefault(f"adam_m.{name}", np.zeros(p.size, p.dtype))
            st.setdefault(f"adam_v.{name}", np.zeros(p.size, p.dtype))
        st.setdefault("step", np.zeros((), np.int64))
        st.setdefault("best_valid_ll", np.asarray(-np.inf))
        st.setdefault("best_epoch", np.zeros((), np.int64))
        st.setdefault("bad_epochs", np.zeros((), np.int64))
        self.valid_y = None
        if valid is not None:
            self.valid_y, _ = to_logit_space(valid, np.random.default_rng([options.seed, 5]),
                                             options.lam, model.dtype)

    # ------------------------------------------------------------------ bookkeeping
    def best_params(self):
        """The parameters with the best validation log-likelihood (or the current ones)."""
        if f"best.{next(iter(self.model.params))}" in self.state:
            return {n: self.state[f"best.{n}"] for n in self.model.params}
        return self.model.params

    @property
    def stopped(self):
        return int(self.state["bad_epochs"]) >= self.options.patience

    def snapshot(self):
        return ({k: v.copy() for k, v in self.model.params.items()},
                {k: v.copy() for k, v in self.model.buffers.items()},
                {k: np.copy(v) for k, v in self.state.items()},
                self.rng.bit_generator.state)

    def restore(self, snap):
        params, buffers, state, rng_state = snap
        for store, saved in ((self.model.params, params), (self.model.buffers, buffers)):
            for k, v in saved.items():
                store[k][...] = v
        self.state = state
        self.rng.bit_generator.state = rng_state

    def initialize(self):
        """Actnorm's data-dependent initialisation from ``init_batch`` training images."""
        opts = self.options
        idx = np.sort(np.random.default_rng([opts.seed, 2]).choice(
            len(self.train), min(opts.init_batch, len(self.train)), replace=False))
        y, _ = to_logit_space(self.train[idx], np.random.default_rng([opts.seed, 3]),
                              opts.lam, self.model.dtype)
        self.model.initialize(y)

    # ---------------------------------------------------------------------- epochs
    def learning_rate(self, step):
        w = self.options.warmup
        return self.options.lr * (min(1.0, step / w) if w > 0 else 1.0)

    def update(self, y):
        """One Adam step on the batch ``y`` (B, D); returns the batch's mean NLL."""
        opts, st = self.options, self.state
        loss, grads = self.model.loss_and_grads(y)
        norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
        if not (np.isfinite(loss) and np.isfinite(norm)):
            raise TrainingDiverged(f"the loss became {loss} (gradient norm {norm})")
        factor = min(1.0, opts.clip / norm) if opts.clip > 0 and norm > 0 else 1.0
        step = int(st["step"]) + 1
        st["step"] = np.asarray(step, np.int64)
        step_size, eps_hat = adam_scalars(self.learning_rate(step), 0.9, 0.999, 1e-8, step)
        for name, p in self.model.params.items():
            g = np.ascontiguousarray(grads[name], p.dtype).reshape(-1)
            t = p.dtype.type
            adam_step(p.reshape(-1), g, st[f"adam_m.{name}"], st[f"adam_v.{name}"],
                      t(step_size), t(0.9), t(0.999), t(eps_hat), t(factor),
                      t(opts.weight_decay if decays(name) else 0.0))
        return loss, norm

    def run_epoch(self, epoch=0, on_batch=None):
        """One pass over the training data in random order; returns the metrics.
        ``epoch`` (0-based) is accepted for the core's signature: the flows' schedule
        (warm-up) counts steps, kept in the state."""
        opts = self.options
        start = time.perf_counter()
        order = self.rng.permutation(len(self.train))
        n_batches = -(-len(order) // opts.batch_size)
        total, norms = 0.0, []
        for k in range(n_batches):
            idx = np.sort(order[k * opts.batch_size:(k + 1) * opts.batch_size])
            y, _ = to_logit_space(self.train[idx], self.rng, opts.lam, self.model.dtype)
            loss, norm = self.update(y)
            total += loss * len(idx)
            norms.append(norm)
            if on_batch:
                on_batch(k + 1, n_batches)
        if not self.model.is_finite():
            raise TrainingDiverged("parameters became NaN or infinite")
        metrics = {"seconds": time.perf_counter() - start,
                   "train_ll": -total / len(order),
                   "grad_norm_median": float(np.median(norms)),
                   "lr": self.learning_rate(int(self.state["step"])),
                   "valid_ll": np.nan}
        if self.valid_y is not None:
            lp = self.model.log_prob(self.valid_y)
            metrics["valid_ll"] = float(lp.mean()) if np.isfinite(lp).all() else -np.inf
        return metrics

    def after_epoch(self, epoch, metrics):
        """Early-stopping bookkeeping: keep the best parameters. Returns True when the
        validation log-likelihood improved (always True without validation data)."""
        st = self.state
        ll = metrics["valid_ll"]
        improved = self.valid_y is None or ll > float(st["best_valid_ll"])
        if improved:
            if self.valid_y is not None:
                st["best_valid_ll"] = np.asarray(ll)
            st["best_epoch"] = np.asarray(epoch, np.int64)
            st["bad_epochs"] = np.zeros((), np.int64)
            for name, p in self.model.params.items():
                st[f"best.{name}"] = p.copy()
        else:
            st["bad_epochs"] = np.asarray(int(st["bad_epochs"]) + 1, np.int64)
        metrics["best_valid_ll"] = float(st["best_valid_ll"])
        return improved


def format_flow_metrics(epoch, n_epochs, metrics):
    """One log line for an epoch."""
    parts = [f"epoch {epoch}/{n_epochs}", f"{metrics['seconds']:.1f}s",
             f"train ll {metrics['train_ll']:.2f}"]
    if not np.isnan(metrics["valid_ll"]):
        parts.append(f"valid ll {metrics['valid_ll']:.2f} (best {metrics['best_valid_ll']:.2f})")
    parts.append(f"|grad| {metrics['grad_norm_median']:.3g}")
    parts.append(f"lr {metrics['lr']:.3g}")
    return "  ".join(parts)
