"""Up-down fine-tuning of a DBN whose top RBM has label units (``rbm train --model dbn
--labels --fine-tune up-down``): the contrastive wake-sleep algorithm of Hinton, Osindero
& Teh (2006), appendix B.

The weights below the top are untied first (:meth:`rbmcli.models.dbn.DBN.untie`): each
layer keeps recognition weights ``R_l`` (with the hidden bias) for the up pass and gets
generative weights ``G_l`` (with the visible bias) for the down pass. Each step on a batch
of binary images ``v`` (B, nv) with one-hot labels ``Y`` (B, C), for layers l = 0 .. L-2
below the top RBM (weights ``W``, biases ``b`` visible, ``c`` hidden, label units ``U``,
``d``):

1. **wake**: ``s_0 = v``, ``s_{l+1} ~ sigmoid(s_l R_l + c_l)`` (stochastic states);
   ``t+ ~ sigmoid(s_{L-1} W + Y U + c)`` in the top RBM;
2. **CD-K in the top associative memory** from ``t+``: K times ``p- ~ sigmoid(t W^T +
   b)``, ``y- = softmax(t U^T + d)`` (probabilities), ``t ~ sigmoid(p- W + y- U + c)``;
3. **sleep**: from ``p-`` down, ``z_{L-1} = p-``, ``z_l ~ sigmoid(z_{l+1} G_l^T + b_l)``
   (states; the image ``z_0`` is left as probabilities);
4. **updates** with learning rate r, batch means, every statistic from the parameters
   before the step:

   * generative: ``G_l += r (s_l - sigmoid(s_{l+1} G_l^T + b_l))^T s_{l+1}``, ``b_l += r
     (s_l - ...)``;
   * top: ``W += r (s_{L-1}^T t+ - p-^T t-)``, ``U += r (Y^T t+ - y-^T t-)``, ``b``,
     ``c``, ``d`` by the matching differences of means;
   * recognition: ``R_l += r z_l^T (z_{l+1} - sigmoid(z_l R_l + c_l))``, ``c_l += r
     (z_{l+1} - ...)``.

K grows over the fine-tuning epochs as in the paper (3, then 6, then 10 sweeps, a third
of the epochs each: :func:`cd_steps`; ``--fine-tune-cd K1,K2,...`` sets others). The
paper's pseudo-code has neither momentum nor weight decay, but its text tuned both on a
validation set: ``--fine-tune-momentum`` m keeps a velocity per parameter (``velocity =
m velocity + r direction``, the parameter moves by the velocity) and ``--fine-tune-l2`` a
subtracts ``a W`` from each weight's direction.
"""

import time

import numpy as np

from rbmcli import compiling
from rbmcli.errors import InputError
from rbmcli.kernels.rbm.halfsteps import visible_step
from rbmcli.kernels.rbm.labeltop import label_probs, tile_top_weights, top_step
from rbmcli.kernels.rbm.velocity import velocity_step
from rbmcli.models.labels import logistic
from rbmcli.models.rbm import TILE
from rbmcli.sampling.keys import draw_keys
from rbmcli.training.rbm import TrainingDiverged
from rbmcli.training.snapshots import ArraySnapshots, momentum_buffers

MOMENTUM = 0.0
"""``--fine-tune-momentum`` of up-down when not given."""

SCHEDULE = (3, 6, 10)
"""CD sweeps in the top RBM in the first, second and last third of the epochs."""


