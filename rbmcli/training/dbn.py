"""Greedy layer-wise training of a Deep Belief Network (``rbm train --model dbn``).

Layer 0 is a Bernoulli RBM on the binarised data (``--binarize``) or a Gaussian RBM on the
standardised data (``--visible gaussian``); layer k > 0 is a Bernoulli RBM trained on
samples of the hidden units of layer k - 1, drawn by a stochastic up pass of the data
afresh at every use (:class:`UpPassRows`). With ``--stack-start flipped`` (the default
without ``--labels``), a layer stacked on a Bernoulli RBM with at least as many hidden
units as that RBM has visible units starts as that RBM turned upside down
(:func:`layer_above`), so the DBN's bound starts at the log-likelihood of the layers below
instead of under it; with ``random`` (the default with ``--labels``) every layer starts
from small random weights, as in Hinton, Osindero & Teh (2006), which gave the labelled
784-500-500-2000 DBN a better classifier (``benchmarks/quality/dbn_start_spread.py``).
Every layer trains for ``--epochs`` epochs with the same method and options, by the
trainers of the single RBMs.

The checkpoint is the DBN model file: the layers trained so far (the last one possibly part
way) and the buffers of the layer in training. ``/state`` ``epoch`` counts epochs over all
layers, so layer k spans epochs ``k E + 1 .. (k + 1) E``; each layer draws its random
numbers from ``numpy.random.default_rng([seed, 1, k])``, whose state is checkpointed, so a
resumed run repeats an uninterrupted one.
"""

from dataclasses import dataclass, field

import numpy as np

from rbmcli.models.dbn import DBN
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.errors import InputError, NotSupported
from rbmcli.io.modelfile import ModelFile, load_model
from rbmcli.training.run import KINDS, TrainingRun, _check_resume_options, load_training_images
from rbmcli.training.rbm import Binarizer, TrainOptions, new_model
from rbmcli.training.batches import MemoryRows
from rbmcli.training.labels import LabelledTrainer, training_labels, with_labels
from rbmcli.training.finetune import FINE_TUNE_OPTIONS, FINE_TUNERS
from rbmcli.training.grbm import GaussianTrainOptions
from rbmcli.pixels import as_unit_float
from rbmcli.io.datasets import load_dataset

VISIBLE = ("binary", "gaussian")


@dataclass
class DBNTrainOptions(GaussianTrainOptions):
    """Options of a DBN (stored as JSON): the layers' sizes, the first layer's visible units,
    and the options every layer is trained with."""

    model: str = "dbn"
    hidden_sizes: list = field(default_factory=lambda: [500, 500, 2000])
    visible: str = "binary"
    lr: float = 0.05
    binarize: str = "threshold"
    first_layer: str = ""   # a model file whose RBM became layer 0 (not trained here)
    stack_start: str = "flipped"  # layers k > 0: "flipped" (layer_above) or "random"
    fine_tune: str = ""     # "up-down" or "backprop": after the greedy layers (FINE_TUNERS)
    fine_tune_epochs: int = 0
    fine_tune_lr: float = 0.0  # 0: --lr for up-down, backprop.DEFAULT_LR for backprop
    fine_tune_momentum: float = None  # None: the method's (updown/backprop.MOMENTUM)
    fine_tune_l2: float = 0.0  # weight decay of the fine-tuned weights
    fine_tune_cd: list = None  # up-down's CD sweeps per part of the epochs (updown.SCHEDULE)
    fine_tune_input: str = None  # up-down's images: "binary" (None) or "grey" (the paper's)

    def to_dict(self):
        """As :meth:`TrainOptions.to_dict`; the fine-tuning options only when set."""
        options = super().to_dict()
        if not options.get("fine_tune"):
            for name in FINE_TUNE_OPTIONS:
                options.pop(name, None)
        return options

    def fine_tune_momentum_or(self, default):
        """``fine_tune_momentum``, or the method's ``default`` when it was not given."""
        return default if self.fine_tune_momentum is None else self.fine_tune_momentum

    def layer_options(self, k):
        """The options of layer ``k`` as a single RBM's options."""
        base = {**self.to_dict(), "n_hidden": int(self.hidden_sizes[k]),
                "seed": int(self.seed) + 1000 * k,
                "labels": bool(self.labels) and k == len(self.hidden_sizes) - 1}
        if k == 0 and self.visible == "gaussian":
            return GaussianTrainOptions.from_dict({**base, "binarize": "none"})
        return TrainOptions.from_dict({**base, "binarize": self.binarize if k == 0
                                       else "stochastic"})


