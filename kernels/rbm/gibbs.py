"""Block Gibbs sweeps of a Bernoulli RBM, optionally with clamped visible units."""

import numba
import numpy as np

from rbmcli.kernels._config import JIT
from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step

_REFRESH = 16  # recompute pre-activations from scratch every 16 sweeps (no drift)


@numba.njit(**JIT)
def gibbs_sweeps(V, W, WTt, b, c, betas, keys, n_steps, clamp, HP_first, HP_last):
    """Run ``n_steps`` block Gibbs sweeps ``h ~ P(h|v)``, ``v ~ P(v|h)`` on every chain.

    Each chain ``s`` runs at inverse temperature ``betas[s]``; sweep ``t`` draws its
    hidden uniforms from ``step_key(keys[s], 2t)`` and its visible ones from
    ``step_key(keys[s], 2t + 1)``. After the first sweep the hidden pre-activations are
    updated from the visible units that changed (CD-1's reconstruction differs from the
    data in a few percent of the pixels), and recomputed in full every 16 sweeps.

    Parameters
    ----------
    V : (B, nv) uint8
        Visible states, updated in place.
    W : (nv, nh) float
        Weights.
    WTt : (ceil(nv / 16), nh, 16) float
        Their tiled transpose (:mod:`rbmcli.kernels.intrinsics.tiles`).
    b, c : (nv,) and (nh,) float
        Visible and hidden biases.
    betas : (B,) float
        Inverse temperature of each chain (1.0 for the model itself).
    keys : (B,) uint64
        Random key of each chain.
    n_steps : int
        Number of sweeps (>= 0).
    clamp : (B, nv) or (0, nv) uint8
        Non-zero entries keep their value in ``V`` (inpainting); an empty array
        clamps nothing.
    HP_first : (B, nh) or (0, nh) float
        Output: ``P(h | v)`` of the initial states (the positive statistics of
        CD-k); an empty array skips it.
    HP_last : (B, nh) float
        Output: ``P(h | v)`` of the final states (the negative statistics).
    """
    n, nv = V.shape
    nh = W.shape[1]
    A = np.empty((n, nh), W.dtype)
    HP = np.empty((n, nh), W.dtype)
    H = np.empty((n, nh), np.uint8)
    no_states = np.empty((0, nh), np.uint8)
    V_prev = np.empty_like(V)
    no_probs = np.empty((0, nv), W.dtype)
    for t in range(n_steps):
        incremental = t % _REFRESH != 0
        # the first sweep's probabilities go straight to HP_first when it is wanted
        hp = HP_first if t == 0 and HP_first.shape[0] > 0 else HP
        hidden_step(V, V_prev, W, c, betas, keys, 2 * t, A, hp, H, incremental)
        visible_step(H, WTt, b, betas, keys, 2 * t + 1, clamp, V, no_probs, V_prev)
    incremental = n_steps % _REFRESH != 0
    hidden_step(V, V_prev, W, c, betas, keys, 2 * n_steps, A, HP_last, no_states,
                incremental)
    if n_steps == 0 and HP_first.shape[0] > 0:
        for s in range(n):  # a loop: a slice assignment compiles Numba's shape checks
            for j in range(nh):
                HP_first[s, j] = HP_last[s, j]
