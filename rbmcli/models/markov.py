"""The interface of :mod:`rbmcli.models.base` for the RBM family: models sampled by
Markov chains (Bernoulli RBM, Gaussian RBM, DBN).

Each model names its samplers (:attr:`MarkovModel.samplers`, a registry with the signature
of :mod:`rbmcli.sampling.bernoulli`) and how it reads grey pixels
(:attr:`~rbmcli.models.base.Model.binarization`); sampling and inpainting are then the same
for all of them.
"""

import math

import numpy as np

from rbmcli.models.base import Inpainting, Model, NotSupported, pixel_rows, refuse
from rbmcli.sampling.bernoulli import DEFAULT_STEPS, binarize_like, noise
from rbmcli.sampling.inpainting import complete
from rbmcli.sampling.labels import sample_classes

IMAGES_ARE = {"mf": "mean-field fixed point mu"}
"""What a sampler's images are, for the provenance of sample files."""


class MarkovModel(Model):
    """A model sampled by Markov chains (the module docstring)."""

    animates = True
    samplers = {}
    """name -> sampler (the signature of :mod:`rbmcli.sampling.bernoulli`)."""

    def default_steps(self, method):
        """Sweeps (or iterations) of ``method`` when none are asked for: K for Gibbs from a
        model trained with ``--cd K --cd-from noise`` (it learned to turn noise into data
        in K sweeps; longer chains drift to the few modes of its stationary
        distribution), else :data:`rbmcli.sampling.bernoulli.DEFAULT_STEPS`."""
        hyper = self.hyperparameters or {}
        if (method == "gibbs" and self.short_run and hyper.get("method") == "cd"
                and hyper.get("cd_from") == "noise"):
            return int(hyper["steps"])
        return DEFAULT_STEPS[method]

    def planned_steps(self, method=None, steps=None):
        return steps or self.default_steps(method or "gibbs")

    def fill_plan(self, method=None, steps=None):
        method = method or "gibbs"
        steps = steps or DEFAULT_STEPS[method]
        return f"{method}, {steps} steps", steps

    short_run = True
    """Whether the short-run rule of :meth:`default_steps` applies (not to a DBN)."""

    def _sampler(self, method):
        method = method or "gibbs"
        if method not in self.samplers:
            raise NotSupported(f"must be one of {', '.join(self.samplers)}", "method")
        return method, self.samplers[method]

    def observe(self, images, rng):
        return self._input(images, rng)

    def _input(self, images, rng):
        """Grey images (N, nv) as the chains start from them: binarised as the model was
        trained (stochastic: a draw from ``rng``; real-valued models: the grey levels)."""
        return binarize_like(pixel_rows(images, self.n_visible), self.binarization, rng)

    def sample(self, n, rng, *, method=None, steps=None, init=None, replicas=None,
               temperature=None, on_step=None, label=None):
        """Chains from white noise (or the grey images ``init``) run ``steps`` sweeps; see
        :meth:`rbmcli.models.base.Model.sample`. ``result.attrs`` holds the provenance.
        With ``label``, the chains run in :meth:`conditioned` models
        (:func:`rbmcli.sampling.labels.sample_classes`)."""
        refuse("temperature", temperature, "is for flow models")
        if label is not None:
            return sample_classes(self, n, rng, label, method=method, steps=steps, init=init,
                                  replicas=replicas, on_step=on_step)
        method, run = self._sampler(method)
        steps = steps or self.default_steps(method)
        V0 = noise(n, self.n_visible, rng) if init is None else self._input(init, rng)[:n]
        result = run(self, V0, steps, rng, replicas=replicas or 10, on_step=on_step)
        result.attrs = {"method": method, "steps": steps, "init": "noise",
                        "replicas": (replicas or 10) if method == "pt" else 1,
                        "binarization": self.binarization,
                        "images_are": IMAGES_ARE.get(method,
                                                     "P(v=1|h) of the final hidden states")}
        result.label = f"{method}, {steps} steps"
        return result

    def fill(self, observed, known, rng, *, method=None, steps=None, samples=8,
             replicas=None, on_step=None):
        """Clamped chains from a draw of the training mean image; the posterior mean is
        the running mean over the last 3/4 of the sweeps (see
        :func:`rbmcli.sampling.inpainting.complete`)."""
        method, run = self._sampler(method)
        bits = np.asarray(observed)
        if bits.dtype != np.uint8 and self.binarization != "none":
            bits = bits.astype(np.uint8)
        known = np.broadcast_to(np.asarray(known, bool), bits.shape)
        completions, mean, result = complete(
            self, run, bits, known, self.fill_plan(method, steps)[1], samples, rng,
            replicas or 10, on_step, start=self.start_image())
        notes = []
        if result.swap_acceptance is not None:
            rates = " ".join(f"{a:.2f}" for a in result.swap_acceptance)
            notes.append(f"swap acceptance per neighbouring pair (beta 1 -> 0): {rates}")
        return Inpainting(np.clip(completions, 0, 1), np.clip(mean, 0, 1), bits, notes)

    def start_image(self):
        """(nv,) float64: where unknown pixels start, the training mean image when known,
        else the mean the model's first layer implies."""
        if self.data_mean is not None:
            return np.asarray(self.data_mean, np.float64)
        return self.first_layer.mean_image()

    @property
    def first_layer(self):
        """The RBM that meets the pixels."""
        return self

    @property
    def stack_layers(self):
        """The RBMs from the pixels up (a single RBM: itself)."""
        return [self]

    default_metrics = ("mser", "free_energy")
    """What ``rbm score`` prints when no metric is asked for."""

    def filters(self):
        return self.first_layer.weights

    def transform(self, images, layer=None, seed=0):
        """The mean-field up pass ``P(h_K | P(h_K-1 | ... v))`` of grey ``images`` (N, nv),
        binarised as the model was trained (stochastic with ``seed``; a Gaussian first layer
        standardises them); floats (N, n_hidden of layer K) in [0, 1], float32."""
        self.n_features(layer)
        layers = self.stack_layers
        layer = layer or len(layers)
        x = self.first_layer.data_input(pixel_rows(images, self.n_visible), self.binarization,
                                        seed)
        for rbm in layers[:layer]:
            x = rbm.hidden_probs(x)
        return np.clip(x, 0, 1).astype(np.float32)

    def n_features(self, layer=None):
        """Hidden units of ``layer`` (1 = the first; default the top); NotSupported for a
        layer the model does not have."""
        layers = self.stack_layers
        layer = layer or len(layers)
        if not 1 <= layer <= len(layers):
            raise NotSupported(f"{layer}: the model has {len(layers)} hidden "
                               f"layer{'s' if len(layers) > 1 else ''}", "layer")
        return layers[layer - 1].n_hidden

    def describe_layer(self, where):
        """Extra lines of ``rbm info`` about one layer (none for a Bernoulli RBM)."""
        return []

    # ---------------------------------------------------------------- label units
    labels = None
    """The label units (:class:`rbmcli.models.labels.LabelUnits`) of an RBM that has them
    (a class RBM, :mod:`rbmcli.models.labels`); for a DBN, those of its top RBM."""

    @property
    def classes(self):
        """(C,) int64 class values of the top RBM's label units, or None."""
        labels = self.stack_layers[-1].labels
        return None if labels is None else labels.classes

    def label_layer(self, option=None):
        """The RBM with the label units (the top one); NotSupported naming ``option``
        when there is none."""
        top = self.stack_layers[-1]
        if top.labels is None:
            raise NotSupported("needs a model trained with --labels" if option else
                               f"this {self.kind} has no label units (train it with --labels)",
                               option)
        return top

    def check_classifies(self, option=None):
        """See :meth:`rbmcli.models.base.Model.check_classifies`: the top RBM must have
        label units."""
        self.label_layer(option)

    def with_top(self, rbm):
        """This model with ``rbm`` in place of its top RBM (a single RBM: ``rbm``)."""
        return rbm

    def conditioned(self, unit):
        """This model with its label clamped to label unit ``unit`` (0..C-1): the same
        kind of model, whose top RBM is the plain RBM
        :meth:`rbmcli.models.labels.LabelledRBM.given_label`, describing itself as this
        one does (image shape, binarisation, training options)."""
        model = self.with_top(self.label_layer("label").given_label(unit))
        for name in ("_image_shape", "binarization", "data_mean", "hyperparameters", "epoch"):
            setattr(model, name, getattr(self, name))
        return model

    def up_input(self, images):
        """What the first layer's up pass sees of grey ``images`` (N, n_visible) when
        classifying: the images binarised by threshold as trained, else their grey levels
        in [0, 1] (for stochastic binarisation, the mean of the draw)."""
        x = pixel_rows(images, self.n_visible)
        if self.binarization != "stochastic":
            x = self.first_layer.data_input(x, self.binarization, 0)
        return x

    def classify(self, images):
        """See :meth:`rbmcli.models.base.Model.classify`: the mean-field up pass of the
        images to the top RBM (binarised by threshold as trained, or their grey levels for
        stochastic binarisation: the mean of the draw), then ``P(y | x) = softmax(-F(x, y))``
        of its C exact free energies."""
        top = self.label_layer()
        x = self.up_input(images)
        for rbm in self.stack_layers[:-1]:
            x = rbm.hidden_probs(x)
        probabilities = top.class_probabilities(x)
        return top.classes[probabilities.argmax(axis=1)], probabilities

    def describe(self, file):
        """Lines of ``rbm info``: units, training options, last epoch, weights."""
        hp = file.hyperparameters
        method = hp.get("method", "?")
        step_name = "temperatures" if method == "pt" else "steps"
        layers = self.stack_layers
        hidden = ",".join(str(layer.n_hidden) for layer in layers)
        lines = [
            f"model\t{self.kind}",
            f"visible\t{self.n_visible} ({self.image_shape[0]}x{self.image_shape[1]} images)",
            f"hidden\t{hidden}",
            f"dtype\t{self.dtype}",
            f"binarization\t{self.binarization}",
            f"training\t{method} ({hp.get('steps')} {step_name}"
            + (", from noise" if hp.get("cd_from") == "noise" else "") + f"), lr {hp.get('lr')}"
            + (f" -> {hp['lr_final']}" if hp.get("lr_final") not in (None, hp.get("lr")) else "")
            + f", momentum {hp.get('momentum')}"
            + (f" (0.5 for {hp['momentum_warmup']} epochs)" if hp.get("momentum_warmup") else "")
            + (", centered" if hp.get("centering") else "")
            + f", batch {hp.get('batch_size')}, l2 {hp.get('l2')}, "
            f"l1 {hp.get('l1')}, seed {hp.get('seed')}",
            f"epochs\t{file.epoch}"
            + (" (interrupted; resume with --resume)" if file.interrupted else ""),
        ]
        hist = file.history
        if "mser_train" in hist and len(hist["mser_train"]):
            last = {k: v[-1] for k, v in hist.items()}
            text = f"mser train {last['mser_train']:.4f}"
            if not math.isnan(last.get("mser_valid", math.nan)):
                text += f", valid {last['mser_valid']:.4f} (epoch 1: {hist['mser_valid'][0]:.4f})"
                text += f", free-energy gap {last['free_energy_gap']:+.2f}"
            lines.append(f"last epoch\t{text}")
            lines.append(f"train time\t{hist['seconds'].sum():.1f} s")
        planned = hp.get("hidden_sizes")
        if planned is not None:
            done = file.epoch // max(1, hp.get("epochs", 1))
            lines.append("layers\t" + ", ".join(f"{layer.kind} {layer.n_visible}-"
                                                  f"{layer.n_hidden}" for layer in layers)
                         + ("" if done >= len(planned) else
                            f" (training: {done} of {len(planned)} layers done)"))
        for k, layer in enumerate(layers):
            w = layer.weights
            where = f" (layer {k})" if len(layers) > 1 else ""
            lines.append(f"weights{where}\tmean {w.mean():+.4f}, std {w.std():.4f}, "
                         f"|max| {abs(w).max():.3f}")
            lines += layer.describe_layer(where)
        return lines