def first_layer_rows(images, opts, model0):
    """Training rows of layer 0 and its *input* for the next layer's up pass: standardised
    values (Gaussian), the binary images (threshold), or the grey levels (stochastic, whose
    mean-field input is the pixel probability)."""
    kind = KINDS["grbm" if opts.visible == "gaussian" else "rbm"]
    rows = kind.data(images, opts.layer_options(0), model0)
    if opts.visible == "gaussian":
        return rows, rows.images
    if opts.binarize == "threshold":
        return rows, rows.rows(np.arange(len(rows)), None)
    return rows, as_unit_float(images)


def given_first_layer(opts, n_visible):
    """The RBM of ``opts.first_layer`` as layer 0, checked against the DBN's options:
    the unit types, sizes and binarisation must be those layer 0 would have had."""
    mf = load_model(opts.first_layer)
    path, layer = opts.first_layer, mf.model
    want = "gaussian-rbm" if opts.visible == "gaussian" else "bernoulli-rbm"
    if layer.model_type != want:
        raise InputError(f"holds a {layer.model_type}; layer 0 of this DBN is a {want}", path)
    if (layer.n_visible, layer.n_hidden) != (n_visible, opts.hidden_sizes[0]):
        raise InputError(f"holds a {layer.n_visible}-{layer.n_hidden} RBM; layer 0 of this "
                         f"DBN is {n_visible}-{opts.hidden_sizes[0]}", path)
    if layer.dtype != np.dtype(opts.dtype):
        raise InputError(f"holds {layer.dtype} parameters; this DBN uses --dtype {opts.dtype}",
                         path)
    if want == "bernoulli-rbm" and mf.binarization != opts.binarize:
        raise InputError(f"was trained on {mf.binarization}-binarised data; this DBN uses "
                         f"--binarize {opts.binarize}", path)
    return layer


