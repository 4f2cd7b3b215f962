"""Block Gibbs sweeps of a Bernoulli RBM, optionally with clamped visible units."""

import numba
import numpy as np

from ._config import PARALLEL_JIT
from ._rowops import active_units, gather_add, sigmoid_sample, sigmoid_sample_clamped
from ._sigmoid import sigmoid
from .rng import step_key


@numba.njit(**PARALLEL_JIT)
def gibbs_sweeps(V, W, WT, b, c, betas, keys, n_steps, clamp, HP_first, HP_last):
    """Run ``n_steps`` block Gibbs sweeps ``h ~ P(h|v)``, ``v ~ P(v|h)`` on every chain.

    Each chain ``s`` runs at inverse temperature ``betas[s]``; step ``t`` draws its
    hidden uniforms from ``step_key(keys[s], 2t)`` and its visible ones from
    ``step_key(keys[s], 2t + 1)``.

    Parameters
    ----------
    V : (B, nv) uint8
        Visible states, updated in place.
    W, WT : (nv, nh) and (nh, nv) float
        Weights and their C-contiguous transpose.
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
    nv = V.shape[1]
    nh = W.shape[1]
    use_clamp = clamp.shape[0] > 0
    keep_first = HP_first.shape[0] > 0
    for s in numba.prange(V.shape[0]):
        idx_v = np.empty(nv, np.int32)
        idx_h = np.empty(nh, np.int32)
        hp = np.empty(nh, W.dtype)
        h = np.empty(nh, np.uint8)
        pre_v = np.empty(nv, W.dtype)
        beta = betas[s]
        v = V[s]
        m = active_units(v, idx_v)
        gather_add(W, idx_v, m, c, hp)
        for t in range(n_steps):
            sigmoid_sample(hp, beta, step_key(keys[s], 2 * t), 0, hp, h)
            if t == 0 and keep_first:
                HP_first[s, :] = hp
            mh = active_units(h, idx_h)
            gather_add(WT, idx_h, mh, b, pre_v)
            if use_clamp:
                sigmoid_sample_clamped(pre_v, beta, step_key(keys[s], 2 * t + 1), 0,
                                       clamp[s], v)
            else:
                sigmoid_sample(pre_v, beta, step_key(keys[s], 2 * t + 1), 0, pre_v, v)
            m = active_units(v, idx_v)
            gather_add(W, idx_v, m, c, hp)
        out = HP_last[s]
        for j in range(nh):
            out[j] = sigmoid(beta * hp[j])
        if n_steps == 0 and keep_first:
            HP_first[s, :] = out
