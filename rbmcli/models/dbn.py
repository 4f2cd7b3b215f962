"""Deep Belief Networks: a stack of RBMs trained greedily (Hinton, Osindero & Teh 2006).

Layer ``l`` (0-based) is an RBM between ``h_l`` and ``h_{l+1}`` with ``h_0 = v``: the first a
:class:`rbmcli.models.rbm.BernoulliRBM` or :class:`rbmcli.models.grbm.GaussianRBM`, the others Bernoulli
RBMs. With L layers the generative model is

    p(v, h_1, ..., h_L) = p(v | h_1) p(h_1 | h_2) ... p(h_{L-2} | h_{L-1}) p_top(h_{L-1}, h_L)

where ``p(h_l | h_{l+1})`` is layer l's visible conditional (its weights and visible bias) and
``p_top`` is the top RBM. The recognition model is the layers' hidden conditionals,
``q(h_{l+1} | h_l) = sigmoid(c_l + h_l W_l)``.

The variational lower bound (Salakhutdinov & Murray 2008, eq. 16, chained over the layers
below the top) with ``q(h | v) = q(h_1 | v) q(h_2 | h_1) ... q(h_{L-1} | h_{L-2})``::

    log p(v) >= E_q[ log p(v | h_1) + sum_{l=1}^{L-2} log p(h_l | h_{l+1}) - F_top(h_{L-1}) ]
                + H(q) - log Z_top

``F_top`` is the top RBM's free energy of its visible layer ``h_{L-1}`` (so ``-F_top`` is the
log of its unnormalised marginal). :meth:`DBN.log_likelihood_bound` estimates the
expectation by sampling ``h ~ q`` and takes each entropy term in closed form given the layer
below (``H(q) = E_q[sum_l H(q(h_{l+1} | h_l))]``).
"""

import numpy as np

from rbmcli.errors import InputError
from rbmcli.models.grbm import GaussianRBM
from rbmcli.models.markov import MarkovModel
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.sampling.layered import DBN_SAMPLERS
from rbmcli.scoring import layered as scoring


STACK_STARTS = {
    "flipped": "flipped (a layer at least as wide as the visible layer below started as "
               "that layer turned upside down)",
    "random": "random (every layer above the first started from small random weights)"}
"""``rbm info``'s words for ``rbm train --stack-start``."""