class DBNRun(TrainingRun):
    """One ``rbm train --model dbn`` invocation: :class:`TrainingRun` run layer by layer."""

    @classmethod
    def start(cls, data, output, resume, given, options, validate, log, memory=None):
        images, image_shape = load_training_images(data, output, log, memory)
        epochs = options.pop("epochs")
        options.pop("model", None)
        if resume:
            mf = load_model(output)
            if mf.model.kind != DBN.kind:
                raise InputError(f"checkpoint is a {mf.model.model_type}, not --model dbn",
                                 output)
            opts = DBNTrainOptions.from_dict(mf.hyperparameters)
            _check_resume_options(opts, options, given, output)
            for name in FINE_TUNE_OPTIONS:  # added on resume
                if name in options:
                    setattr(opts, name, options[name])
            if epochs != opts.epochs:
                # a layer's training data come from the layers below: once a layer is
                # done, training one below it again would invalidate the ones above
                raise InputError(f"a DBN resumes with the --epochs per layer it started with "
                                 f"({opts.epochs}), not {epochs}", output)
            if mf.epoch >= epochs * len(opts.hidden_sizes) + _fine_tune_epochs(opts):
                raise InputError(f"already trained: {len(opts.hidden_sizes)} layers x {epochs} "
                                 "epochs" + (f" and {opts.fine_tune_epochs} of fine-tuning"
                                             if opts.fine_tune else ""), output)
            log(f"resuming {output} at epoch {mf.epoch} (over all layers)")
        else:
            opts = DBNTrainOptions(epochs=epochs, **options)
            mf = None
        opts.epochs = epochs
        if opts.fine_tune == "up-down" and not opts.labels:
            raise NotSupported("up-down needs the top RBM's label units: add --labels",
                               "fine_tune")
        if opts.fine_tune and opts.visible == "gaussian":
            raise NotSupported(f"{opts.fine_tune} is for binary visible units, not --visible "
                               "gaussian", "fine_tune")
        valid_images = valid_labels = None
        if validate:
            vds = load_dataset(validate)
            valid_images, valid_labels = vds.images, vds.labels
            if valid_images.shape[1] != images.shape[1]:
                raise InputError(f"has {valid_images.shape[1]} pixels per image, the training "
                                 f"data {images.shape[1]}", validate)
        if mf is None:
            data_mean = as_unit_float(images).mean(axis=0, dtype=np.float64) \
                if opts.visible == "gaussian" else Binarizer(images, opts.binarize).mean()
            mf = ModelFile(model=None, hyperparameters=opts.to_dict(),
                           image_shape=tuple(image_shape),
                           binarization="none" if opts.visible == "gaussian" else opts.binarize,
                           data_mean=data_mean)
            if opts.first_layer:
                mf.model = DBN([given_first_layer(opts, images.shape[1])])
                mf.epoch = epochs
                log(f"layer 0: {opts.first_layer} (not trained here)")
        else:
            mf.hyperparameters = opts.to_dict()
        mf.check_training_data(images, data or "the synthetic digits", log)
        run = cls(mf, None, output, epochs, log, saved_epoch=mf.epoch if resume else None)
        run.opts, run.images, run.valid_images = opts, images, valid_images
        # of the top layer, and what backprop fine-tuning learns to predict
        run.labels = None
        if opts.labels or opts.fine_tune == "backprop":
            run.labels = training_labels(
                data, option="--labels" if opts.labels else "--fine-tune backprop")
        run.valid_labels = valid_labels
        return run

    @property
    def greedy_epochs(self):
        return self.opts.epochs * len(self.opts.hidden_sizes)

    @property
    def total_epochs(self):
        return self.greedy_epochs + _fine_tune_epochs(self.opts)

    def run_epochs(self):
        """Train the layers in turn, each for ``epochs`` epochs, checkpointing every epoch."""
        opts, E = self.opts, self.opts.epochs
        layers = list(self.mf.model.layers) if self.mf.model is not None else []
        while self.mf.epoch < self.greedy_epochs:
            k = self.mf.epoch // E
            lopts = opts.layer_options(k)
            kind = KINDS["grbm" if isinstance(lopts, GaussianTrainOptions) else "rbm"]
            if k == 0:
                model = layers[0] if layers else \
                    kind.model_and_rows(lopts, self.images, None, None)[0]
                train, _ = first_layer_rows(self.images, opts, model)
                valid = None if self.valid_images is None else \
                    first_layer_rows(self.valid_images, opts, model)[0]
            else:
                train = UpPassRows(first_layer_rows(self.images, opts, layers[0])[0],
                                   layers[:k], np.random.default_rng([opts.seed, 4, k]))
                valid = None if self.valid_images is None else UpPassRows(
                    first_layer_rows(self.valid_images, opts, layers[0])[0], layers[:k],
                    np.random.default_rng([opts.seed, 5, k]))
                above = layers[k] if len(layers) > k else None
                if above is None and opts.stack_start == "flipped":
                    above = layer_above(layers[k - 1], lopts.n_hidden,
                                        np.random.default_rng([opts.seed, 3, k]))
                if len(layers) <= k and above is not None:
                    self.log(f"layer {k}: starts as layer {k - 1} turned upside down "
                             f"(weights transposed, {above.n_hidden - layers[k - 1].n_visible} "
                             f"more hidden units with tiny weights), i.e. at the prior "
                             f"layer {k - 1} implies over its hidden units")
                model = above or new_model(lopts, train)
            if len(layers) <= k:
                layers.append(model)
                self.mf.state, self.mf.rng_state = {}, None
            rng = np.random.default_rng([opts.seed, 1, k])
            if self.mf.rng_state:
                rng.bit_generator.state = self.mf.rng_state
            self.log(f"layer {k}: {model.model_type} {model.n_visible}-{model.n_hidden}, "
                     f"epochs {k * E + 1}-{(k + 1) * E}")
            trainer_class = kind.trainer
            if lopts.labels:  # the top layer of a DBN --labels: a class RBM
                model, train, valid = with_labels(model, train, valid, self.labels,
                                                  self.valid_labels, lopts.seed)
                layers[k] = model
                trainer_class = LabelledTrainer
            self.trainer = trainer_class(model, lopts, train, valid, rng, state=self.mf.state)
            self.trainer.run_epoch = _with_layer(self.trainer.run_epoch, k, E, opts)
            self.mf.state = self.trainer.state
            self.mf.model = DBN(layers)
            self.epochs = (k + 1) * E
            super().run_epochs()
        if self.mf.epoch < self.total_epochs:
            self._fine_tune()
        self.epochs = self.total_epochs

    def _fine_tune(self):
        """Fine-tuning of the whole DBN after the greedy epochs (:data:`FINE_TUNERS`:
        up-down or backprop): prepared on entry (with a fresh state and RNG stream
        ``[seed, 2]``), then checkpointed every epoch like the layers."""
        opts, dbn = self.opts, self.mf.model
        tuner = FINE_TUNERS[opts.fine_tune]
        if tuner.prepare(dbn, self.labels):
            self.mf.state, self.mf.rng_state = {}, None
            history = self.mf.history  # fine-tuning added on --resume: rows line up
            if history and "cd_steps" not in history:
                history["cd_steps"] = np.full(len(history["epoch"]), np.nan)
        rng = np.random.default_rng([opts.seed, 2])
        if self.mf.rng_state:
            rng.bit_generator.state = self.mf.rng_state
        self.log(f"{opts.fine_tune} fine-tuning of the DBN, epochs {self.greedy_epochs + 1}-"
                 f"{self.total_epochs}")
        self.trainer = tuner.trainer(self, rng)
        self.trainer.run_epoch = _with_layer(self.trainer.run_epoch, len(dbn.layers), 0, opts)
        self.mf.state = self.trainer.state
        self.epochs = self.total_epochs
        super().run_epochs()