def cd_steps(epoch, epochs, schedule=None):
    """Sweeps of CD in the top RBM in the 0-based fine-tuning ``epoch`` of ``epochs``: the
    ``schedule``'s K in turn, each for an equal part of the epochs (``--fine-tune-cd``;
    None or empty: :data:`SCHEDULE`)."""
    schedule = schedule or SCHEDULE
    return int(schedule[min(len(schedule) - 1, len(schedule) * epoch // max(1, epochs))])


def _states(P, rng):
    """Binary states drawn from ``P`` (N, n), in the dtype of ``P``, from uniforms of that
    dtype (float32 uniforms take half the time of float64 ones)."""
    out = rng.random(P.shape, dtype=P.dtype) < P
    return out.astype(P.dtype)


def parameters(dbn):
    """Every parameter array up-down changes, ``(array, is_weight)``, in a fixed order
    (the order of :func:`up_down_gradients` and of the momentum buffers): the generative
    layers first, then the top RBM and its label units, then the recognition layers. The
    arrays are the live ones (an RBM layer's weights behind their read-only view), changed
    in place; the layers' tiled copies must then be rewritten (:func:`refresh_tiles_of`)."""
    rec, gen, top = dbn.layers[:-1], dbn.generative_layers, dbn.top
    out = []
    for layer in gen:
        out += [(layer._weights, True), (layer.visible_bias, False)]
    out += [(top._weights, True), (top.visible_bias, False), (top.hidden_bias, False),
            (top.labels.weights, True), (top.labels.bias, False)]
    for layer in rec:
        out += [(layer._weights, True), (layer.hidden_bias, False)]
    return out


def up_down_gradients(dbn, V, y, rng, steps):
    """The directions of one up-down step (the module docstring, before the rate r) of
    ``dbn``, every one from the parameters as they are.

    Parameters
    ----------
    dbn : rbmcli.models.dbn.DBN
        Untied (:meth:`~rbmcli.models.dbn.DBN.untie`), two or more layers, label units
        on the top.
    V : (B, nv) uint8
        Binary images.
    y : (B,) int
        Their label units (0..C-1).
    rng : numpy.random.Generator
        Draws, in order: the wake states layer by layer, the keys of the top's
        half-steps (:func:`top_sweeps`), then the sleep states from the top down (not
        ``z_0``).
    steps : int
        CD sweeps K >= 1.

    Returns
    -------
    list of arrays
        Shaped as the parameters of :func:`parameters`, in its order.
    """
    if steps < 1:
        raise InputError(f"up-down needs at least one CD sweep, found {steps}")
    rec, gen, top = dbn.layers[:-1], dbn.generative_layers, dbn.top
    dt = dbn.dtype
    n = len(V)
    Y = top.labels.one_hot(y, dt)
    wake = [np.asarray(V, dt)]
    for layer in rec:
        wake.append(_states(logistic(wake[-1] @ layer.weights + layer.hidden_bias), rng))
    pen = wake[-1]
    top_pos, pen_neg, lab_neg, top_neg = top_sweeps(top, pen, Y, steps, rng)
    sleep = [None] * len(rec) + [pen_neg]
    for k in reversed(range(len(rec))):
        probs = logistic(sleep[k + 1] @ gen[k].weights.T + gen[k].visible_bias)
        sleep[k] = probs if k == 0 else _states(probs, rng)
    out = []
    for k, layer in enumerate(gen):
        miss = wake[k] - logistic(wake[k + 1] @ layer.weights.T + layer.visible_bias)
        out += [(miss.T @ wake[k + 1]) / n, miss.mean(axis=0)]
    out += [(pen.T @ top_pos - pen_neg.T @ top_neg) / n, (pen - pen_neg).mean(axis=0),
            (top_pos - top_neg).mean(axis=0), (Y.T @ top_pos - lab_neg.T @ top_neg) / n,
            (Y - lab_neg).mean(axis=0)]
    for k, layer in enumerate(rec):
        miss = sleep[k + 1] - logistic(sleep[k] @ layer.weights + layer.hidden_bias)
        out += [(sleep[k].T @ miss) / n, miss.mean(axis=0)]
    return out


def top_sweeps(top, pen, Y, steps, rng):
    """The wake states of the top RBM and ``steps`` sweeps of CD from them (steps 1 and
    2 of the module docstring), by the sparse kernels of
    :mod:`rbmcli.kernels.rbm.labeltop` (three times faster than dense products at CD-10).

    Parameters
    ----------
    top : rbmcli.models.labels.LabelledRBM
        The top RBM (nv pen units, nh top units, C label units).
    pen : (B, nv) float
        Binary wake states of the pen units, in the top's dtype.
    Y : (B, C) float
        One-hot labels.
    steps : int
        CD sweeps K >= 1.
    rng : numpy.random.Generator
        Draws one key per row (:func:`rbmcli.sampling.keys.draw_keys`); half-step ``k``
        of row ``s`` then draws its uniforms from ``step_key(keys[s], k)``: the wake top
        states at k = 0, sweep i's pen states at 2i + 1 and top states at 2i + 2.

    Returns
    -------
    top_pos : (B, nh), pen_neg : (B, nv), lab_neg : (B, C), top_neg : (B, nh)
        The wake top states ``t+``, and the last sweep's pen states ``p-``, label
        probabilities ``y-`` and top states ``t-``, in the top's dtype.
    """
    dt = top.dtype
    n, nv, nh = len(pen), top.n_visible, top.n_hidden
    keys = draw_keys(rng, n)
    by_pen = np.empty((-(-nv // TILE), nh, TILE), dt)
    by_top = np.empty((-(-nh // TILE), nv, TILE), dt)
    tile_top_weights(np.ascontiguousarray(top.weights), by_pen, by_top)
    U = np.ascontiguousarray(top.labels.weights)
    pen_states = np.ascontiguousarray(pen, np.uint8)
    T = np.empty((n, nh), np.uint8)
    top_step(pen_states, by_top, top.hidden_bias, U, np.ascontiguousarray(Y, dt), keys, 0, T)
    top_pos = T.astype(dt)
    P = np.empty((n, nv), np.uint8)
    L = np.empty((n, len(U)), dt)
    ones, none = np.ones(n, dt), np.zeros((0, nv), np.uint8)
    for i in range(int(steps)):
        visible_step(T, by_pen, top.visible_bias, ones, keys, 2 * i + 1, none, P,
                     np.zeros((0, nv), dt), none)
        label_probs(T, U, top.labels.bias, L)
        top_step(P, by_top, top.hidden_bias, U, L, keys, 2 * i + 2, T)
    return top_pos, P.astype(dt), L, T.astype(dt)


def up_down_update(dbn, V, y, rng, lr, steps, velocities=None, momentum=0.0, l2=0.0,
                   refresh_tiles=True):
    """One up-down step of ``dbn`` in place: :func:`up_down_gradients` (arguments as
    there), with weight decay ``l2`` on the weights, times ``lr``; with ``velocities`` (the
    momentum buffers, shaped as :func:`parameters`, updated in place) the step is
    ``velocity = momentum * velocity + lr * direction``.

    The layers' tiled copies of their weights (what the Numba kernels read; up-down
    tiles the top's weights itself, in :func:`top_sweeps`) are rewritten at the end,
    unless ``refresh_tiles`` is False: then the caller must call :func:`refresh_tiles_of`
    before a kernel reads them."""
    r, m, a = (dbn.dtype.type(x) for x in (lr, momentum, l2))
    none = np.zeros(0, dbn.dtype)
    grads = up_down_gradients(dbn, V, y, rng, steps)
    for k, ((value, is_weight), grad) in enumerate(zip(parameters(dbn), grads)):
        velocity_step(_flat(value), _flat(np.ascontiguousarray(grad, dbn.dtype)),
                      none if velocities is None else _flat(velocities[k]), r, m,
                      a if is_weight else dbn.dtype.type(0))
    if refresh_tiles:
        refresh_tiles_of(dbn)


def _flat(array):
    """The 1-D view of a C-contiguous ``array`` (updated in place through it)."""
    if not array.flags.c_contiguous:
        raise ValueError("up-down updates C-contiguous parameter arrays only")
    return array.reshape(-1)


def all_layers(dbn):
    """Every RBM layer object of the untied ``dbn``: the recognition layers and the top,
    then the generative layers."""
    return list(dbn.layers) + [g for g in dbn.generative_layers if g not in dbn.layers]


def refresh_tiles_of(dbn):
    """Rewrite the tiled weights of every layer of ``dbn`` from their weights."""
    for layer in all_layers(dbn):
        layer._refresh_tiles()


class UpDownTrainer(ArraySnapshots):
    """Epochs of :func:`up_down_update` over labelled binary training rows, with the
    interface :class:`rbmcli.training.run.TrainingRun` drives (``run_epoch``,
    ``snapshot``, ``restore``, ``rng``, ``state``, ``options``).

    Parameters
    ----------
    model : rbmcli.models.dbn.DBN
        Untied, with label units on the top.
    options : rbmcli.training.dbn.DBNTrainOptions
        ``fine_tune_lr`` (0: ``lr``), ``fine_tune_momentum`` (None: :data:`MOMENTUM`),
        ``fine_tune_l2``, ``fine_tune_cd`` (None: :data:`SCHEDULE`), ``batch_size``,
        ``fine_tune_epochs``.
    train, valid : rbmcli.training.labels.LabelledData
        Rows of the first layer and their label units (``train`` binary, or grey levels
        with ``--fine-tune-input grey``: :class:`rbmcli.training.finetune.GreyLevels`);
        ``valid`` may be None.
    first_epoch : int
        The run's epoch where fine-tuning starts (the greedy epochs before it).
    rng : numpy.random.Generator
    state : dict, optional
        ``velocity_updown_<i>``: the momentum buffers (checkpointed; in the order of
        :func:`parameters`), when the momentum is not 0.
    eval_rows : rbmcli.training.labels.LabelledData, optional
        The binary rows the per-epoch figures use (default ``train``): the same figures
        whichever input the steps see.
    """

    def __init__(self, model, options, train, valid, first_epoch, rng, state=None,
                 eval_rows=None):
        self.model, self.options, self.train, self.valid = model, options, train, valid
        self.first_epoch, self.rng = first_epoch, rng
        self.state = dict(state or {})
        self.lr = options.fine_tune_lr or options.lr
        self.momentum = options.fine_tune_momentum_or(MOMENTUM)
        self.velocities = momentum_buffers(
            self.state, "velocity_updown", [a for a, _ in parameters(model)]) \
            if self.momentum else None
        eval_rng = np.random.default_rng([options.seed, 7])
        self.eval_index = np.sort(eval_rng.choice(len(train), min(len(train), 1000),
                                                  replace=False))
        self.eval_train = (eval_rows or train).rows(self.eval_index, eval_rng)

    def _arrays(self):
        """Every array an epoch changes: the parameters and the momentum buffers."""
        return [array for array, _ in parameters(self.model)] + (self.velocities or [])

    def _restored(self):
        refresh_tiles_of(self.model)

    def run_epoch(self, epoch=0, on_batch=None):
        """One pass of up-down steps over the training rows in random order; ``epoch`` is
        the run's (the greedy epochs included). Returns the epoch's metrics."""
        opts = self.options
        steps = cd_steps(epoch - self.first_epoch, opts.fine_tune_epochs, opts.fine_tune_cd)
        with compiling.watch() as clock:
            start = time.perf_counter()
            order = self.rng.permutation(len(self.train))
            n_batches = -(-len(order) // opts.batch_size)
            for k in range(n_batches):
                index = np.sort(order[k * opts.batch_size:(k + 1) * opts.batch_size])
                up_down_update(self.model, self.train.rows(index, self.rng),
                               self.train.labels[index], self.rng, self.lr, steps,
                               self.velocities, self.momentum, opts.fine_tune_l2,
                               refresh_tiles=False)
                if on_batch:
                    on_batch(k + 1, n_batches)
            refresh_tiles_of(self.model)
            seconds = time.perf_counter() - start - clock.seconds
        if not self.model.is_finite():
            raise TrainingDiverged("weights or biases became NaN or infinite")
        return self.evaluate(seconds, steps)

    def evaluate(self, seconds, steps):
        """The metrics of a greedy epoch, for the history: ``mser_*`` is the mean-field
        reconstruction through the first layer's recognition and generative weights,
        ``class_error_*`` the classifier's error; ``cd_steps`` the sweeps used."""
        out = {"seconds": seconds, "lr": self.lr, "momentum": self.momentum,
               "mser_train": self._mser(self.eval_train), "mser_valid": np.nan,
               "free_energy_gap": np.nan,
               "class_error_train": self._error(self.eval_train,
                                                self.train.labels[self.eval_index]),
               "class_error_valid": np.nan, "cd_steps": float(steps)}
        if self.valid is not None:
            rows = self.valid.rows(np.arange(len(self.valid)), np.random.default_rng(
                [self.options.seed, 11]))
            out["mser_valid"] = self._mser(rows)
            if self.valid.labels is not None:
                out["class_error_valid"] = self._error(rows, self.valid.labels)
        return out

    def _mser(self, rows):
        first, gen = self.model.layers[0], self.model.generative_layers[0]
        return float(np.mean((gen.visible_probs(first.hidden_probs(rows)) - rows) ** 2))

    def _error(self, rows, labels):
        x = rows
        for layer in self.model.layers[:-1]:
            x = layer.hidden_probs(x)
        return float(np.mean(self.model.top.class_probabilities(x).argmax(axis=1) != labels))
