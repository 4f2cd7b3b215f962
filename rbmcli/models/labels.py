"""Class RBMs: a Bernoulli RBM whose visible layer also has a softmax group of C one-hot
label units (Hinton, Osindero & Teh 2006; Larochelle & Bengio 2008, "generative" class RBM).

With pixels (or the layer below) ``x`` (nv,), the label ``y`` in 0..C-1 as the one-hot
vector ``e_y`` (C,) and hidden ``h`` (nh,)::

    E(x, y, h) = -b.x - d.e_y - c.h - x.W.h - e_y.U.h

``U`` (C, nh) and ``d`` (C,) are the label units' weights and biases
(:class:`LabelUnits`). The conditionals and free energies:

* ``P(h_j = 1 | x, y) = sigmoid(c_j + (x W)_j + U_yj)``;
* ``P(x_i = 1 | h) = sigmoid(b_i + (W h)_i)`` (as without labels);
* ``P(y | h) = softmax_y(d_y + (U h)_y)``;
* ``F(x, y) = -b.x - d_y - sum_j softplus(c_j + (x W)_j + U_yj)`` and
  ``P(y | x) = softmax_y(-F(x, y))``, exact from C free energies: classification;
* the marginal ``F(x) = -log sum_y exp(-F(x, y))``.

Clamping the label to ``k`` leaves a plain RBM with hidden biases ``c + U_k``
(:meth:`LabelledRBM.given_label`): class-conditional sampling runs every sampler of a
plain RBM on it. Without a clamp, Gibbs sampling draws the label too
(:meth:`LabelledRBM.gibbs`).

The NumPy here is one (N, nv) x (nv, nh) product per call plus C broadcasts; no kernel.
"""

import contextlib

import numpy as np

from rbmcli.errors import InputError, NotSupported
from rbmcli.kernels.rbm.free_energy import label_softplus_sums
from rbmcli.models.aligned import aligned
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.sampling.labels import describe_classes
from rbmcli.scoring import bernoulli as scoring
from rbmcli.scoring.classes import class_log_partition
from rbmcli.scoring.partition import DEFAULT_RUNS, DEFAULT_STEPS

LABEL_ARRAYS = ("label_weights", "label_bias", "classes")
"""The datasets of the label units in a model file (beside an RBM's own)."""

ROWS_PER_CHUNK = 1024
"""Rows per block of :meth:`LabelledRBM.class_free_energies` (bounds its memory)."""


class LabelUnits:
    """A softmax group of C one-hot label units joined to a hidden layer of nh units.

    Parameters
    ----------
    weights : (C, nh) float
        ``U``: ``U[k]`` adds to the hidden pre-activations when the label is ``k``.
    bias : (C,) float
        ``d``.
    classes : (C,) int, optional
        The label value of each unit (what data files hold and commands print);
        default ``0 .. C-1``. Increasing, no repeats.
    """

    def __init__(self, weights, bias, classes=None):
        self.weights = aligned(weights)
        self.bias = aligned(bias, dtype=self.weights.dtype)
        n = self.weights.shape[0] if self.weights.ndim == 2 else -1
        classes = np.arange(n) if classes is None else np.asarray(classes)
        if self.weights.ndim != 2 or self.bias.shape != (n,) or classes.shape != (n,) or n < 2:
            raise InputError(f"label units need label_weights (C, nh), label_bias (C,) and "
                             f"classes (C,) with C >= 2, found {self.weights.shape}, "
                             f"{self.bias.shape} and {classes.shape}")
        if classes.dtype.kind not in "iu" or np.any(np.diff(classes) <= 0):
            raise InputError("classes must be increasing integers")
        self.classes = classes.astype(np.int64)

    def __len__(self):
        return len(self.classes)

    def arrays(self):
        """The label datasets by name (:data:`LABEL_ARRAYS`)."""
        return {"label_weights": self.weights, "label_bias": self.bias,
                "classes": self.classes}

    def index(self, values, what="labels"):
        """Unit indices (N,) int64 of label values (N,); InputError for a value that is
        not a class."""
        values = np.asarray(values)
        idx = np.searchsorted(self.classes, values)
        idx = np.clip(idx, 0, len(self.classes) - 1)
        bad = self.classes[idx] != values
        if np.any(bad):
            raise InputError(f"{what}: {values[bad][0]} is not a class of the model "
                             f"({describe_classes(self.classes)})")
        return idx.astype(np.int64)

    def one_hot(self, idx, dtype):
        """(N, C) one-hot rows of unit indices ``idx`` (N,)."""
        out = np.zeros((len(idx), len(self.classes)), dtype)
        out[np.arange(len(idx)), idx] = 1
        return out

    def probs(self, H):
        """``P(y | h)`` (N, C) float64 of hidden states or probabilities ``H`` (N, nh)."""
        logits = np.asarray(H, self.weights.dtype) @ self.weights.T + self.bias
        return softmax(logits.astype(np.float64))

    def sample(self, H, rng):
        """Draw ``y ~ P(y | h)``: returns (P (N, C) float64, unit indices (N,) int64)."""
        P = self.probs(H)
        return P, draw_categorical(P, rng)