class UpPassRows(MemoryRows):
    """Training rows of layer ``k`` > 0: binary states of the hidden units of layer
    ``k - 1``, drawn by a stochastic up pass afresh at every use. The first layer's rows
    are drawn as that layer trained on them (a stochastic binarisation redrawn; threshold
    or standardised rows as they are), then ``h_l ~ P(h_l | h_{l-1})`` layer by layer.

    These are samples of the posterior ``q(h | v)`` the DBN's variational bound averages
    over (Salakhutdinov & Murray 2008), so the layer above learns the distribution its
    bound is scored on. A mean-field pass of the grey levels, ``P(h | E[v])``, is a
    different distribution: an upper layer trained on it modelled the first layer's
    hidden units worse than that RBM's own prior, and the bound fell below the first
    layer.

    Parameters
    ----------
    first : Binarizer or rbmcli.training.grbm.StandardizedData
        The first layer's training rows (``images``: (N, D) of the data).
    layers : list of RBMs
        Layers ``0 .. k-1``.
    mean_rng : numpy.random.Generator
        Draws the one pass of :meth:`mean` (fixed, so a resumed run gets the same mean).
    """

    def __init__(self, first, layers, mean_rng):
        self.first, self.layers = first, list(layers)
        self.images = first.images  # (N, D) of the data: the number of rows
        self._mean = None
        self._mean_rng = mean_rng

    def rows(self, index, rng):
        """Binary states (len(index), n_hidden of layer k-1) uint8 of the rows at ``index``."""
        x = self.first.rows(index, rng)
        for layer in self.layers:
            P = layer.hidden_probs(x)
            x = (rng.random(P.shape, dtype=P.dtype) < P).astype(np.uint8)
        return x

    def mean(self):
        """Per-unit probability of a 1 (n,) float64: the mean of ``P(h_{k-1} | h_{k-2})``
        over one stochastic pass below it (for the new layer's visible biases and the
        centering offsets)."""
        if self._mean is None:
            total = 0.0
            for start in range(0, len(self), ROWS_PER_PASS):
                index = np.arange(start, min(len(self), start + ROWS_PER_PASS))
                x = self.first.rows(index, self._mean_rng)
                for layer in self.layers[:-1]:
                    P = layer.hidden_probs(x)
                    x = (self._mean_rng.random(P.shape, dtype=P.dtype) < P).astype(np.uint8)
                total = total + self.layers[-1].hidden_probs(x).sum(axis=0, dtype=np.float64)
            self._mean = total / len(self)
        return self._mean


