"""Generative training of a class RBM (``rbm train --labels``): an RBM whose visible layer
also has a softmax group of one-hot label units (:mod:`rbmcli.models.labels`).

The class RBM is the RBM over the joint visible vector ``[x, e_y]`` with weights
``[W; U]`` and biases ``[b; d]``, whose label block is sampled from its softmax instead of
unit by unit. So its log-likelihood gradient has the statistics of a plain RBM:

* positive phase: a data batch ``(x+, y+)`` and ``P(h | x+, y+)``;
* negative phase (CD-K from the batch, or PCD-K from persistent chains that carry their
  labels): K sweeps of :meth:`rbmcli.models.labels.LabelledRBM.label_sweeps`, the label
  drawn from ``P(y | h)`` in each;
* the update of ``W``, ``b``, ``c``: the fused kernel
  :func:`rbmcli.kernels.rbm.gradients.apply_update` as for any RBM (it needs only
  ``x`` and ``P(h | x, y)``), then :func:`update_label_units` for ``U`` and ``d`` with the
  same learning rate, momentum and priors; with the centered gradient the label block
  has its own offset (the class frequencies) and adds its part to the hidden-bias step.

The result equals the update of the joint RBM with nv + C visible units (tested).
"""

import numpy as np

from rbmcli.errors import InputError
from rbmcli.io.datasets import load_dataset
from rbmcli.io.synthetic import synthetic_digits
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.models.aligned import aligned, aligned_zeros_like
from rbmcli.models.labels import LabelledRBM
from rbmcli.sampling.bernoulli import noise
from rbmcli.training.batches import MemoryRows
from rbmcli.training.rbm import Trainer

LABEL_STREAM = 17
"""``numpy.random.default_rng([seed, LABEL_STREAM])`` draws the new label weights."""


def training_labels(spec, what="DATA", option="--labels"):
    """The labels (N,) of the data set ``spec`` (None: the embedded synthetic digits, as
    :func:`rbmcli.training.run.load_training_images` draws them); InputError when it
    has none."""
    if spec is None:
        return synthetic_digits(10000, seed=0)[1]
    labels = load_dataset(spec).labels
    if labels is None:
        raise InputError(f"has no labels; {option} needs labelled data ({what})", spec)
    return labels


class LabelledData(MemoryRows):
    """Training rows (a :class:`rbmcli.training.rbm.Binarizer`) with their labels.

    Parameters
    ----------
    rows : Binarizer
    labels : (N,) int64 or None
        The label unit of every row (None: validation data without labels).
    """

    def __init__(self, rows, labels):
        self.source = rows
        self.labels = labels
        self.images = rows.images

    def rows(self, index, rng):
        """Binary rows (len(index), D) uint8, as the Binarizer gives them."""
        return self.source.rows(index, rng)

    def batch(self, index, rng):
        """The arguments of :meth:`LabelledTrainer.update`: the rows at ``index`` and their
        label units."""
        return self.rows(index, rng), self.labels[index]

    def mean(self):
        return self.source.mean()

    def label_frequencies(self, n_classes):
        """(C,) float64: the fraction of rows of each label unit."""
        return np.bincount(self.labels, minlength=n_classes) / len(self.labels)


def with_labels(model, train, valid, labels, valid_labels, seed):
    """(model, train, valid) of a labelled run: ``model`` given label units for the
    classes of ``labels`` (N,) when it has none yet (:meth:`LabelledRBM.extend`, drawn
    from ``default_rng([seed, LABEL_STREAM])``), and the data wrapped in
    :class:`LabelledData` (``valid`` and ``valid_labels`` may be None)."""
    labels = np.asarray(labels)
    if model.labels is None:
        classes = np.unique(labels)
        if len(classes) < 2:
            raise InputError(f"--labels needs two or more classes, the training data have "
                             f"{len(classes)}")
        model = LabelledRBM.extend(model, classes,
                                   np.bincount(np.searchsorted(classes, labels)),
                                   np.random.default_rng([seed, LABEL_STREAM]))
    train = LabelledData(train, model.labels.index(labels, "training labels"))
    if valid is not None:
        valid = LabelledData(valid, None if valid_labels is None else
                             model.labels.index(valid_labels, "validation labels"))
    return model, train, valid


