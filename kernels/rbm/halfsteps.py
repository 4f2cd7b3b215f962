"""The two half-steps of block Gibbs sampling, each parallel over its natural axis.

* :func:`hidden_step` draws ``h ~ P_beta(h | v)`` for every chain (parallel over
  chains): gather-adds of rows of ``W`` over the active visible units, or, given the
  previous pre-activations, only over the visible units that changed.
* :func:`visible_step` draws ``v ~ P_beta(v | h)`` (parallel over tiles of 16 visible
  units): sums of rows of the tiled transpose ``WTt`` over the active hidden units,
  for two chains at a time.

Between them, the hidden states travel as ``H`` (B, nh) uint8. Random numbers: chain
``s`` draws unit ``j`` of half-step ``step`` as ``uniform(step_key(keys[s], step), j)``.
"""

import numba
import numpy as np

from rbmcli.kernels._config import PARALLEL_JIT
from rbmcli.kernels.intrinsics.masks import changed_units, split_pair
from rbmcli.kernels.rbm.rowops import gather_add, signed_gather_add
from rbmcli.kernels.intrinsics.sigmoid import sigmoid
from rbmcli.kernels.intrinsics.tiles import TILE, tile_pair_gather
from rbmcli.kernels.rng import step_key, uniform


@numba.njit(**PARALLEL_JIT)
def hidden_step(V, V_prev, W, c, betas, keys, step, A, HP, H, incremental):
    """``HP = sigmoid(beta * A)`` and ``H ~ Bernoulli(HP)``, where ``A = c + V @ W``.

    A fresh sum goes over two chains at a time: the rows of the visible units both have
    on are added once, into the first chain's sum, which then starts the second's (on
    MNIST, two random images share ~17% of their active pixels). With ``incremental``,
    ``A`` holds on entry the pre-activations of ``V_prev`` and each chain adds the rows
    of the visible units that turned on and subtracts those that turned off, whenever
    that is fewer rows than a fresh sum over the active units.

    V, V_prev: (B, nv) uint8; W: (nv, nh); c: (nh,); betas: (B,); keys: (B,) uint64;
    step: int; A: (B, nh) pre-activations (updated); HP: (B, nh) output; H: (B, nh) uint8
    output, the states, or (0, nh) to draw none; incremental: bool (not a literal
    constant: see :data:`rbmcli.kernels._config.HELPER`).
    """
    B, nv = V.shape
    nh = W.shape[1]
    sample_states = H.shape[0] > 0
    plus = np.int64(1)  # the signs of the row sums, as run-time values (not literals)
    for p in numba.prange((B + 1) // 2):
        first = 2 * p
        has_second = first + 1 < B
        if incremental:
            active = np.empty(nv, np.int32)
            on = np.empty(nv, np.int32)
            off = np.empty(nv, np.int32)
            for s in range(first, first + 1 + has_second):
                a = A[s]
                m, n_on, n_off = changed_units(V[s], V_prev[s], active, on, off)
                if n_on + n_off < m:
                    signed_gather_add(W, on, n_on, plus, a, a)
                    signed_gather_add(W, off, n_off, -plus, a, a)
                else:
                    gather_add(W, active, m, c, a)
        else:  # the rows both chains have on are read once for both
            lists = np.empty((3, nv + 64), np.int32)
            n_shared, n_first, n_second = split_pair(V[first], V[first + has_second],
                                                     has_second, lists)
            a = A[first]
            gather_add(W, lists[0], n_shared, c, a)
            if has_second:
                signed_gather_add(W, lists[2], n_second, plus, a, A[first + 1])
            signed_gather_add(W, lists[1], n_first, plus, a, a)
        for s in range(first, first + 1 + has_second):
            a = A[s]
            beta = betas[s]
            hp = HP[s]
            for j in range(nh):
                hp[j] = sigmoid(beta * a[j])
            if sample_states:
                key = step_key(keys[s], step)
                h = H[s]
                for j in range(nh):
                    h[j] = np.uint8(uniform(key, j) < hp[j])


@numba.njit(**PARALLEL_JIT)
def pair_lists(H, lists, counts):
    """For each pair of chains ``(2p, 2p + 1)``, the active units of ``H`` (B, n) uint8
    they share, those only the first has, and those only the second has:
    ``lists[p, k, :counts[p, k]]`` for k = 0, 1, 2 ((ceil(B / 2), 3, >= n + 64) int32,
    the 64 being slack for :func:`rbmcli.kernels.intrinsics.masks.append_mask64`; (ceil(B / 2), 3)
    int64). With B odd, the last chain is paired with a chain that has nothing on."""
    B = H.shape[0]
    for p in numba.prange((B + 1) // 2):
        first = 2 * p
        has_second = first + 1 < B
        counts[p, 0], counts[p, 1], counts[p, 2] = split_pair(
            H[first], H[first + has_second], has_second, lists[p])


@numba.njit(**PARALLEL_JIT)
def tiled_pair_sums(H, WTt, b):
    """``b + H W^T`` for every chain, by tiles of 16 output units, chains in pairs
    (:func:`pair_lists`; see :func:`visible_step`).

    H: (B, nh) uint8 states; WTt: (ceil(nv / 16), nh, 16) the tiled transpose of W (nv,
    nh); b: (nv,). Returns (2 ceil(B / 2), ceil(nv / 16) 16) in the dtype of ``WTt``:
    row ``s < B`` holds chain s's sums in its first nv entries (with B odd the last row
    is scratch, and entries past nv are sums of the zero padding).
    """
    nv = b.shape[0]
    n_t = WTt.shape[0]
    n_pairs = (H.shape[0] + 1) // 2
    lists = np.empty((n_pairs, 3, H.shape[1] + 64), np.int32)
    counts = np.empty((n_pairs, 3), np.int64)
    pair_lists(H, lists, counts)
    b_padded = np.zeros(n_t * TILE, WTt.dtype)  # the tile gather reads 16 biases at a time
    b_padded[:nv] = b
    pre = np.empty((2 * n_pairs, n_t * TILE), WTt.dtype)
    for t in numba.prange(n_t):  # the sums, tile by tile
        tile = WTt[t]
        for p in range(n_pairs):
            tile_pair_gather(tile, lists[p], counts[p], b_padded, t * TILE, pre[2 * p],
                             pre[2 * p + 1])
    return pre


@numba.njit(**PARALLEL_JIT)
def visible_step(H, WTt, b, betas, keys, step, clamp, V, VP, V_prev):
    """``V ~ P_beta(v | h)`` for every chain, from its hidden states.

    H: (B, nh) uint8 hidden states; WTt: (ceil(nv / 16), nh,
    16) the tiled transpose of W (:mod:`rbmcli.kernels.intrinsics.tiles`); b: (nv,); betas: (B,); keys:
    (B,) uint64; step: int; clamp: (B, nv) or (0, nv) uint8, non-zero units keep their
    value; V: (B, nv) uint8 output; VP: (B, nv) output probabilities, or (0, nv) to
    skip them; V_prev: (B, nv) uint8 output, the states before this step (for the next
    incremental hidden step), or (0, nv) to skip them.

    The sums run in parallel over tiles of 16 visible units: each tile (32 KB in float32
    for 500 hidden units) stays in L1 while every chain sums its rows in one vector
    register. (Summed per chain over rows of a plain transpose, each chain streamed ~30%
    of W^T from L2 or L3 again: the step took 594 us where it now takes 375.) Chains go
    in pairs (:func:`pair_lists`): a unit both have on is read and added once for both
    (on MNIST, 20 to 25% of two random chains' active units are shared; the sums took
    0.81x the time of one chain at a time). The draws then run in parallel over chains,
    over whole rows that vectorise (drawn per tile, 16 at a time, they cost more than
    the tiles saved).
    """
    B, nv = V.shape
    use_clamp = clamp.shape[0] > 0
    keep_probs = VP.shape[0] > 0
    keep_prev = V_prev.shape[0] > 0
    pre = tiled_pair_sums(H, WTt, b)
    for s in numba.prange(B):  # the draws, chain by chain (whole rows vectorise)
        if keep_prev:
            V_prev[s, :] = V[s]
        beta = betas[s]
        key = step_key(keys[s], step)
        v = V[s]
        a = pre[s]
        for i in range(nv):
            p = sigmoid(beta * a[i])
            if keep_probs:
                VP[s, i] = p
            if not (use_clamp and clamp[s, i] != 0):
                v[i] = np.uint8(uniform(key, i) < p)
