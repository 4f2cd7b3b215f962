"""The fused parameter update of RBM training: gradient statistics, priors, momentum.

The log-likelihood gradient is approximated by positive statistics (data ``V+`` and
``P(h|V+)``) minus negative statistics (model samples ``V-`` and ``P(h|V-)``):

    dW = V+^T HP+ / B+  -  V-^T HP- / B-  -  l2 * W  -  l1 * sign(W)
    db = mean(V+) - mean(V-)            dc = mean(HP+) - mean(HP-)

followed by momentum ``vel = momentum * vel + lr * grad`` and ``param += vel``. With
binary ``V`` the products ``V^T HP`` are, for each visible unit ``i``, sums of the
rows of ``HP`` over the samples where unit ``i`` is on: gather-adds over contiguous
rows. When B+ == B-, sample ``s`` of each side is paired and a unit that is on in
both adds the single row ``HP+[s] - HP-[s]``: for CD, where the reconstruction keeps
most of the data's pixels, that halves the rows read. The loop runs over blocks of 16
visible units, so threads never write the same row of ``W``, and each block writes
whole 64-byte lines of the transpose ``WT``.
"""

import numba
import numpy as np

from ._config import INLINE, JIT, PARALLEL_JIT
from ._rowops import gather_add
from ._transpose import copy_transposed

BLOCK = 16  # visible units per parallel block: 16 float32 = one 64-byte line of WT


@numba.njit(**INLINE)
def _block_lists(V_pos, V_neg, i0, i1, paired, both, n_both, pos, n_pos, neg, n_neg):
    """The samples where each visible unit ``i0 <= i < i1`` is on, as three lists
    (row ``i - i0`` of ``both``, ``pos``, ``neg``, each (BLOCK, B) int32, with counts
    ``n_both``, ``n_pos``, ``n_neg`` (BLOCK,) int64): on in both ``V_pos[s]`` and
    ``V_neg[s]`` (only when ``paired``), on in ``V_pos`` only, on in ``V_neg`` only;
    each in increasing ``s``."""
    n_both[:] = 0
    n_pos[:] = 0
    n_neg[:] = 0
    for s in range(V_pos.shape[0]):
        for i in range(i0, i1):
            r = i - i0
            p = V_pos[s, i] != 0
            q = paired and V_neg[s, i] != 0
            if p and q:
                both[r, n_both[r]] = s
                n_both[r] += 1
            elif p:
                pos[r, n_pos[r]] = s
                n_pos[r] += 1
            elif q:
                neg[r, n_neg[r]] = s
                n_neg[r] += 1
    if not paired:
        for s in range(V_neg.shape[0]):
            for i in range(i0, i1):
                if V_neg[s, i] != 0:
                    neg[i - i0, n_neg[i - i0]] = s
                    n_neg[i - i0] += 1