class DBN(MarkovModel):
    """A stack of RBMs (see the module docstring).

    Parameters
    ----------
    layers : list of BernoulliRBM or GaussianRBM
        At least one; only the first may be Gaussian; ``layers[l].n_hidden ==
        layers[l + 1].n_visible``; all of one dtype.
    generative_weights : list of (n_visible, n_hidden) arrays, optional
        After up-down fine-tuning (:mod:`rbmcli.training.updown`), the untied generative
        weights of the layers below the top, one per layer (Bernoulli layers only):
        ``p(h_l | h_{l+1})`` then uses them, and ``layers[l].weights`` are the recognition
        weights of ``q(h_{l+1} | h_l)``. The biases stay shared: the visible bias is the
        generative one, the hidden bias the recognition one. Default: tied, as after
        greedy training.
    """

    kind = "dbn"
    samplers = DBN_SAMPLERS
    short_run = False
    default_metrics = ("mser",)

    def __init__(self, layers, generative_weights=None, classifier=None):
        layers = list(layers)
        if not layers:
            raise InputError("a DBN needs at least one layer")
        for k, layer in enumerate(layers):
            if not isinstance(layer, (BernoulliRBM, GaussianRBM)) or \
                    (k > 0 and not isinstance(layer, BernoulliRBM)):
                raise InputError(f"layer {k} of a DBN must be a Bernoulli RBM"
                                 + (" or a Gaussian RBM" if k == 0 else ""))
            if k > 0 and layers[k - 1].n_hidden != layer.n_visible:
                raise InputError(f"layer {k - 1} has {layers[k - 1].n_hidden} hidden units but "
                                 f"layer {k} has {layer.n_visible} visible units")
            if layer.dtype != layers[0].dtype:
                raise InputError("all layers of a DBN must have one dtype")
            if layer.labels is not None and k < len(layers) - 1:
                raise InputError(f"layer {k} of a DBN has label units; only the top one may")
        self.layers = layers
        self.generative_layers = layers[:-1]
        """The RBMs whose visible conditionals make the down pass (the layers themselves
        while the weights are tied)."""
        if generative_weights is not None:
            self.untie(generative_weights)
        if classifier is not None and [w.shape for w in classifier.weights] != \
                [layer.weights.shape for layer in layers]:
            raise InputError(f"the classifier's layers {[w.shape for w in classifier.weights]}"
                             f" are not the DBN's {[l.weights.shape for l in layers]}")
        self.classifier = classifier

    @property
    def untied(self):
        """True when the generative weights are separate from the recognition weights."""
        return any(g is not r for g, r in zip(self.generative_layers, self.layers))

    def untie(self, generative_weights=None):
        """Give the layers below the top their own generative weights (default: copies
        of the recognition weights), sharing the biases."""
        below = self.layers[:-1]
        if generative_weights is None:
            generative_weights = [layer.weights.copy() for layer in below]
        if len(generative_weights) != len(below):
            raise InputError(f"expected generative weights for {len(below)} layers, found "
                             f"{len(generative_weights)}")
        self.generative_layers = []
        for k, (layer, weights) in enumerate(zip(below, generative_weights)):
            if type(layer) is not BernoulliRBM or np.shape(weights) != layer.weights.shape:
                raise InputError(f"layer {k}: generative weights need a Bernoulli layer and "
                                 f"the shape {layer.weights.shape}")
            gen = BernoulliRBM(np.asarray(weights, layer.dtype), layer.visible_bias,
                               layer.hidden_bias)
            gen.visible_bias, gen.hidden_bias = layer.visible_bias, layer.hidden_bias
            self.generative_layers.append(gen)

    @property
    def n_visible(self):
        return self.layers[0].n_visible

    @property
    def hidden_sizes(self):
        return [layer.n_hidden for layer in self.layers]

    @property
    def dtype(self):
        return self.layers[0].dtype

    @property
    def first_layer(self):
        return self.layers[0]

    @property
    def stack_layers(self):
        return self.layers

    def parameter_arrays(self):
        return [a for layer in self.layers for a in layer.parameter_arrays()] \
            + (self.generative_weights() or []) \
            + (self.classifier.arrays() if self.classifier is not None else [])

    def with_top(self, rbm):
        return DBN(self.layers[:-1] + [rbm], self.generative_weights(), self.classifier)

    @property
    def classes(self):
        """(C,) int64 class values: the fine-tuned classifier's, else the top's label units'
        (None when it has neither)."""
        if self.classifier is not None:
            return self.classifier.classes
        return super().classes

    def check_classifies(self, option=None):
        """A DBN fine-tuned by backprop classifies with or without label units."""
        if self.classifier is None:
            super().check_classifies(option)

    def classify(self, images):
        """See :meth:`rbmcli.models.base.Model.classify`: after ``--fine-tune backprop`` the
        feed-forward network (:mod:`rbmcli.models.classifier`) on the same input as the up
        pass, else the top RBM's label units (:meth:`MarkovModel.classify`)."""
        if self.classifier is None:
            return super().classify(images)
        probabilities = self.classifier.probabilities(self.up_input(images))
        return self.classifier.classes[probabilities.argmax(axis=1)], probabilities

    def describe(self, file):
        lines = super().describe(file)
        hp = file.hyperparameters
        if hp.get("stack_start"):
            lines.append("stack start\t" + STACK_STARTS[hp["stack_start"]])
        if hp.get("fine_tune"):
            greedy = hp.get("epochs", 0) * len(hp.get("hidden_sizes", []))
            done = min(max(0, file.epoch - greedy), hp.get("fine_tune_epochs", 0))
            lr, m = hp.get("fine_tune_lr") or "default", hp.get("fine_tune_momentum")
            lines.append(f"fine-tuning\t{hp['fine_tune']}, {done} of "
                         f"{hp.get('fine_tune_epochs')} epochs done, lr {lr}, momentum "
                         f"{'default' if m is None else m}, l2 {hp.get('fine_tune_l2', 0.0)}"
                         + (f", CD {','.join(map(str, hp['fine_tune_cd']))}"
                            if hp.get("fine_tune_cd") else "")
                         + (f", {hp['fine_tune_input']} input"
                            if hp.get("fine_tune_input") else ""))
        if self.untied:
            std = ", ".join(f"{g.weights.std():.4f}" for g in self.generative_layers)
            lines.append(f"generative weights\tuntied by up-down fine-tuning (std {std})")
        if self.classifier is not None:
            lines.append(f"classifier\tfine-tuned by backprop: the up pass and a softmax "
                         f"over {len(self.classifier.classes)} classes")
        return lines

    def generative_weights(self):
        """The untied generative weights (list per layer below the top), or None."""
        return [g.weights for g in self.generative_layers] if self.untied else None

    def score(self, images, *, seed=0, log=None, progress=None, **metrics):
        """See :func:`rbmcli.scoring.layered.score_dbn_images`."""
        return scoring.score_dbn_images(self, images, seed=seed, log=log, progress=progress,
                                        **metrics)

    def unfinished(self, file):
        """A DBN whose greedy training stopped part way (fewer layers than planned, or
        fewer epochs) is not a model yet."""
        planned = len(file.hyperparameters.get("hidden_sizes") or ())
        if len(self.layers) < max(2, planned) \
                or file.epoch < file.hyperparameters.get("epochs", 0) * planned:
            return (f"the DBN is still in training ({file.epoch} epochs over "
                    f"{len(self.layers)} of {planned} layers); finish it with "
                    "'rbm train --resume'")
        return None

    @property
    def top(self):
        return self.layers[-1]

    @property
    def labels(self):
        """The top RBM's label units, or None."""
        return self.top.labels

    @property
    def gaussian(self):
        """True when the first layer is a Gaussian RBM (real-valued, standardised data)."""
        return isinstance(self.layers[0], GaussianRBM)

    def is_finite(self):
        return all(layer.is_finite() for layer in self.layers) and \
            (self.classifier is None or self.classifier.is_finite())

    # ------------------------------------------------------------------------ passes
    def up(self, V, n_layers=None):
        """Mean-field up pass: ``[P(h_1 | v), P(h_2 | P(h_1 | v)), ...]`` for the first
        ``n_layers`` layers (all by default); each (N, n_hidden of that layer). ``V`` is what
        the first layer sees: binary uint8, or standardised floats for a Gaussian one."""
        out, x = [], V
        for layer in self.layers[:len(self.layers) if n_layers is None else n_layers]:
            x = layer.hidden_probs(x)
            out.append(x)
        return out

    def sample_up(self, V, rng, n_layers):
        """Stochastic up pass ``h_{l+1} ~ q(h_{l+1} | h_l)`` through the first ``n_layers``
        layers; returns the states (N, n_hidden) uint8 of the last one."""
        x = V
        for layer in self.layers[:n_layers]:
            _, x = layer.sample_hidden(x, rng)
        return x

    def down(self, H, rng, mean_field=False):
        """Generative down pass from the top RBM's visible states ``H`` (N, n_hidden of layer
        L-2) (or its probabilities, with ``mean_field``): ``h_l ~ p(h_l | h_{l+1})`` through
        the layers below the top, then the mean of ``p(v | h_1)`` (N, nv): probabilities for
        a Bernoulli first layer, standardised means for a Gaussian one."""
        x = H
        for layer in reversed(self.generative_layers[1:]):
            if mean_field:
                x = layer.visible_probs(x)
            else:
                _, x = layer.sample_visible(np.asarray(x, np.uint8), rng)
        return (self.generative_layers or self.layers)[0].visible_probs(x)

    # ------------------------------------------------------------------------ the bound
    def log_likelihood_bound(self, V, log_z_top, rng, samples=10):
        """Per-image estimates of the variational lower bound on ``log p(v)`` (module
        docstring), averaged over ``samples`` draws of ``h ~ q(h | v)``.

        Parameters
        ----------
        V : (N, nv)
            Binary uint8 (Bernoulli first layer) or standardised floats (Gaussian).
        log_z_top : float
            log Z of the top RBM (exact or AIS).
        rng : numpy.random.Generator
        samples : int

        Returns
        -------
        bound : (N,) float64
            For a Gaussian first layer, in nats of the standardised data.
        mc_sd : (N,) float64
            The Monte Carlo standard error of each image's estimate.
        """
        if len(self.layers) < 2:
            raise InputError("the DBN bound needs at least two layers")
        terms = np.empty((samples, len(V)), np.float64)
        for s in range(samples):
            total, x = np.zeros(len(V)), V
            for layer, gen in zip(self.layers[:-1], self.generative_layers):
                HP, H = layer.sample_hidden(x, rng)
                total += _visible_log_likelihood(gen, x, H) + _bernoulli_entropy(HP)
                x = H
            terms[s] = total - self.top.free_energy(x)
        mc_sd = terms.std(axis=0, ddof=1) / np.sqrt(samples) if samples > 1 \
            else np.full(len(V), np.nan)
        return terms.mean(axis=0) - log_z_top, mc_sd


def _visible_log_likelihood(layer, X, H):
    """``log p(x | h)`` (N,) float64 of layer's visible ``X`` given hidden states ``H``."""
    if isinstance(layer, GaussianRBM):
        return layer.visible_log_density(X, H)
    logits = np.asarray(H, np.float64) @ layer.weights.T.astype(np.float64) \
        + layer.visible_bias.astype(np.float64)
    signs = 2.0 * np.asarray(X, np.float64) - 1.0
    return -np.logaddexp(0.0, -signs * logits).sum(axis=1)


def _bernoulli_entropy(P):
    """Entropy (N,) float64 of factorial Bernoulli distributions with means ``P`` (N, n)."""
    P = np.clip(np.asarray(P, np.float64), 1e-300, 1.0)
    Q = np.clip(1.0 - np.asarray(P, np.float64), 1e-300, 1.0)
    return -(P * np.log(P) + Q * np.log(Q)).sum(axis=1)