def update_label_units(labels, hidden_bias, velocity_hidden_bias, velocity_weights,
                       velocity_bias, y_pos, hp_pos, y_neg, hp_neg, lr, momentum, l2, l1,
                       offsets=None):
    """The label block's part of a training step, in place (after ``apply_update`` made
    the rest of it).

    Parameters
    ----------
    labels : rbmcli.models.labels.LabelUnits
        ``weights`` U (C, nh) and ``bias`` d (C,) are updated.
    hidden_bias, velocity_hidden_bias : (nh,)
        Changed only by the centered gradient (its hidden-bias step has a label term).
    velocity_weights : (C, nh); velocity_bias : (C,)
        Momentum buffers of U and d.
    y_pos : (B+,) int; hp_pos : (B+, nh)
        Data labels (unit indices) and ``P(h | x+, y+)``.
    y_neg : (B-,) int; hp_neg : (B-, nh)
        The negative phase's labels and ``P(h | x-, y-)``.
    lr, momentum, l2, l1 : float
        As for :func:`rbmcli.kernels.rbm.gradients.apply_update`.
    offsets : (mu_y (C,), lam (nh,)) or None
        The centered gradient's label offset and hidden offset (the one the kernel used).

    Notes
    -----
    With ``g_c = mean(HP+) - mean(HP-)``, ``g_d = mean(Y+) - mean(Y-)`` and
    ``dU = Y+^T HP+ / B+ - Y-^T HP- / B- - l2 U - l1 sign(U)``, the step is
    ``G = dU`` (plain) or ``G = dU - mu_y g_c^T - g_d lam^T``, ``g_d <- g_d - G lam`` and
    the hidden-bias step ``-= lr G^T mu_y`` (centered), then momentum as for ``W``.
    """
    f64 = np.float64
    C = len(labels)
    Yp = np.eye(C)[np.asarray(y_pos)]
    Yn = np.eye(C)[np.asarray(y_neg)]
    Hp, Hn = np.asarray(hp_pos, f64), np.asarray(hp_neg, f64)
    U = labels.weights.astype(f64)
    G = Yp.T @ Hp / len(Hp) - Yn.T @ Hn / len(Hn) - l2 * U - l1 * np.sign(U)
    g_d = Yp.mean(axis=0) - Yn.mean(axis=0)
    if offsets is not None:
        mu, lam = (np.asarray(a, f64) for a in offsets)
        g_c = Hp.mean(axis=0) - Hn.mean(axis=0)
        G = G - np.outer(mu, g_c) - np.outer(g_d, lam)
        g_d = g_d - G @ lam
        shift = (lr * (G.T @ mu)).astype(hidden_bias.dtype)
        velocity_hidden_bias -= shift
        hidden_bias -= shift
    velocity_weights[...] = momentum * velocity_weights.astype(f64) + lr * G
    labels.weights += velocity_weights
    velocity_bias[...] = momentum * velocity_bias.astype(f64) + lr * g_d
    labels.bias += velocity_bias


def apply_labelled_update(model, state, v_pos, y_pos, hp_pos, v_neg, y_neg, hp_neg,
                          scalars, offsets=None):
    """One training step of the class RBM ``model`` from its statistics, in place:
    :func:`rbmcli.kernels.rbm.gradients.apply_update` for ``W``, ``b``, ``c``, then
    :func:`update_label_units`.

    Parameters
    ----------
    model : rbmcli.models.labels.LabelledRBM
    state : dict
        The momentum buffers (``velocity_weights``, ``velocity_visible_bias``,
        ``velocity_hidden_bias``, ``velocity_label_weights``, ``velocity_label_bias``)
        and, when centered, ``offset_label`` (C,).
    v_pos : (B+, nv) uint8; y_pos : (B+,) int; hp_pos : (B+, nh) model dtype
    v_neg : (B-, nv) uint8; y_neg : (B-,) int; hp_neg : (B-, nh) model dtype
    scalars : (lr, momentum, l2, l1)
        Of the model's dtype.
    offsets : (mu (nv,), lam (nh,)) or None
        The centered gradient's visible and hidden offsets, or None for the plain one.
    """
    m, st = model, state
    no_offsets = (np.zeros(0, m.dtype), np.zeros(0, m.dtype))
    apply_update(m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias,
                 st["velocity_weights"], st["velocity_visible_bias"],
                 st["velocity_hidden_bias"], v_pos, hp_pos, v_neg, hp_neg, *scalars,
                 *(offsets or no_offsets))
    update_label_units(m.labels, m.hidden_bias, st["velocity_hidden_bias"],
                       st["velocity_label_weights"], st["velocity_label_bias"],
                       y_pos, hp_pos, y_neg, hp_neg, *(float(x) for x in scalars),
                       None if offsets is None else (st["offset_label"], offsets[1]))