def softmax(logits):
    """Row-wise softmax (N, C) float64 of ``logits`` (N, C)."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def draw_categorical(P, rng):
    """One index (N,) int64 per row of probabilities ``P`` (N, C): the first k whose
    cumulative probability exceeds a uniform draw (one ``rng.random(N)``)."""
    u = rng.random(len(P))
    cdf = np.cumsum(P, axis=1)
    return np.minimum((cdf < u[:, None] * cdf[:, -1:]).sum(axis=1), P.shape[1] - 1) \
        .astype(np.int64)


def logistic(x):
    """``sigmoid(x) = (1 + tanh(x / 2)) / 2`` elementwise in the dtype of ``x`` (N, n): no
    overflow, and one pass (30 times faster than a masked exp on (100, 500) float32)."""
    out = np.tanh(0.5 * np.asarray(x))
    out += 1
    out *= 0.5
    return out


def draw_bernoulli(P, rng):
    """Binary states (N, n) uint8 drawn from probabilities ``P`` (N, n)."""
    return (rng.random(P.shape) < P).astype(np.uint8)


class LabelledRBM(BernoulliRBM):
    """A Bernoulli RBM with label units (the module docstring): a "class RBM".

    Parameters
    ----------
    weights, visible_bias, hidden_bias
        As for :class:`BernoulliRBM`: the pixel (or lower-layer) part.
    labels : LabelUnits
        With nh columns and the dtype of ``weights``.

    Its file is that of a Bernoulli RBM plus the datasets :data:`LABEL_ARRAYS`. Every
    method of :class:`BernoulliRBM` that does not name the label describes the model
    with the label summed out: ``free_energy`` is the marginal ``F(x)``,
    ``hidden_probs`` is ``E[h | x]``, ``sample_hidden`` draws ``y ~ P(y | x)`` then
    ``h ~ P(h | x, y)``, ``gibbs`` draws the label along with the pixels.
    """

    def __init__(self, weights, visible_bias, hidden_bias, labels):
        super().__init__(weights, visible_bias, hidden_bias)
        if labels.weights.shape[1] != self.n_hidden or labels.weights.dtype != self.dtype:
            raise InputError(f"label_weights must be (C, {self.n_hidden}) {self.dtype}, "
                             f"found {labels.weights.shape} {labels.weights.dtype}")
        self.labels = labels

    @classmethod
    def extend(cls, rbm, classes, class_frequencies, rng):
        """``rbm`` (a BernoulliRBM) with new label units for ``classes`` (C,): ``U ~
        N(0, 0.01^2)`` drawn from ``rng``, ``d = log`` of the class frequencies (C,)
        (clipped to >= 1e-3), the softmax version of Hinton's visible-bias rule."""
        C = len(classes)
        weights = (0.01 * rng.standard_normal((C, rbm.n_hidden))).astype(rbm.dtype)
        p = np.clip(np.asarray(class_frequencies, np.float64), 1e-3, None)
        labels = LabelUnits(weights, np.log(p / p.sum()).astype(rbm.dtype), classes)
        return cls(rbm.weights, rbm.visible_bias, rbm.hidden_bias, labels)

    @classmethod
    def from_arrays(cls, arrays):
        return cls(*(arrays[name] for name in cls.ARRAYS),
                   LabelUnits(*(arrays[name] for name in LABEL_ARRAYS)))

    def arrays(self):
        return {**super().arrays(), **self.labels.arrays()}

    def parameter_arrays(self):
        return list(super().arrays().values()) + [self.labels.weights, self.labels.bias]

    def is_finite(self):
        return bool(super().is_finite() and np.isfinite(self.labels.weights).all()
                    and np.isfinite(self.labels.bias).all())

    @property
    def classes(self):
        """(C,) int64: the label value of each label unit."""
        return self.labels.classes

    samplers = {name: f for name, f in BernoulliRBM.samplers.items() if name == "gibbs"}
    """Without a clamped label only Gibbs sampling, which draws the label too."""

    # -- the label named --------------------------------------------------------------
    def hidden_input(self, X):
        """``c + X W`` (N, nh) in the model's dtype, for binary or real ``X`` (N, nv)."""
        return np.asarray(X).astype(self.dtype, copy=False) @ self.weights + self.hidden_bias

    def hidden_probs_given(self, X, y):
        """``P(h = 1 | x, y)`` (N, nh) for ``X`` (N, nv) and unit indices ``y`` (N,)."""
        return logistic(self.hidden_input(X) + self.labels.weights[np.asarray(y)])

    @contextlib.contextmanager
    def remembering_class_free_energies(self):
        """Within the block, :meth:`class_free_energies` of the same array object is
        computed once (the parameters must not change inside). The per-epoch evaluation
        asks for the class error, the free energy and a reconstruction of the same rows,
        each of which needs all C free energies."""
        self._remembered = {}
        try:
            yield self
        finally:
            self._remembered = None

    def class_free_energies(self, X):
        """``F(x, y)`` (N, C) float64 for every label ``y`` (module docstring), for
        binary or real-valued ``X`` (N, nv), in blocks of :data:`ROWS_PER_CHUNK` rows
        (read-only when remembered: :meth:`remembering_class_free_energies`)."""
        memo = getattr(self, "_remembered", None)
        if memo is not None:
            seen = memo.get(id(X))
            if seen is None or seen[0] is not X:
                F = self._class_free_energies(X)
                F.flags.writeable = False
                memo[id(X)] = seen = (X, F)
            return seen[1]
        return self._class_free_energies(X)

    def _class_free_energies(self, X):
        X = np.asarray(X)
        out = np.empty((len(X), len(self.labels)), np.float64)
        U = np.ascontiguousarray(self.labels.weights, self.dtype)
        d = self.labels.bias.astype(np.float64)
        for s in range(0, len(X), ROWS_PER_CHUNK):
            rows = X[s:s + ROWS_PER_CHUNK].astype(self.dtype, copy=False)
            A = np.ascontiguousarray(self.hidden_input(rows))
            bx = rows @ self.visible_bias.astype(np.float64)
            block = out[s:s + len(rows)]
            label_softplus_sums(A, U, block)   # sum_j softplus(A + U_k), (rows, C) float64
            block *= -1
            block -= bx[:, None] + d
        return out

    def class_probabilities(self, X):
        """``P(y | x)`` (N, C) float64 = ``softmax(-F(x, y))``, exact."""
        return softmax(-self.class_free_energies(X))

    def sample_labels(self, X, rng):
        """Draw ``y ~ P(y | x)`` exactly: unit indices (N,) int64."""
        return draw_categorical(self.class_probabilities(X), rng)

    def label_sweeps(self, V, y, n_steps, rng, clamp=None, clamp_labels=False, HP=None):
        """``n_steps`` block Gibbs sweeps of the class RBM from binary ``V`` (N, nv) and
        unit indices ``y`` (N,): ``h ~ P(h | v, y)``, then ``v ~ P(v | h)`` (units where
        ``clamp`` (N, nv) is set keep their value) and, unless ``clamp_labels``,
        ``y ~ P(y | h)``. ``HP``: ``P(h | V, y)`` when the caller has it already (CD
        from the data), saving the first sweep's product.

        Returns
        -------
        V : (N, nv) uint8
        y : (N,) int64
        HP : (N, nh)
            ``P(h | v, y)`` of the final states.
        """
        V = self._binary(V, self.n_visible)
        y = np.asarray(y, np.int64)
        for step in range(int(n_steps)):
            H = draw_bernoulli(HP if step == 0 and HP is not None else
                               self.hidden_probs_given(V, y), rng)
            _, fresh = self.sample_visible(H, rng)
            V = fresh if clamp is None else np.where(clamp, V, fresh)
            if not clamp_labels:
                _, y = self.labels.sample(H, rng)
        return np.ascontiguousarray(V), y, self.hidden_probs_given(V, y)

    def given_label(self, k):
        """The plain :class:`BernoulliRBM` of this model with the label clamped to unit
        ``k``: hidden biases ``c + U_k``; ``P(x, h | y = k)`` is its distribution."""
        return BernoulliRBM(self.weights, self.visible_bias,
                            self.hidden_bias + self.labels.weights[int(k)])

    # -- the label summed out (the interface of BernoulliRBM) ---------------------------
    def free_energy(self, V, beta=1.0):
        """The marginal ``F(x) = -log sum_y exp(-F(x, y))`` (N,) float64."""
        _untempered(beta)
        F = self.class_free_energies(V)
        m = F.min(axis=1)
        return m - np.log(np.exp(-(F - m[:, None])).sum(axis=1))

    def hidden_probs(self, V):
        """``E[h | x] = sum_y P(y | x) P(h | x, y)`` (N, nh)."""
        P = self.class_probabilities(V)
        A = self.hidden_input(V)
        out = np.zeros(A.shape, np.float64)
        for k in range(len(self.labels)):
            out += P[:, k:k + 1] * logistic(A + self.labels.weights[k])
        return out.astype(self.dtype)

    def sample_hidden(self, V, rng, beta=1.0):
        """``y ~ P(y | v)``, then ``h ~ P(h | v, y)``: (P(h | v, y) (N, nh), h uint8)."""
        _untempered(beta)
        V = self._binary(V, self.n_visible)
        HP = self.hidden_probs_given(V, self.sample_labels(V, rng))
        return HP, draw_bernoulli(HP, rng)

    def gibbs(self, V, n_steps, rng, clamp=None, beta=1.0):
        """``y ~ P(y | v)`` exactly, then :meth:`label_sweeps`; returns (V (N, nv) uint8,
        ``P(h | v, y)`` (N, nh)), as :meth:`BernoulliRBM.gibbs`."""
        _untempered(beta)
        V = self._binary(V, self.n_visible)
        if clamp is not None:
            clamp = np.broadcast_to(np.asarray(clamp) != 0, V.shape)
        V, _, HP = self.label_sweeps(V, self.sample_labels(V, rng), n_steps, rng, clamp)
        return V, HP

    def tempering_sweep(self, V, H, betas_per_replica, rng):
        raise NotSupported("a model with label units is sampled by gibbs (or with --label "
                           "by every sampler)", "method")

    def energy(self, V, H):
        raise NotSupported("a model with label units has no energy of (v, h) alone")

    def score(self, images, *, seed=0, log=None, progress=None, **metrics):
        """As :meth:`BernoulliRBM.score` with the label summed out; ``ll`` (``exact`` or
        ``ais``) takes log Z over the classes (:func:`rbmcli.scoring.classes.
        class_log_partition`; not cached); no reverse-AIS ``bracket``."""
        if metrics.get("bracket") or metrics.get("reverse_burn_in") is not None:
            raise NotSupported("(reverse AIS) is not implemented for a model with label "
                               "units", "bracket")
        ll = {name: metrics.pop(name, None) for name in LL_OPTIONS}
        scores = super().score(images, seed=seed, log=log, progress=progress, **metrics)
        if ll["ll"] or ll["exact"] or ll["ais"]:
            log_likelihood(self, scores, images, seed=seed, log=log, progress=progress,
                           source=metrics.get("source", ""), **ll)
        return scores

    def describe_layer(self, where):
        return [f"labels{where}\t{len(self.labels)} classes ({describe_classes(self.classes)})"
                f", label weights std {self.labels.weights.std():.4f}"]


