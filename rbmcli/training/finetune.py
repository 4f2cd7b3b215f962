"""How a DBN is fine-tuned after its greedy layers (``rbm train --model dbn --fine-tune
METHOD``): for each method, how the DBN is prepared once (untied weights, or a
feed-forward classifier beside it) and the trainer of its epochs, which
:class:`rbmcli.training.dbn.DBNRun` checkpoints like the greedy ones."""

import numpy as np

from rbmcli.errors import InputError
from rbmcli.models.classifier import FeedForwardClassifier
from rbmcli.training.backprop import BackpropTrainer
from rbmcli.training.labels import LabelledData
from rbmcli.training.rbm import Binarizer
from rbmcli.training.updown import UpDownTrainer

FINE_TUNE_OPTIONS = ("fine_tune", "fine_tune_epochs", "fine_tune_lr", "fine_tune_momentum",
                     "fine_tune_l2", "fine_tune_cd", "fine_tune_input")
"""The options of ``--fine-tune`` (stored only when it is used; may be added on resume)."""


class UpDown:
    """``--fine-tune up-down`` (:mod:`rbmcli.training.updown`)."""

    @staticmethod
    def prepare(dbn, labels):
        """Untie the DBN's weights (once); True when that happened now."""
        if dbn.untied:
            return False
        dbn.untie()
        return True

    @staticmethod
    def trainer(run, rng):
        opts, dbn = run.opts, run.mf.model
        units = dbn.top.labels
        rows = LabelledData(Binarizer(run.images, opts.binarize), units.index(run.labels))
        train = GreyLevels(rows) if opts.fine_tune_input == "grey" else rows
        valid = None if run.valid_images is None else LabelledData(
            Binarizer(run.valid_images, opts.binarize),
            None if run.valid_labels is None else units.index(run.valid_labels))
        return UpDownTrainer(dbn, opts, train, valid, run.greedy_epochs, rng, run.mf.state,
                             eval_rows=rows)


class GreyLevels:
    """Labelled training rows (a :class:`LabelledData`) as their grey levels: ``rows``
    gives (len(index), D) float32 in [0, 1] instead of binary rows (``--fine-tune-input
    grey``); ``labels``, ``images`` and ``len`` are those of the rows."""

    def __init__(self, rows):
        self.labels, self.images = rows.labels, rows.images
        self.scale = np.float32(rows.source.scale)  # uint8 pixels: 1/255; floats: 1

    def __len__(self):
        return len(self.labels)

    def rows(self, index, rng):
        return np.asarray(self.images[index], np.float32) * self.scale


class Backprop:
    """``--fine-tune backprop`` (:mod:`rbmcli.training.backprop`)."""

    @staticmethod
    def classes(dbn, labels):
        return dbn.top.labels.classes if dbn.top.labels is not None else np.unique(labels)

    @staticmethod
    def prepare(dbn, labels):
        """Give the DBN its feed-forward classifier (once); True when that happened now."""
        if dbn.classifier is not None:
            return False
        dbn.classifier = FeedForwardClassifier.from_dbn(dbn, Backprop.classes(dbn, labels))
        return True

    @staticmethod
    def trainer(run, rng):
        dbn = run.mf.model
        classes = dbn.classifier.classes

        def inputs(images, labels, what):
            index = None
            if labels is not None:
                index = np.searchsorted(classes, labels)
                unknown = (index >= len(classes)) | (classes[np.minimum(
                    index, len(classes) - 1)] != labels)
                if unknown.any():
                    raise InputError(f"{what} has label {labels[unknown][0]}, not one of the "
                                     f"classifier's classes {classes.tolist()}")
            return dbn.up_input(images).astype(dbn.dtype), index

        X, y = inputs(run.images, run.labels, "the training data")
        train = (Binarizer(run.images, run.opts.binarize).rows, X, y)
        valid = None if run.valid_images is None else \
            inputs(run.valid_images, run.valid_labels, "the validation data")
        return BackpropTrainer(dbn, run.opts, train, valid, run.greedy_epochs, rng,
                               run.mf.state)


FINE_TUNERS = {"up-down": UpDown, "backprop": Backprop}
"""``--fine-tune`` -> how the DBN is prepared for it and its trainer."""
