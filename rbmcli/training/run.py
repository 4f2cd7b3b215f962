"""A training run as the CLI sees it: data, model, checkpoints, history and pictures.

:class:`TrainingRun` glues :mod:`rbmcli.training.rbm` to files: it loads the data (or the
embedded synthetic digits; or streams a data file larger than the ``--memory`` budget,
:mod:`rbmcli.training.batches`), starts a new model or resumes one from its checkpoint,
saves a checkpoint after every epoch (atomically), and stops on NaN keeping the last
good checkpoint on disk.
"""

import os
import signal
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rbmcli import compiling, interrupts
from rbmcli.errors import InputError
from rbmcli.io.modelfile import ModelFile, load_model, save_model
from rbmcli.training.rbm import Binarizer, Trainer, TrainingDiverged, TrainOptions, format_metrics, new_model
from rbmcli.training.labels import LabelledTrainer, training_labels, with_labels
from rbmcli.training.grbm import GaussianTrainer, GaussianTrainOptions, StandardizedData, new_grbm
from rbmcli.progress import ProgressBar
from rbmcli.io.synthetic import synthetic_digits
from rbmcli.io.datasets import ImageFile, load_dataset, open_image_file, split_spec
from rbmcli.io.images import save_filters, save_grid
from rbmcli.memory import size_text
from rbmcli.training.batches import StreamedRows, StreamPlan, plan_stream


def _open_images(spec):
    """(images (N, D), image_shape, source) of a data spec: an :class:`ImageFile` (read on
    demand) for a file, arrays for standard input, a Dataset or the synthetic digits."""
    if spec is None:
        images, _ = synthetic_digits(10000, seed=0)
        return images, (28, 28), "embedded synthetic digits"
    if isinstance(spec, str) and split_spec(spec)[0] != "-":
        images = open_image_file(spec)
        return images, images.image_shape, images.source
    ds = load_dataset(spec)
    return ds.images, ds.image_shape, ds.source


def training_rows(images, convert, plan, seed, mean=None):
    """The training rows of ``images``: ``convert(images)`` in memory (``plan`` None), else
    :class:`rbmcli.training.batches.StreamedRows` reading the file by ``plan`` (``mean``:
    their mean when known without a pass over the file)."""
    if plan is None:
        return convert(images)
    return StreamedRows(images, convert, plan, seed, mean=mean)


def _rbm_rows(opts, images, plan, model):
    """(model, training rows) of a Bernoulli RBM: ``model``, or a new one whose visible
    biases come from the mean of the rows."""
    train = training_rows(images, lambda raw: Binarizer(raw, opts.binarize), plan, opts.seed)
    return model or new_model(opts, train), train


def _grbm_rows(opts, images, plan, model):
    """(model, training rows) of a Gaussian RBM: ``model``, or a new one whose
    standardisation is fitted to ``images``; the rows are standardised by it."""
    model = model or new_grbm(opts, images, plan and plan.chunk_rows)
    std = model.standardizer
    train = training_rows(images, lambda raw: StandardizedData(raw, std, model.dtype), plan,
                          opts.seed, mean=np.asarray(std.mean, np.float64))
    return model, train


@dataclass(frozen=True)
class ModelKind:
    """How ``rbm train --model NAME`` makes, feeds and trains one kind of single RBM."""

    name: str
    model_type: str
    options: type
    model_and_rows: Callable  # (options, images (N, D), plan or None, model or None)
    #                           -> (model, training rows): a new model when None is given
    data: Callable        # (images, options, model) -> training rows (.rows(index, rng))
    trainer: type
    copy_bytes: Callable  # (options, D) -> bytes per row of the copy training makes


KINDS = {
    "rbm": ModelKind("rbm", "bernoulli-rbm", TrainOptions, _rbm_rows,
                     lambda images, opts, model: Binarizer(images, opts.binarize), Trainer,
                     lambda opts, d: d if opts.binarize == "threshold" else 0),
    "grbm": ModelKind("grbm", "gaussian-rbm", GaussianTrainOptions, _grbm_rows,
                      lambda images, opts, model: StandardizedData(
                          images, model.standardizer, model.dtype), GaussianTrainer,
                      lambda opts, d: np.dtype(opts.dtype).itemsize * d),
}


def open_training_images(data, output, log):
    """(images (N, D), image_shape) of DATA (or the synthetic digits, saying so), after
    checking that the folder of ``output`` exists; a data file is an :class:`ImageFile`,
    not read yet."""
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write: no such directory {folder!r}", output)
    images, image_shape, source = _open_images(data)
    if data is None:
        log(f"no DATA given: training on the {source}")
    return images, image_shape


