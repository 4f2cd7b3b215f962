"""Backpropagation fine-tuning of a DBN as a classifier (``rbm train --model dbn
--fine-tune backprop``; Hinton & Salakhutdinov 2006).

The DBN's up pass with a softmax on top (:class:`rbmcli.models.classifier.
FeedForwardClassifier`, started from the pretrained weights) is trained to minimise the
mean cross-entropy ``-log P(y | x)`` of the labelled training rows by minibatch gradient
descent with momentum:

    delta_L = (P - Y) / B                        (B, C): softmax output minus one-hot labels
    grad V = a_L^T delta_L,   grad e = sum delta_L
    back_L = delta_L V^T
    dz_l = back_{l+1} * a_{l+1} * (1 - a_{l+1}),   grad W_l = a_l^T dz_l,  grad c_l = sum dz_l
    back_l = dz_l W_l^T
    velocity = MOMENTUM * velocity - lr * grad,   parameter += velocity

The network is evaluated (and classifies) on what the up pass sees
(:meth:`rbmcli.models.markov.MarkovModel.up_input`: the grey levels for stochastic
binarisation, the mean of the draw) and trained on the rows the DBN was trained on: for
stochastic binarisation, binary images drawn afresh at every use, a noise that keeps the
network from fitting the training images exactly. The learning rate decays
linearly from ``--fine-tune-lr`` to ``lr / E`` over the E fine-tuning epochs; the momentum
buffers are part of the checkpoint, so a resumed run repeats an uninterrupted one.
"""

import time

import numpy as np

from rbmcli import compiling
from rbmcli.training.rbm import TrainingDiverged
from rbmcli.training.snapshots import ArraySnapshots, momentum_buffers

MOMENTUM = 0.9
"""``--fine-tune-momentum`` of backprop when not given."""

DEFAULT_LR = 0.1
"""``--fine-tune-lr`` of backprop when not given."""


def gradients(net, X, y):
    """The cross-entropy and its gradient for every parameter of ``net``.

    Parameters
    ----------
    net : rbmcli.models.classifier.FeedForwardClassifier
    X : (B, n_in) float
        Input rows.
    y : (B,) int
        Output indices (0..C-1).

    Returns
    -------
    loss : float
        Mean ``-log P(y | x)`` over the rows.
    grads : list of arrays
        In the order of :meth:`FeedForwardClassifier.arrays`, the parameters' dtype.
    """
    acts, P = net.activations(X)
    n = len(X)
    loss = float(-np.mean(np.log(np.maximum(P[np.arange(n), y], 1e-300))))
    delta = P.astype(net.dtype)
    delta[np.arange(n), y] -= 1
    delta /= n
    out = [acts[-1].T @ delta, delta.sum(axis=0)]
    back = delta @ net.output_weights.T
    for k in reversed(range(len(net.weights))):
        a = acts[k + 1]
        dz = back * a * (1 - a)
        out[:0] = [acts[k].T @ dz, dz.sum(axis=0)]
        if k:
            back = dz @ net.weights[k].T
    return loss, out


def step(net, X, y, lr, velocities, momentum=MOMENTUM, l2=0.0):
    """One momentum step of :func:`gradients` on ``net`` in place, with weight decay ``l2``
    on the weights (``W_l`` and ``V``, every other array of ``net.arrays()``); returns the
    loss before it. ``velocities`` are updated in place (arrays shaped as
    ``net.arrays()``)."""
    loss, grads = gradients(net, X, y)
    rate, m, a = (net.dtype.type(x) for x in (lr, momentum, l2))
    for k, (param, velocity, grad) in enumerate(zip(net.arrays(), velocities, grads)):
        if a and k % 2 == 0:
            grad = grad + a * param
        velocity *= m
        velocity -= rate * grad
        param += velocity
    return loss