ROWS_PER_PASS = 4096
"""Rows per block of :meth:`UpPassRows.mean`."""


def _fine_tune_epochs(opts):
    return opts.fine_tune_epochs if opts.fine_tune else 0


EXTRA_SCALE = 1e-3
"""Standard deviation of the weights of the hidden units :func:`layer_above` adds beyond
the copies of the layer below's visible units: enough to tell them apart, too little to
move the prior they start from (each adds about ``EXTRA_SCALE * sqrt(active units)``
nats)."""


def layer_above(below, n_hidden, rng, extra_scale=EXTRA_SCALE):
    """The starting point of the RBM stacked on ``below``: ``below`` turned upside down.

    Its visible units are ``below``'s hidden units, and its first ``below.n_visible``
    hidden units copy ``below``'s visible units (weights ``W.T``, visible bias ``c``,
    hidden biases ``b``). The marginal of this RBM over its visible units is then the
    prior ``p(h) = sum_v exp(-E(v, h)) / Z`` that ``below`` implies over its hidden
    units; the other ``n_hidden - below.n_visible`` hidden units start with zero bias
    and weights ``N(0, extra_scale^2)`` (exactly zero would add a constant and change
    nothing, but would also keep them identical forever). So the DBN's variational bound
    starts at the log-likelihood of the layers below (for two layers: of the first RBM,
    since its ``q(h | v)`` is its exact posterior), and the greedy step improves it from
    there (Hinton, Osindero & Teh 2006, section 4). Training a fresh random layer instead
    put a 784-500-2000 DBN's bound 10.9 nats below its first layer.

    Parameters
    ----------
    below : rbmcli.models.base.Model
        The layer below; only a Bernoulli RBM has an RBM prior over its hidden units.
    n_hidden : int
        Hidden units of the new layer.
    rng : numpy.random.Generator
    extra_scale : float

    Returns
    -------
    BernoulliRBM or None
        None when ``below`` is not a Bernoulli RBM or ``n_hidden < below.n_visible``
        (then the new layer starts from the usual random weights).
    """
    if type(below) is not BernoulliRBM or n_hidden < below.n_visible:
        return None
    nv, nh = below.n_visible, below.n_hidden
    dtype = below.dtype
    weights = (extra_scale * rng.standard_normal((nh, n_hidden))).astype(dtype)
    weights[:, :nv] = below.weights.T
    hidden_bias = np.zeros(n_hidden, dtype)
    hidden_bias[:nv] = below.visible_bias
    return BernoulliRBM(weights, below.hidden_bias.copy(), hidden_bias)


def _with_layer(run_epoch, k, epochs_per_layer, opts):
    """``run_epoch(epoch, on_batch)`` of layer ``k`` called with the epoch over all layers:
    the trainer sees the epoch within its layer (for the lr and momentum schedules), and
    the metrics also name the layer (L: the whole DBN's fine-tuning; and hold sigma_mean
    for every layer, NaN for Bernoulli ones, and with labels the class errors, NaN below
    the top, and with fine-tuning its ``cd_steps``, so that history rows line up)."""
    blank = {"class_error_train": np.nan, "class_error_valid": np.nan} if opts.labels else {}
    if opts.fine_tune:
        blank["cd_steps"] = np.nan

    def run(epoch=0, on_batch=None):
        metrics = run_epoch(epoch - k * epochs_per_layer, on_batch=on_batch)
        return {"layer": k, "sigma_mean": np.nan, **blank, **metrics}
    return run
