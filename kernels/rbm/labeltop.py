"""The half-steps of block Gibbs sampling in a top RBM with label units, as up-down
fine-tuning runs them (Hinton, Osindero & Teh 2006, appendix B): the hidden units ("top",
nh) given the units below ("pen", nv, binary) and the label units (C, real-valued
probabilities or one-hot), and the label probabilities given the top.

The pen units given the top are the plain visible half-step of the RBM,
:func:`rbmcli.kernels.rbm.halfsteps.visible_step`. Binary states are sparse (in the
fine-tuned 784-500-500-2000 DBN, 15% of the pen units and 7% of the top units are on),
so each product is a gather-add over the active units' rows instead of a dense matrix
product (benchmarks/updown_sweeps.py times the two).

:func:`tile_top_weights` writes the two tiled copies of the weights they read.

Random numbers: chain ``s`` draws unit ``j`` of half-step ``step`` as
``uniform(step_key(keys[s], step), j)`` (:mod:`rbmcli.kernels.rng`).
"""

import numba
import numpy as np

from rbmcli.kernels._config import PARALLEL_JIT
from rbmcli.kernels.intrinsics.sigmoid import sigmoid
from rbmcli.kernels.intrinsics.tiles import TILE
from rbmcli.kernels.intrinsics.transpose import copy_transposed
from rbmcli.kernels.rbm.halfsteps import tiled_pair_sums
from rbmcli.kernels.rng import step_key, uniform


@numba.njit(**PARALLEL_JIT)
def top_step(P, WPt, c, U, L, keys, step, T):
    """``T ~ Bernoulli(sigmoid(c + P W + L U))`` for every chain.

    The sums over the active pen units run in parallel over tiles of 16 top units, two
    chains at a time (as :func:`rbmcli.kernels.rbm.halfsteps.visible_step` does for the
    visible units); the label term and the draws run in parallel over chains.

    Parameters
    ----------
    P : (B, nv) uint8
        Pen states.
    WPt : (ceil(nh / 16), nv, 16) float
        The weights ``W`` (nv, nh) in tiles of 16 top units: ``WPt[t, i, r] = W[i, 16 t
        + r]`` (``transposed_tiles(W.T)``), zero past ``nh``.
    c : (nh,) float
        Top biases.
    U : (C, nh) float
        Label weights.
    L : (B, C) float
        Label probabilities (one-hot for clamped labels).
    keys : (B,) uint64
        Random key of each chain.
    step : int
        The half-step's number (its uniforms are those of ``step_key(key, step)``).
    T : (B, nh) uint8
        Output: the top states.
    """
    B, nh = T.shape
    pre = tiled_pair_sums(P, WPt, c)
    for s in numba.prange(B):
        a = pre[s]
        for k in range(U.shape[0]):
            weight = L[s, k]
            if weight != 0:
                u = U[k]
                for j in range(nh):
                    a[j] += weight * u[j]
        key = step_key(keys[s], step)
        t_s = T[s]
        for j in range(nh):
            t_s[j] = np.uint8(uniform(key, j) < sigmoid(a[j]))


@numba.njit(**PARALLEL_JIT)
def label_probs(T, U, d, L):
    """``L = softmax(d + T U^T)`` row by row, from binary top states.

    T: (B, nh) uint8 top states; U: (C, nh) float label weights; d: (C,) float label
    biases; L: (B, C) float output (the dtype of ``U``), the softmax taken in float64.
    Each logit is a dot product over all nh units (it vectorises; a loop that added the
    active units' columns of ``U`` took about ten times as long at 2000 units).
    """
    B, nh = T.shape
    C = d.shape[0]
    for s in numba.prange(B):
        z = np.empty(C, np.float64)
        t_s = T[s]
        for k in range(C):
            u = U[k]
            total = u.dtype.type(0)
            for j in range(nh):
                total += t_s[j] * u[j]
            z[k] = d[k] + total
        top = z.max()
        total = 0.0
        for k in range(C):
            z[k] = np.exp(z[k] - top)
            total += z[k]
        for k in range(C):
            L[s, k] = z[k] / total


@numba.njit(**PARALLEL_JIT)
def tile_top_weights(W, by_pen, by_top):
    """The two tiled copies of the top RBM's weights ``W`` (nv, nh) the half-steps read:
    ``by_pen`` (ceil(nv / 16), nh, 16), the tiled transpose
    (:mod:`rbmcli.kernels.intrinsics.tiles`) for the pen units given the top, and
    ``by_top`` (ceil(nh / 16), nv, 16), ``by_top[t, i, r] = W[i, 16 t + r]``, for the top
    units given the pen; both zero past the last unit. (NumPy's ``transposed_tiles``
    took 5 to 7 ms for both at 500 x 2000 on a busy machine, this kernel under 1 ms.)"""
    nv, nh = W.shape
    for t in numba.prange(by_pen.shape[0]):
        i0 = t * TILE
        i1 = min(i0 + TILE, nv)
        copy_transposed(W, by_pen, i0, i1)
        for i in range(i1 - i0, TILE):
            for j in range(nh):
                by_pen[t, j, i] = 0
    n_full = nh // TILE
    for i in numba.prange(nv):  # each row of W read once, in order
        row = W[i]
        for t in range(n_full):
            out = by_top[t, i]
            for r in range(TILE):
                out[r] = row[t * TILE + r]
        for t in range(n_full, by_top.shape[0]):
            out = by_top[t, i]
            for r in range(TILE):
                out[r] = row[t * TILE + r] if t * TILE + r < nh else 0
