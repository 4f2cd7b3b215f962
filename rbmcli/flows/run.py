"""``rbm train --model nice|realnvp|glow|maf`` as the CLI sees it: data, model, checkpoints,
early stopping, history and pictures (the flow counterpart of :mod:`rbmcli.training.run`).
"""

import os

import numpy as np

from rbmcli.errors import InputError
from rbmcli.flows.data import as_pixels, to_unit
from rbmcli.io.flowfile import FlowFile, save_flow
from rbmcli.flows.train import FlowOptions, FlowTrainer, format_flow_metrics
from rbmcli.training.run import TrainingRun, load_training_images
from rbmcli.io.datasets import load_dataset
from rbmcli.flows.model import FlowModel
from rbmcli.io.modelfile import load_model
from rbmcli.io.images import save_grid

# option name -> FlowOptions field, for the --resume consistency check
ARCHITECTURE_OPTIONS = {"model": "model", "layers": "layers", "hidden_units": "hidden_units",
                        "hidden_layers": "hidden_layers", "dtype": "dtype", "seed": "seed",
                        "holdout": "holdout"}


def split_validation(images, holdout, spec):
    """(train, valid) pixels: the last ``holdout`` images are held out (MAF's 50,000 /
    10,000 split of MNIST's training set with the default 10,000)."""
    if holdout <= 0:
        return images, None
    if holdout >= len(images):
        raise InputError(f"has {len(images)} images; --holdout {holdout} leaves none to "
                         "train on", spec)
    return images[:-holdout], images[-holdout:]


FEW_IMAGES = 100
"""Below this many training images a divergence is blamed on the data, not on --lr."""


class FlowTrainingRun(TrainingRun):
    """One ``rbm train --model FLOW`` invocation (use :meth:`start`); the epoch loop,
    interrupt handling and NaN guard are :class:`TrainingRun`'s."""

    def diverged_hint(self):
        """On a handful of images the likelihood of a flow has no maximum (it can put
        ever more density on them), so the learning rate is rarely the cause there."""
        n = len(self.trainer.train)
        if n < FEW_IMAGES:
            images = "1 training image is" if n == 1 else f"{n} training images are"
            return (f"{images} too few for a flow: its density can grow without bound on "
                    "them; train on more images")
        return super().diverged_hint()

    @classmethod
    def start(cls, data, output, resume, given, options, validate, log):
        images, image_shape = load_training_images(data, output, log)
        images = as_pixels(images)
        source = data or "embedded synthetic digits"
        epochs = options.pop("epochs")
        ff = None
        if resume:
            ff = load_model(output, current=True)
            if getattr(ff.model, "model_type", None) != "flow":
                raise InputError("is not a flow model; resume it without --model", output)
            opts = FlowOptions.from_dict(ff.hyperparameters)
            for flag, key in ARCHITECTURE_OPTIONS.items():
                if flag in given and getattr(opts, key) != options[key]:
                    raise InputError(f"checkpoint has --{flag.replace('_', '-')} "
                                     f"{getattr(opts, key)}, not {options[key]}", output)
            for key in ("lr", "warmup", "clip", "weight_decay", "patience", "batch_size"):
                if key in given:
                    setattr(opts, key, options[key])
            if ff.model.n_visible != images.shape[1]:
                raise InputError(f"has {images.shape[1]} pixels per image but the model in "
                                 f"{output} has {ff.model.n_visible} dimensions", data or source)
            if ff.epoch >= epochs:
                raise InputError(f"already trained for {ff.epoch} epochs; pass --epochs N "
                                 f"with N > {ff.epoch} to continue", output)
            if int(ff.state.get("bad_epochs", 0)) >= opts.patience:
                raise InputError(f"training stopped early at epoch {ff.epoch} (no validation "
                                 f"improvement for {opts.patience} epochs); raise --patience "
                                 "to continue", output)
            log(f"resuming {output} at epoch {ff.epoch}")
        else:
            opts = FlowOptions(epochs=epochs, **options)
        opts.epochs = epochs
        if validate:
            vds = load_dataset(validate)
            if vds.images.shape[1] != images.shape[1]:
                raise InputError(f"has {vds.images.shape[1]} pixels per image, the training "
                                 f"data {images.shape[1]}", validate)
            train, valid = images, as_pixels(vds.images)
        else:
            train, valid = split_validation(images, opts.holdout, data or source)
        rng = np.random.default_rng([opts.seed, 1])
        if ff is None:
            model = FlowModel.create(opts.model, images.shape[1], opts.layers,
                                     opts.hidden_units, opts.hidden_layers, image_shape,
                                     np.dtype(opts.dtype), opts.seed)
            ff = FlowFile(model=model, hyperparameters=opts.to_dict(),
                          image_shape=tuple(image_shape), lam=opts.lam)
        else:
            ff.hyperparameters = opts.to_dict()
            if ff.rng_state:
                rng.bit_generator.state = ff.rng_state
        ff.check_training_data(images, source, log)
        trainer = FlowTrainer(ff.model, opts, train, valid, rng, state=ff.state)
        if not resume:
            trainer.initialize()
        n_valid = 0 if valid is None else len(valid)
        log(f"{opts.model}: {len(ff.model.flow.transforms)} transforms, "
            f"{sum(p.size for p in ff.model.params.values()):,} parameters; "
            f"{len(train)} training and {n_valid} validation images")
        return cls(ff, trainer, output, epochs, log,
                   saved_epoch=ff.epoch if resume else None)

    def finished(self):
        return self.mf.epoch >= self.epochs or self.trainer.stopped

    def epoch_done(self, metrics):
        self.trainer.after_epoch(self.mf.epoch, metrics)
        self._append_history(metrics)
        self.save()
        self.log(format_flow_metrics(self.mf.epoch, self.epochs, metrics))
        if self.on_epoch:
            self.on_epoch(self.mf.epoch, self.epochs, metrics)
        if self.trainer.stopped:
            self.log(f"early stopping: no validation improvement for "
                     f"{self.trainer.options.patience} epochs; {self.output} holds epoch "
                     f"{int(self.trainer.state['best_epoch'])} (valid ll "
                     f"{float(self.trainer.state['best_valid_ll']):.2f})")

    def save(self, interrupted=False):
        """Write the best parameters, the current ones and the optimiser state."""
        self.mf.rng_state = self.trainer.rng.bit_generator.state
        self.mf.interrupted = interrupted
        self.mf.state = self.trainer.state
        best = self.trainer.best_params()
        save_flow(self.output, self.mf, best=None if best is self.mf.model.params else best)
        self.saved_epoch = self.mf.epoch

    def write_pictures(self):
        """OUTPUT-samples.png: 64 samples of the saved (best) model at temperature 1."""
        stem = os.path.splitext(self.output)[0]
        ff = load_model(self.output)  # the best parameters
        rng = np.random.default_rng([self.trainer.options.seed, 3])
        u = to_unit(ff.model.sample_space(64, rng), ff.lam)
        save_grid(f"{stem}-samples.png", u, ff.image_shape)
        self.log(f"wrote {self.output} and {stem}-samples.png (64 samples, temperature 1)")
