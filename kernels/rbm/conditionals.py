"""The RBM's conditionals on binary states, with the sigmoid and the Bernoulli draw fused.

Shapes: B chains, nv visible units, nh hidden units. ``W`` is (nv, nh) and ``WTt`` its
transpose in tiles of 16 visible units (:mod:`rbmcli.kernels.intrinsics.tiles`), kept in step by the
Python layer, so that both directions are sums over contiguous rows. A tempered conditional at inverse
temperature beta is ``P(h_j = 1 | v) = sigmoid(beta * (c_j + (v W)_j))``.
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT
from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step

# The conditionals are the half-steps of block Gibbs sampling run once: each calls the
# kernel that :func:`rbmcli.kernels.rbm.gibbs.gibbs_sweeps` calls, with the same argument
# types, so a command that trains and samples compiles each half-step once. Steps and
# flags are passed as run-time values, never as literal constants (see HELPER in
# rbmcli.kernels._config).


@numba.njit(**JIT)
def hidden_probs_binary(V, W, c, HP):
    """``HP[s] = sigmoid(c + V[s] @ W)`` for binary ``V``.

    V: (B, nv) uint8; W: (nv, nh); c: (nh,); HP: (B, nh) output, W's dtype.
    """
    B = V.shape[0]
    betas = np.ones(B, W.dtype)
    keys = np.zeros(B, np.uint64)  # no draws
    no_states = np.empty((0, W.shape[1]), np.uint8)
    # HP doubles as the pre-activations: each is read before its probability is written
    hidden_step(V, V, W, c, betas, keys, np.int64(0), HP, HP, no_states, B < 0)


@numba.njit(**JIT)
def sample_hidden(V, W, c, betas, keys, HP, H):
    """Draw ``H[s] ~ P_beta(h | V[s])`` and keep the probabilities in ``HP``.

    V: (B, nv) uint8; W: (nv, nh); c: (nh,); betas: (B,) inverse temperatures;
    keys: (B,) uint64, one per chain (uniforms from ``step_key(keys[s], 0)``); HP:
    (B, nh) float output; H: (B, nh) uint8 output.
    """
    B = V.shape[0]
    A = np.empty((B, W.shape[1]), W.dtype)
    hidden_step(V, V, W, c, betas, keys, np.int64(0), A, HP, H, B < 0)


@numba.njit(**JIT)
def sample_visible(H, WTt, b, betas, keys, VP, V):
    """Draw ``V[s] ~ P_beta(v | H[s])`` and keep the probabilities in ``VP``.

    H: (B, nh) uint8; WTt: the tiled transpose of W (:mod:`rbmcli.kernels.intrinsics.tiles`); b: (nv,);
    betas: (B,); keys: (B,) uint64 (uniforms from ``step_key(keys[s], 1)``);
    VP: (B, nv) float output; V: (B, nv) uint8 output.
    """
    no_clamp = np.empty((0, V.shape[1]), np.uint8)
    visible_step(H, WTt, b, betas, keys, np.int64(1), no_clamp, V, VP, no_clamp)