@numba.njit(**PARALLEL_JIT)
def _update_rows(W, WT, b, vel_W, vel_b, V_pos, V_neg, paired, D, HP_pos, HP_neg,
                 inv_pos, inv_neg, lr, momentum, l2, l1, mu, lam, g_c, c_part):
    """The weight and visible-bias part of :func:`apply_update`, block by block.

    Centered (``mu.shape[0] > 0``): the weight gradient gets ``-mu g_c^T - g_b lam^T``,
    the visible-bias gradient is ``g_b - G lam`` (G the full weight gradient), and
    ``c_part[blk] = sum over the block's rows i of mu_i G[i]`` (nblocks, nh) feeds the
    hidden-bias gradient ``g_c - G^T mu``.
    """
    nv, nh = W.shape
    b_max = max(V_pos.shape[0], V_neg.shape[0])
    zero = np.zeros(nh, W.dtype)
    centered = mu.shape[0] > 0
    for blk in numba.prange((nv + BLOCK - 1) // BLOCK):
        g_pos = np.empty(nh, W.dtype)  # sum of D over `both` plus HP_pos over `pos`
        g_neg = np.empty(nh, W.dtype)
        both = np.empty((BLOCK, b_max), np.int32)
        pos = np.empty((BLOCK, b_max), np.int32)
        neg = np.empty((BLOCK, b_max), np.int32)
        n_both = np.empty(BLOCK, np.int64)
        n_pos = np.empty(BLOCK, np.int64)
        n_neg = np.empty(BLOCK, np.int64)
        i0 = blk * BLOCK
        i1 = min(nv, i0 + BLOCK)
        _block_lists(V_pos, V_neg, i0, i1, paired, both, n_both, pos, n_pos, neg, n_neg)
        for i in range(i0, i1):
            r = i - i0
            gather_add(D, both[r], n_both[r], zero, g_pos)
            gather_add(HP_pos, pos[r], n_pos[r], g_pos, g_pos)
            gather_add(HP_neg, neg[r], n_neg[r], zero, g_neg)
            w = W[i]
            vel = vel_W[i]
            n_on_pos = n_both[r] + n_pos[r]
            n_on_neg = n_both[r] + n_neg[r]
            g_b = n_on_pos * inv_pos - n_on_neg * inv_neg
            if centered:
                mu_i = mu[i]
                g_lam = 0.0
                c_row = c_part[blk]
                for j in range(nh):
                    grad = (g_pos[j] * inv_pos - g_neg[j] * inv_neg
                            - l2 * w[j] - l1 * np.sign(w[j])
                            - mu_i * g_c[j] - g_b * lam[j])
                    g_lam += grad * lam[j]
                    c_row[j] += mu_i * grad
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
                g_b -= g_lam
            elif l1 == 0.0:
                for j in range(nh):
                    grad = g_pos[j] * inv_pos - g_neg[j] * inv_neg - l2 * w[j]
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            else:
                for j in range(nh):
                    grad = (g_pos[j] * inv_pos - g_neg[j] * inv_neg
                            - l2 * w[j] - l1 * np.sign(w[j]))
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            vel_b[i] = momentum * vel_b[i] + lr * g_b
            b[i] += vel_b[i]
        copy_transposed(W, WT, i0, i1)


@numba.njit(**JIT)
def apply_update(W, WT, b, c, vel_W, vel_b, vel_c, V_pos, HP_pos, V_neg, HP_neg,
                 lr, momentum, l2, l1, mu, lam):
    """Update ``W`` (nv, nh), its transpose ``WT`` (nh, nv), ``b`` (nv,) and ``c`` (nh,)
    in place from one batch of statistics.

    V_pos: (B+, nv) uint8; HP_pos: (B+, nh); V_neg: (B-, nv) uint8; HP_neg: (B-, nh);
    vel_W, vel_b, vel_c: momentum buffers shaped like W, b, c; lr, momentum, l2, l1:
    floats of W's dtype (l2: Gaussian prior strength, l1: Laplace prior strength).

    mu (nv,) and lam (nh,): offsets of the centered gradient (Montavon & Mueller 2012;
    Melchior, Fischer & Wiskott 2016), or empty arrays for the plain one. The centered
    RBM ``E = -(v-mu) W (h-lam) - b'.(v-mu) - c'.(h-lam)`` is the plain RBM with
    ``b = b' - W lam`` and ``c = c' - W^T mu``; its gradient step, mapped back to the
    plain parameters updated here, is::

        G  = dW - mu g_c^T - g_b lam^T      (dW: the plain weight gradient with priors)
        gb = g_b - G lam                    g_b = mean(V+) - mean(V-)
        gc = g_c - G^T mu                   g_c = mean(HP+) - mean(HP-)

    each followed by momentum as above.
    """
    nh = W.shape[1]
    scales = np.empty(2, W.dtype)  # typed like W, so float32 loops stay float32
    scales[0] = 1.0 / V_pos.shape[0]
    scales[1] = 1.0 / V_neg.shape[0]
    inv_pos = scales[0]
    inv_neg = scales[1]
    paired = V_pos.shape[0] == V_neg.shape[0]
    # D = HP+ - HP-, scaled so that (D + HP+ ...) * inv_pos is right when the scales
    # are equal (they are: same batch size).
    D = HP_pos - HP_neg if paired else np.empty((0, nh), W.dtype)
    g_c = np.zeros(nh, np.float64)
    for s in range(HP_pos.shape[0]):
        for j in range(nh):
            g_c[j] += HP_pos[s, j] * inv_pos
    for s in range(HP_neg.shape[0]):
        for j in range(nh):
            g_c[j] -= HP_neg[s, j] * inv_neg
    centered = mu.shape[0] > 0
    n_blocks = (W.shape[0] + BLOCK - 1) // BLOCK if centered else 0
    c_part = np.zeros((n_blocks, nh), W.dtype)
    _update_rows(W, WT, b, vel_W, vel_b, V_pos, V_neg, paired, D, HP_pos, HP_neg,
                 inv_pos, inv_neg, lr, momentum, l2, l1, mu, lam, g_c.astype(W.dtype),
                 c_part)
    for blk in range(n_blocks):
        for j in range(nh):
            g_c[j] -= c_part[blk, j]
    for j in range(nh):
        vel_c[j] = momentum * vel_c[j] + lr * g_c[j]
        c[j] += vel_c[j]
