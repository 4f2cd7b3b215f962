"""Classification by a model with label units (``rbm classify``, ``rbm score --accuracy``):
predictions, class probabilities, accuracy and the confusion matrix."""

import json
from dataclasses import dataclass

import numpy as np

from rbmcli.errors import InputError
from rbmcli.scoring.bernoulli import Scores


@dataclass
class Classification:
    """The classes a model gives N images, and how they compare with known labels.

    Attributes
    ----------
    classes : (C,) int64
        The model's class values.
    predictions : (N,) int64
        The most probable class value of every image.
    probabilities : (N, C) float64
        ``P(y | x)`` of every class.
    truth : (N,) int64 or None
        The data's labels (class values), when it has them.
    """

    classes: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    truth: np.ndarray = None

    @property
    def correct(self):
        """(N,) bool: prediction == label (requires ``truth``)."""
        return self.predictions == self.truth

    @property
    def accuracy(self):
        """The fraction of images whose prediction is their label."""
        return float(np.mean(self.correct))

    def confusion(self):
        """(C, C) int64: row = the label, column = the prediction (both in the order of
        ``classes``)."""
        C = len(self.classes)
        rows = np.searchsorted(self.classes, self.truth)
        cols = np.searchsorted(self.classes, self.predictions)
        return np.bincount(rows * C + cols, minlength=C * C).reshape(C, C)

    def misclassified(self):
        """Indices (M,) of the images whose prediction is not their label."""
        return np.flatnonzero(~self.correct)

    def json(self, per_sample=False):
        """One line of JSON: ``n``, ``classes``, ``predictions``; with labels ``accuracy``,
        ``errors`` and ``confusion``; with ``per_sample`` the ``probabilities``."""
        out = {"n": len(self.predictions), "classes": self.classes.tolist(),
               "predictions": self.predictions.tolist()}
        if self.truth is not None:
            out.update(accuracy=self.accuracy, errors=int(np.sum(~self.correct)),
                       confusion=self.confusion().tolist())
        if per_sample:
            out["probabilities"] = [[float(f"{p:.6g}") for p in row]
                                    for row in self.probabilities]
        return json.dumps(out)

    def tsv(self):
        """``index<TAB>prediction<TAB>p_<class>...`` rows under a header (probabilities to
        6 significant digits; with labels also a ``label`` column), no final newline."""
        head = ["index", "prediction"] + (["label"] if self.truth is not None else []) \
            + [f"p_{c}" for c in self.classes]
        lines = ["\t".join(head)]
        for i, (pred, row) in enumerate(zip(self.predictions, self.probabilities)):
            cells = [str(i), str(pred)] + ([str(self.truth[i])] if self.truth is not None
                                           else []) + [f"{p:.6g}" for p in row]
            lines.append("\t".join(cells))
        return "\n".join(lines)

    def report(self):
        """Lines for people: the accuracy and the confusion matrix (requires ``truth``)."""
        n, wrong = len(self.predictions), int(np.sum(~self.correct))
        width = max(5, max(len(str(c)) for c in self.classes) + 1)
        lines = [f"accuracy\t{self.accuracy:.4f} ({n - wrong} of {n}; error "
                 f"{1 - self.accuracy:.4f})",
                 "confusion matrix (rows: label, columns: prediction):",
                 "label".rjust(width) + "".join(str(c).rjust(width) for c in self.classes)]
        for c, row in zip(self.classes, self.confusion()):
            lines.append(str(c).rjust(width) + "".join(str(x).rjust(width) for x in row))
        return lines


def classify_images(model, images, labels=None):
    """:meth:`rbmcli.models.base.Model.classify` of grey ``images`` (N, nv) as a
    :class:`Classification`, compared with ``labels`` (N,) when given (InputError for a
    label the model does not know)."""
    predictions, probabilities = model.classify(images)
    classes = model.classes
    truth = None
    if labels is not None:
        truth = np.asarray(labels).astype(np.int64)
        unknown = ~np.isin(truth, classes)
        if unknown.any():
            raise InputError(f"label {truth[unknown][0]} is not a class of the model "
                             f"(classes {', '.join(str(c) for c in classes)})")
    return Classification(classes, predictions, probabilities, truth)


def with_accuracy(scores, classification):
    """:class:`rbmcli.scoring.bernoulli.Scores` (or None: a new one) with ``accuracy``
    (and per sample ``correct``, 1 or 0) added."""
    if scores is None:
        scores = Scores({"n": len(classification.predictions)}, {})
    scores.summary["accuracy"] = classification.accuracy
    scores.per_sample["correct"] = classification.correct.astype(np.float64)
    return scores


def class_log_partition(model, estimate):
    """log Z of a class RBM ``model`` (:class:`rbmcli.models.labels.LabelledRBM`) from
    those of its C clamped RBMs: ``Z = sum_y exp(d_y) Z_y``, ``Z_y`` the partition function
    of ``model.given_label(y)`` (a plain RBM: hidden biases ``c + U_y``).

    Parameters
    ----------
    model : LabelledRBM
    estimate : callable
        ``estimate(rbm, name) -> dict``: the fields of
        :func:`rbmcli.scoring.bernoulli.estimate_log_partition` for one plain RBM
        (``name``: ``"class K: "``, for its log lines).

    Returns
    -------
    dict
        The same fields for the class RBM: ``log_z`` the log-sum-exp over the classes;
        with AIS ``log_z_sd`` by the delta method (the classes' errors independent) and
        ``log_z_lo``, ``log_z_hi`` from the classes' own; and ``log_z_classes`` (C).
    """
    d = model.labels.bias.astype(np.float64)
    parts = [estimate(model.given_label(k), f"class {c}: ")
             for k, c in enumerate(model.labels.classes)]
    log_z = np.array([p["log_z"] for p in parts]) + d
    out = dict(parts[0])
    out["log_z"] = float(np.logaddexp.reduce(log_z))
    if "log_z_sd" in out:
        weights = np.exp(log_z - out["log_z"])
        out["log_z_sd"] = float(np.sqrt(np.sum((weights * [p["log_z_sd"] for p in parts])
                                               ** 2)))
        for key in ("log_z_lo", "log_z_hi"):
            out[key] = float(np.logaddexp.reduce(np.array([p[key] for p in parts]) + d))
    out["log_z_classes"] = len(d)
    return out