def load_training_images(data, output, log, memory=None, model="dbn"):
    """:func:`open_training_images`, read whole: (images (N, D) array, image_shape).
    InputError when a file's images take more than ``memory`` bytes (None: no limit):
    ``--model`` ``model`` trains in memory."""
    images, image_shape = open_training_images(data, output, log)
    if isinstance(images, ImageFile):
        if memory is not None and images.nbytes > memory:
            raise InputError(f"--model {model} trains in memory and the images take "
                             f"{size_text(images.nbytes)}, more than --memory "
                             f"{size_text(memory)}", data)
        images = load_dataset(data).images
    return images, image_shape


def stream_plan(images, kind, opts, memory, resumed, log):
    """How to stream the training ``images`` within ``memory`` bytes (None: no limit),
    or None to train in memory. ``resumed``: the ModelFile of the checkpoint resumed, or
    None; its plan (``/state/stream_plan``) is kept when its buffers fit, so the run goes
    on as it began."""
    if not isinstance(images, ImageFile):  # arrays, standard input: already in memory
        return None
    d = images.shape[1]
    row_bytes = images.dtype.itemsize * d + kind.copy_bytes(opts, d)
    saved = resumed.state.get("stream_plan") if resumed is not None else None
    if saved is not None:
        plan = StreamPlan.from_state(saved)
        rows = plan.chunk_rows * plan.buffer_chunks + opts.batch_size - 1
        if memory is None or rows * row_bytes <= memory:
            return plan
        log(f"the checkpoint's buffers of {rows} rows do not fit --memory "
            f"{size_text(memory)}: streaming with smaller ones (so the batches differ "
            "from those of an uninterrupted run)")
    plan = plan_stream(len(images), row_bytes, memory, opts.batch_size, images.storage_rows)
    if plan is not None and resumed is not None and saved is None:
        log(f"the checkpoint was trained in memory and the data exceed --memory "
            f"{size_text(memory)}: streaming from now on (so the batches differ from those "
            "of an uninterrupted run)")
    return plan


COMPILING = "compiling kernels (first run only)"
"""The start of the lines said while Numba compiles (a new install's first run)."""


class _Stop(Exception):
    """Raised from the trainer's ``on_batch`` when a signal asks the run to stop."""