LL_OPTIONS = ("ll", "exact", "ais", "ais_runs", "ais_steps", "base", "base_source")
"""The options of :meth:`LabelledRBM.score` that make its log-likelihood."""


def log_likelihood(model, scores, images, *, ll=None, exact=None, ais=None, ais_runs=None,
                   ais_steps=None, base=None, base_source=None, source="", seed=0, log=None,
                   progress=None):
    """Add ``ll`` (per sample and its mean), ``ll_sd`` and the log Z fields to ``scores``
    (:class:`rbmcli.scoring.bernoulli.Scores` of ``images`` under the class RBM
    ``model``): ``-F(x) - log Z`` with the marginal free energy, the images binarised as
    :func:`rbmcli.scoring.bernoulli.score_images` does."""
    if exact and ais:
        raise NotSupported("choose one of exact and ais")
    V = scoring.binarize(images, model.binarization, seed)
    base_V = V if base is None else scoring.binarize(base, model.binarization, seed,
                                                     scoring._BASE_STREAM)
    opts = scoring.PartitionOptions(method="exact" if exact else "ais" if ais else None,
                                    runs=ais_runs or DEFAULT_RUNS,
                                    steps=ais_steps or DEFAULT_STEPS, seed=seed,
                                    use_cache=False)
    say = log or (lambda line: None)
    lz = class_log_partition(model, lambda rbm, name: scoring.estimate_log_partition(
        rbm, opts, base_V, V, base_source=base_source or source, log=lambda line:
        say(name + line), progress=progress))
    F = model.free_energy(V)
    scores.per_sample["ll"] = -F - lz["log_z"]
    scores.summary["ll"] = float(np.mean(scores.per_sample["ll"]))
    scores.summary["ll_sd"] = float(np.std(F, ddof=1) / np.sqrt(len(F))) if len(F) > 1 \
        else float("nan")
    scores.summary.update(lz)


def _untempered(beta):
    if np.ndim(beta) or float(beta) != 1.0:
        raise NotSupported("a model with label units is not tempered (beta must be 1)")