class LabelledTrainer(Trainer):
    """:class:`rbmcli.training.rbm.Trainer` of a class RBM (the module docstring).

    ``train`` and ``valid`` are :class:`LabelledData`. Extra state: the momentum of the
    label weights and biases, the persistent chains' labels (``chain_labels``, PCD) and
    the label offset (centering). Each epoch also reports the classification error on
    the fixed training sample and the validation data (when labelled).
    """

    def __init__(self, model, options, train, valid, rng, state=None):
        super().__init__(model, options, train, valid, rng, state)
        st, labels = self.state, model.labels
        for name, like in (("velocity_label_weights", labels.weights),
                           ("velocity_label_bias", labels.bias)):
            st[name] = aligned(st[name]) if name in st else aligned_zeros_like(like)
        if options.method == "pcd" and "chain_labels" not in st:
            st["chain_labels"] = model.sample_labels(st["chains"], rng)
        if options.centering:
            st.setdefault("offset_label",
                          train.label_frequencies(len(labels)).astype(model.dtype))
        self.eval_labels = train.labels[self.eval_index]

    def snapshot(self):
        labels = self.model.labels
        return super().snapshot(), labels.weights.copy(), labels.bias.copy()

    def restore(self, snap):
        base, weights, bias = snap
        super().restore(base)
        np.copyto(self.model.labels.weights, weights)
        np.copyto(self.model.labels.bias, bias)

    def update(self, v_pos, y_pos):
        """One step from binary rows ``v_pos`` (B, nv) uint8 and their label units
        ``y_pos`` (B,)."""
        m, opts, st = self.model, self.options, self.state
        k = self._constants(v_pos.shape[0])
        if opts.method == "pcd":
            v_neg, y_neg = st["chains"], st["chain_labels"]
        elif opts.cd_from == "noise":
            v_neg = noise(len(v_pos), m.n_visible, self.rng)
            y_neg = self.rng.integers(0, len(m.labels), len(v_pos))
        else:
            v_neg, y_neg = v_pos, y_pos
        hp_pos = np.ascontiguousarray(m.hidden_probs_given(v_pos, y_pos), m.dtype)
        v_neg, y_neg, hp_neg = m.label_sweeps(v_neg, y_neg, opts.steps, self.rng,
                                              HP=hp_pos if v_neg is v_pos else None)
        hp_neg = np.ascontiguousarray(hp_neg, m.dtype)
        if opts.method == "pcd":
            st["chains"][...] = v_neg
            st["chain_labels"][...] = y_neg
        offsets = self._offsets(hp_pos, k["no_offsets"])
        apply_labelled_update(m, st, v_pos, y_pos, hp_pos, v_neg, y_neg, hp_neg,
                              k["scalars"], offsets if opts.centering else None)

    def evaluate(self, seconds):
        """The metrics of :meth:`Trainer.evaluate` plus ``class_error_train`` and
        ``class_error_valid`` (NaN without labelled validation data)."""
        with self.model.remembering_class_free_energies():
            out = super().evaluate(seconds)
            out["class_error_train"] = self._error(self.eval_train, self.eval_labels)
            out["class_error_valid"] = np.nan
            if self.eval_valid is not None and self.valid.labels is not None:
                out["class_error_valid"] = self._error(self.eval_valid, self.valid.labels)
        return out

    def _error(self, rows, labels):
        predicted = self.model.class_probabilities(rows).argmax(axis=1)
        return float(np.mean(predicted != labels))