class TrainingRun:
    """One ``rbm train`` invocation (use :meth:`start`)."""

    def __init__(self, mf, trainer, output, epochs, log, saved_epoch=None):
        self.mf = mf
        self.saved_epoch = saved_epoch  # the epoch the file on disk holds, None: not ours
        self.trainer = trainer
        self.output = output
        self.epochs = epochs
        self.log = log
        self._stop = interrupts.Trap(False)

    @property
    def epoch(self):
        return self.mf.epoch

    @classmethod
    def start(cls, data, output, resume, given, options, validate, log, memory=None):
        """Load data and make or resume the model; ``given`` names the options the user
        typed (with --resume they must agree with the checkpoint). Training data whose
        rows take more than ``memory`` bytes (None: no limit) are streamed from their file
        (:func:`stream_plan`)."""
        images, image_shape = open_training_images(data, output, log)
        epochs = options.pop("epochs")
        kind = KINDS[options.pop("model", "rbm")]
        if resume:
            mf = load_model(output)
            if mf.model.model_type != kind.model_type and "model" in given:
                raise InputError(f"checkpoint is a {mf.model.model_type}, not --model "
                                 f"{kind.name}", output)
            kind = next(k for k in KINDS.values() if k.model_type == mf.model.model_type)
            opts = kind.options.from_dict(mf.hyperparameters)
            _check_resume_options(opts, options, given, output)
            if mf.model.n_visible != images.shape[1]:
                raise InputError(f"has {images.shape[1]} pixels per image but the model in "
                                 f"{output} has {mf.model.n_visible} visible units",
                                 data or "the synthetic digits")
            if mf.epoch >= epochs:
                raise InputError(f"already trained for {mf.epoch} epochs; pass --epochs N "
                                 f"with N > {mf.epoch} to continue", output)
            log(f"resuming {output} at epoch {mf.epoch}")
        else:
            opts = kind.options(epochs=epochs, **options)
            mf = None
        opts.epochs = epochs
        plan = stream_plan(images, kind, opts, memory, mf, log)
        if plan is None and isinstance(images, ImageFile):
            images = load_dataset(data).images
        elif plan is not None:
            if opts.labels:
                raise InputError(f"--labels trains in memory and the images take "
                                 f"{size_text(images.nbytes)}, more than --memory "
                                 f"{size_text(memory)}", data)
            partial = images.storage_rows and plan.chunk_rows < images.storage_rows
            log(f"streaming {images.source} ({size_text(images.nbytes)}) within --memory "
                f"{size_text(memory)}: {plan.buffer_chunks} chunks of {plan.chunk_rows} "
                f"rows at a time" + (f" (parts of the file's storage chunks of "
                                     f"{images.storage_rows} rows: slow reads)"
                                     if partial else ""))
        model, train = kind.model_and_rows(opts, images, plan, mf and mf.model)
        valid = vds = None
        if validate:
            vds = load_dataset(validate)
            if vds.images.shape[1] != images.shape[1]:
                raise InputError(f"has {vds.images.shape[1]} pixels per image, the training "
                                 f"data {images.shape[1]}", validate)
            valid = kind.data(vds.images, opts, model)
        trainer_class = kind.trainer
        if opts.labels:  # a class RBM: label units, and the labels with the rows
            model, train, valid = with_labels(model, train, valid, training_labels(data),
                                              None if vds is None else vds.labels, opts.seed)
            trainer_class = LabelledTrainer
        rng = np.random.default_rng([opts.seed, 1])
        if mf is None:
            mf = ModelFile(model=model, hyperparameters=opts.to_dict(),
                           image_shape=tuple(image_shape), binarization=opts.binarize,
                           data_mean=train.mean())
        else:
            mf.hyperparameters = opts.to_dict()
            if mf.data_mean is None:  # a file from before data_mean was stored
                mf.data_mean = train.mean()
            if mf.rng_state:
                rng.bit_generator.state = mf.rng_state
        mf.check_training_data(images if plan is None else train,
                               data or "the synthetic digits", log)
        trainer = trainer_class(mf.model, opts, train, valid, rng, state=mf.state)
        if plan is not None:
            trainer.state["stream_plan"] = plan.as_state()
        mf.state = trainer.state
        return cls(mf, trainer, output, epochs, log, saved_epoch=mf.epoch if resume else None)

    def run_epochs(self):
        """Train until ``epochs`` (or :meth:`finished`); checkpoint after each; stop
        with InputError on NaN.

        SIGINT (and, under the CLI's trap, SIGTERM) only sets a flag
        (:mod:`rbmcli.interrupts`), looked at after every batch and at every epoch
        boundary: an epoch cut short goes back to its start, is saved as an interrupted
        checkpoint (so --resume matches an uninterrupted run), and
        :class:`rbmcli.interrupts.Interrupted` says which epoch the file holds.
        """
        with interrupts.trap((signal.SIGINT,), raising=True) as stop, \
                compiling.watch(on_start=self._compiling_starts) as clock:
            self._stop = stop
            while not self.finished():
                compiled = clock.seconds
                self._check_stop()
                label = f"epoch {self.mf.epoch + 1}/{self.epochs}"
                bar = ProgressBar(label)
                snap = self.trainer.snapshot()
                try:
                    # overflow on the way to NaN is detected and reported as divergence
                    # below, not as a screen of RuntimeWarnings first
                    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                        metrics = self.trainer.run_epoch(self.mf.epoch,
                                                         on_batch=self._batch_done(bar))
                except (_Stop, KeyboardInterrupt):
                    stop.raising = False  # a second signal waits for the save
                    bar.close()
                    self.trainer.restore(snap)
                    self.save(interrupted=True)
                    self._check_stop(signal.SIGINT)
                except TrainingDiverged as err:
                    bar.close()
                    kept = (f"{self.output} keeps epoch {self.saved_epoch}"
                            if self.saved_epoch is not None else
                            f"nothing was saved ({self.output} is unchanged)"
                            if os.path.exists(self.output) else "nothing was saved")
                    raise InputError(f"training diverged in {label}: {err}; {kept}; "
                                     f"{self.diverged_hint()}", self.output) from None
                finally:
                    bar.close()
                self.mf.epoch += 1
                if clock.seconds > compiled:
                    # the epoch's metrics["seconds"] leave this out (Trainer.run_epoch)
                    self.log(f"{COMPILING}: {clock.seconds - compiled:.1f} s")
                self.epoch_done(metrics)
            self._check_stop()
        self.warn_if_worse_than_the_mean()

    def warn_if_worse_than_the_mean(self):
        """Say so on stderr when the last epoch's reconstruction error is more than
        :data:`MEAN_ROW_FACTOR` times that of reconstructing every training row as their
        mean: parameters that stayed finite but do not fit the data (most often a
        learning rate far too high), which would otherwise end like a good run."""
        rows = getattr(self.trainer, "eval_train", None)
        errors = self.mf.history.get("mser_train")
        if rows is None or errors is None or not len(errors):
            return
        x = np.asarray(rows, np.float64)
        baseline = float(np.mean((x - x.mean(axis=0)) ** 2))
        if errors[-1] > MEAN_ROW_FACTOR * baseline:
            self.log(f"warning: the reconstruction error {errors[-1]:.4g} is more than "
                     f"{MEAN_ROW_FACTOR} times {baseline:.4g}, that of the mean row in place "
                     f"of every row: the model does not fit the data; if more epochs do not "
                     f"help, {self.diverged_hint()}")

    def _compiling_starts(self):
        """Said when Numba starts compiling kernels (a cold cache) during the epochs."""
        self.log(f"{COMPILING}...")

    def diverged_hint(self):
        """What to try after a divergence."""
        return f"try a smaller --lr (now {self.trainer.options.lr})"

    def _batch_done(self, bar):
        """The trainer's ``on_batch``: the progress bar, then a look at the stop flag."""
        def on_batch(done, total):
            # until the first batch is done (Numba compiles it, which can take long) a
            # signal raises KeyboardInterrupt at once; from then on it is only noted
            self._stop.raising = False
            bar.update(done, total)
            if self._stop.stopped:
                raise _Stop
        return on_batch

    def _check_stop(self, signum=None):
        """Raise Interrupted when a signal came (or ``signum`` is given: a
        KeyboardInterrupt not from our handler), after saving the current epoch if the
        file does not hold it yet."""
        signum = self._stop.signum or signum
        if signum is None:
            return
        if self.saved_epoch != self.mf.epoch:
            self.save(interrupted=True)
        raise interrupts.Interrupted(signum, self.saved_epoch, self.output)

    def finished(self):
        """True when no epoch is left to run."""
        return self.mf.epoch >= self.epochs

    on_epoch = None
    """``on_epoch(epoch, epochs, metrics)`` after each epoch's checkpoint, or None (the
    Python API's progress callback)."""

    def epoch_done(self, metrics):
        """After each epoch: record the metrics, checkpoint, log a line."""
        self._append_history(metrics)
        self.save()
        self.log(format_metrics(self.mf.epoch, self.epochs, metrics))
        if self.on_epoch:
            self.on_epoch(self.mf.epoch, self.epochs, metrics)

    def _append_history(self, metrics):
        hist = self.mf.history
        row = {"epoch": self.mf.epoch, **metrics}
        for name, value in row.items():
            value = np.asarray(value, np.float64)[None]
            hist[name] = value if name not in hist else np.concatenate([hist[name], value])

    def save(self, interrupted=False):
        """Write the model with its history and training state to ``output``."""
        self.mf.rng_state = self.trainer.rng.bit_generator.state
        self.mf.interrupted = interrupted
        save_model(self.output, self.mf)
        self.saved_epoch = self.mf.epoch

    def write_pictures(self):
        """OUTPUT-samples.png (64 chains from noise by the model's own sampler: Gibbs,
        1000 sweeps or K for a model trained with ``--cd K --cd-from noise``; a DBN's run
        in its top RBM) and OUTPUT-filters.png (the first layer's first 100 hidden units'
        weights)."""
        stem = os.path.splitext(self.output)[0]
        model = self.mf.model
        rng = np.random.default_rng([int(self.mf.hyperparameters.get("seed", 0)), 3])
        result = model.sample(64, rng, method="gibbs")
        save_grid(f"{stem}-samples.png", result.images, self.mf.image_shape)
        save_filters(f"{stem}-filters.png", model.filters(), self.mf.image_shape)
        self.log(f"wrote {self.output}, {stem}-samples.png (64 chains from noise: "
                 f"{result.label}) and {stem}-filters.png")


MEAN_ROW_FACTOR = 3
""":meth:`TrainingRun.warn_if_worse_than_the_mean` warns above this many times the error
of the mean row. A model early in training (small weights, reconstructions near the
mean) sits near 1; tiny test models after a few epochs reach 2; a GRBM at ``--lr 5`` was
230."""


def _check_resume_options(saved, typed, given, output):
    """With --resume, options the user typed must match the checkpoint's."""
    names = {"hidden": "n_hidden", "cd": "steps", "pcd": "steps", "pt": "steps"}
    for flag in given:
        key = names.get(flag, flag)
        new = typed.get(key)
        if flag in ("cd", "pcd", "pt") and saved.method != flag:
            raise InputError(f"checkpoint was trained with --{saved.method}, not --{flag}", output)
        if new is not None and getattr(saved, key) != new:
            raise InputError(f"checkpoint has --{flag.replace('_', '-')} "
                             f"{getattr(saved, key)}, not {new}", output)