class BackpropTrainer(ArraySnapshots):
    """Epochs of :func:`step` over labelled rows, with the interface
    :class:`rbmcli.training.run.TrainingRun` drives (``run_epoch``, ``snapshot``,
    ``restore``, ``rng``, ``state``, ``options``).

    Parameters
    ----------
    model : rbmcli.models.dbn.DBN
        With its ``classifier`` set.
    options : rbmcli.training.dbn.DBNTrainOptions
        ``fine_tune_lr`` (0: :data:`DEFAULT_LR`), ``fine_tune_momentum`` (None:
        :data:`MOMENTUM`), ``fine_tune_l2``, ``batch_size``, ``fine_tune_epochs``.
    train : (rows, X, y)
        ``rows(index, rng)``: the training rows at ``index`` (a Binarizer's);
        ``X`` (N, n_visible): the grey inputs of the evaluation; ``y`` (N,): the output
        indices.
    valid : (X, y) or None
        Validation rows and indices (``y`` may be None).
    first_epoch : int
        The run's epoch where fine-tuning starts.
    rng : numpy.random.Generator
        Draws each epoch's order of the rows.
    state : dict, optional
        ``velocity_classifier_<i>``: the momentum buffers (checkpointed).
    """

    def __init__(self, model, options, train, valid, first_epoch, rng, state=None):
        self.model, self.options, self.train, self.valid = model, options, train, valid
        self.net = model.classifier
        self.first_epoch, self.rng = first_epoch, rng
        self.state = dict(state or {})
        self.velocities = momentum_buffers(self.state, "velocity_classifier",
                                           self.net.arrays())
        self.lr = self.base_lr = options.fine_tune_lr or DEFAULT_LR
        self.momentum = options.fine_tune_momentum_or(MOMENTUM)
        eval_rng = np.random.default_rng([options.seed, 7])
        n = len(train[1])
        self.eval_index = np.sort(eval_rng.choice(n, min(n, 5000), replace=False))

    def _arrays(self):
        """The parameters and momentum buffers (what a snapshot keeps)."""
        return self.net.arrays() + self.velocities

    def learning_rate(self, epoch):
        """The rate of the 0-based fine-tuning ``epoch``: linear from the base rate down
        to ``base / E`` in the last of E epochs."""
        epochs = max(1, self.options.fine_tune_epochs)
        return self.base_lr * (1 - min(epoch, epochs - 1) / epochs)

    def run_epoch(self, epoch=0, on_batch=None):
        """One pass over the training rows in random order; ``epoch`` is the run's (the
        greedy epochs included). Returns the epoch's metrics."""
        rows, _, y = self.train
        size = self.options.batch_size
        self.lr = self.learning_rate(epoch - self.first_epoch)
        with compiling.watch() as clock:
            start = time.perf_counter()
            order = self.rng.permutation(len(y))
            n_batches = -(-len(order) // size)
            for k in range(n_batches):
                index = np.sort(order[k * size:(k + 1) * size])
                X = rows(index, self.rng).astype(self.net.dtype)
                step(self.net, X, y[index], self.lr, self.velocities, self.momentum,
                     self.options.fine_tune_l2)
                if on_batch:
                    on_batch(k + 1, n_batches)
            seconds = time.perf_counter() - start - clock.seconds
        if not self.net.is_finite():
            raise TrainingDiverged("the classifier's weights became NaN or infinite")
        return self.evaluate(seconds)

    def evaluate(self, seconds):
        """The epoch's metrics: the class error of the network on 5,000 training rows and
        on the validation rows; the generative metrics are NaN (backprop leaves the
        generative model as it was)."""
        _, X, y = self.train
        out = {"seconds": seconds, "lr": self.lr, "momentum": self.momentum,
               "mser_train": np.nan, "mser_valid": np.nan, "free_energy_gap": np.nan,
               "class_error_train": self._error(X[self.eval_index], y[self.eval_index]),
               "class_error_valid": np.nan, "cd_steps": np.nan}
        if self.valid is not None and self.valid[1] is not None:
            out["class_error_valid"] = self._error(*self.valid)
        return out

    def _error(self, X, y):
        return float(np.mean(self.net.probabilities(X).argmax(axis=1) != y))
