"""The RBM's conditionals on binary states, with the sigmoid and the Bernoulli draw fused.

Shapes: B chains, nv visible units, nh hidden units. ``W`` is (nv, nh) and ``WTt`` its
transpose in tiles of 16 visible units (:mod:`rbmcli.kernels.intrinsics.tiles`), kept in step by the
Python layer, so that both directions are sums over contiguous rows. A tempered conditional at inverse
temperature beta is ``P(h_j = 1 | v) = sigmoid(beta * (c_j + (v W)_j))``.
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT, PARALLEL_JIT
from rbmcli.kernels.intrinsics.masks import active_units
from rbmcli.kernels.rbm.rowops import gather_add, sigmoid_sample
from rbmcli.kernels.intrinsics.sigmoid import sigmoid
from rbmcli.kernels.rbm.halfsteps import visible_step
from rbmcli.kernels.rng import step_key


@numba.njit(**PARALLEL_JIT)
def hidden_probs_binary(V, W, c, HP):
    """``HP[s] = sigmoid(c + V[s] @ W)`` for binary ``V``.

    V: (B, nv) uint8; W: (nv, nh); c: (nh,); HP: (B, nh) output, W's dtype.
    """
    nv = V.shape[1]
    for s in numba.prange(V.shape[0]):
        idx = np.empty(nv, np.int32)
        m = active_units(V[s], idx)
        row = HP[s]
        gather_add(W, idx, m, c, row)
        for j in range(row.shape[0]):
            row[j] = sigmoid(row[j])


@numba.njit(**PARALLEL_JIT)
def sample_hidden(V, W, c, betas, keys, HP, H):
    """Draw ``H[s] ~ P_beta(h | V[s])`` and keep the probabilities in ``HP``.

    V: (B, nv) uint8; W: (nv, nh); c: (nh,); betas: (B,) inverse temperatures;
    keys: (B,) uint64, one per chain; HP: (B, nh) float output; H: (B, nh) uint8 output.
    """
    nv = V.shape[1]
    for s in numba.prange(V.shape[0]):
        idx = np.empty(nv, np.int32)
        m = active_units(V[s], idx)
        gather_add(W, idx, m, c, HP[s])
        sigmoid_sample(HP[s], betas[s], step_key(keys[s], 0), 0, HP[s], H[s])


@numba.njit(**JIT)
def sample_visible(H, WTt, b, betas, keys, VP, V):
    """Draw ``V[s] ~ P_beta(v | H[s])`` and keep the probabilities in ``VP``.

    H: (B, nh) uint8; WTt: the tiled transpose of W (:mod:`rbmcli.kernels.intrinsics.tiles`); b: (nv,);
    betas: (B,); keys: (B,) uint64 (uniforms from ``step_key(keys[s], 1)``);
    VP: (B, nv) float output; V: (B, nv) uint8 output.
    """
    visible_step(H, WTt, b, betas, keys, 1, np.zeros((0, V.shape[1]), np.uint8), V, VP,
                 np.empty((0, V.shape[1]), np.uint8))
