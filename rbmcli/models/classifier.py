"""The feed-forward classifier a DBN becomes under ``--fine-tune backprop``: its up pass
as a sigmoid network with a softmax on top (Hinton & Salakhutdinov 2006).

For a DBN with layers ``l = 0 .. L-1`` (recognition weights ``W_l``, hidden biases
``c_l``) the network computes

    a_0 = x,   a_{l+1} = sigmoid(a_l W_l + c_l),   P(y | x) = softmax(a_L V + e)

and starts as the DBN's own mean-field up pass. ``V`` (n_L, C) and ``e`` (C,) start as the
top RBM's label units turned into the conditional ``P(y | h)`` of its hidden units
(``V = U^T``, ``e = d``) when it has them, else at zero. Backpropagation then trains all of
these as one discriminative network (:mod:`rbmcli.training.backprop`); the DBN's
generative model (its RBMs, the label units and any untied generative weights) is kept
as it was, so sampling and the likelihood bound still describe the pretrained DBN, while
``rbm classify`` and ``rbm score --accuracy`` use this network.
"""

import numpy as np

from rbmcli.errors import InputError
from rbmcli.models.labels import logistic, softmax

ROWS_PER_CHUNK = 4096
"""Rows per block of :meth:`FeedForwardClassifier.probabilities` (bounds its memory)."""


class FeedForwardClassifier:
    """Sigmoid layers and a softmax output (see the module docstring).

    Parameters
    ----------
    weights : list of (n_in, n_out) arrays
        ``W_l`` of the sigmoid layers, one per DBN layer; ``n_out`` of one is ``n_in``
        of the next.
    biases : list of (n_out,) arrays
        ``c_l``.
    output_weights : (n_L, C) array
    output_bias : (C,) array
    classes : (C,) int
        The class value of each output, increasing.
    """

    def __init__(self, weights, biases, output_weights, output_bias, classes):
        self.weights = [np.ascontiguousarray(w) for w in weights]
        self.biases = [np.array(b) for b in biases]
        self.output_weights = np.ascontiguousarray(output_weights)
        self.output_bias = np.array(output_bias)
        self.classes = np.asarray(classes, np.int64)
        sizes = [w.shape for w in self.weights] + [self.output_weights.shape]
        if not self.weights or len(self.biases) != len(self.weights) or any(
                a[1] != b[0] for a, b in zip(sizes, sizes[1:])) or any(
                b.shape != (w.shape[1],) for w, b in zip(self.weights, self.biases)) or \
                self.output_bias.shape != (len(self.classes),) or \
                self.output_weights.shape[1] != len(self.classes) or len(self.classes) < 2:
            raise InputError(f"classifier layers do not fit together: weights {sizes}, "
                             f"biases {[b.shape for b in self.biases]}, "
                             f"{len(self.classes)} classes")
        if np.any(np.diff(self.classes) <= 0):
            raise InputError("classifier classes must be increasing integers")

    @classmethod
    def from_dbn(cls, dbn, classes):
        """The network of ``dbn``'s mean-field up pass, its softmax from the top's label
        units (``V = U^T``, ``e = d``) or zero when it has none.

        Parameters
        ----------
        dbn : rbmcli.models.dbn.DBN
            Bernoulli layers above the first (the up pass of a Gaussian first layer is a
            sigmoid too).
        classes : (C,) int
            The class values; must equal the top's label classes when it has labels.
        """
        layers = dbn.layers
        dtype = dbn.dtype
        labels = layers[-1].labels
        classes = np.asarray(classes, np.int64)
        if labels is not None:
            if not np.array_equal(labels.classes, classes):
                raise InputError(f"the top's label units are classes {labels.classes.tolist()}"
                                 f", the data's {classes.tolist()}")
            out_w, out_b = labels.weights.T.copy(), labels.bias.copy()
        else:
            out_w = np.zeros((layers[-1].n_hidden, len(classes)), dtype)
            out_b = np.zeros(len(classes), dtype)
        return cls([layer.weights.copy() for layer in layers],
                   [layer.hidden_bias.copy() for layer in layers], out_w, out_b, classes)

    @property
    def dtype(self):
        return self.output_weights.dtype

    def arrays(self):
        """Every parameter array, in a fixed order (the update and the checkpoint use it):
        ``W_0, c_0, ..., W_{L-1}, c_{L-1}, V, e``."""
        out = []
        for w, b in zip(self.weights, self.biases):
            out += [w, b]
        return out + [self.output_weights, self.output_bias]

    def is_finite(self):
        return all(np.isfinite(a).all() for a in self.arrays())

    def activations(self, X):
        """The forward pass of rows ``X`` (N, n_in): ``[a_0, a_1, ..., a_L]`` and the
        output probabilities (N, C), in the parameters' dtype."""
        acts = [np.asarray(X, self.dtype)]
        for w, b in zip(self.weights, self.biases):
            acts.append(logistic(acts[-1] @ w + b))
        return acts, softmax(acts[-1] @ self.output_weights + self.output_bias)

    def probabilities(self, X):
        """``P(y | x)`` (N, C) float64 of rows ``X`` (N, n_in) in [0, 1], in blocks."""
        out = np.empty((len(X), len(self.classes)))
        for s in range(0, len(X), ROWS_PER_CHUNK):
            out[s:s + ROWS_PER_CHUNK] = self.activations(X[s:s + ROWS_PER_CHUNK])[1]
        return out
