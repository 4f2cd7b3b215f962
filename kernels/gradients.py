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

from ._config import JIT, PARALLEL_JIT
from ._rowops import gather_add

BLOCK = 16  # visible units per parallel block: 16 float32 = one 64-byte line of WT


@numba.njit(**JIT)
def active_by_column(V):
    """Compressed columns of a binary matrix.

    V: (B, n) uint8. Returns ``(ptr, rows)``: ptr (n + 1,) int64 and rows (nnz,) int32,
    so that the samples where column ``i`` is on are ``rows[ptr[i]:ptr[i + 1]]``,
    in increasing order.
    """
    n_rows, n = V.shape
    ptr = np.zeros(n + 1, np.int64)
    for s in range(n_rows):
        for i in range(n):
            if V[s, i] != 0:
                ptr[i + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    rows = np.empty(ptr[n], np.int32)
    for s in range(n_rows):
        for i in range(n):
            if V[s, i] != 0:
                rows[fill[i]] = s
                fill[i] += 1
    return ptr, rows


@numba.njit(**JIT)
def _paired_columns(V_pos, V_neg):
    """Split the active entries of two (B, n) binary matrices by column into
    on-in-both, on-in-V_pos-only and on-in-V_neg-only samples (uint8 codes 3, 1, 2)."""
    code = V_pos.astype(np.uint8)
    for s in range(V_pos.shape[0]):
        for i in range(V_pos.shape[1]):
            code[s, i] = np.uint8((V_pos[s, i] != 0) + 2 * (V_neg[s, i] != 0))
    both = active_by_column(code == 3)
    pos = active_by_column(code == 1)
    neg = active_by_column(code == 2)
    return both, pos, neg


@numba.njit(**PARALLEL_JIT)
def _update_rows(W, WT, b, vel_W, vel_b, both, pos, neg, D, HP_pos, HP_neg,
                 inv_pos, inv_neg, lr, momentum, l2, l1, mu, lam, g_c, c_part):
    """The weight and visible-bias part of :func:`apply_update`, block by block.

    Centered (``mu.shape[0] > 0``): the weight gradient gets ``-mu g_c^T - g_b lam^T``,
    the visible-bias gradient is ``g_b - G lam`` (G the full weight gradient), and
    ``c_part[blk] = sum over the block's rows i of mu_i G[i]`` (nblocks, nh) feeds the
    hidden-bias gradient ``g_c - G^T mu``.
    """
    nv, nh = W.shape
    both_ptr, both_rows = both
    pos_ptr, pos_rows = pos
    neg_ptr, neg_rows = neg
    zero = np.zeros(nh, W.dtype)
    centered = mu.shape[0] > 0
    for blk in numba.prange((nv + BLOCK - 1) // BLOCK):
        g_both = np.empty(nh, W.dtype)
        g_pos = np.empty(nh, W.dtype)
        g_neg = np.empty(nh, W.dtype)
        i0 = blk * BLOCK
        i1 = min(nv, i0 + BLOCK)
        for i in range(i0, i1):
            q0, q1 = both_ptr[i], both_ptr[i + 1]
            p0, p1 = pos_ptr[i], pos_ptr[i + 1]
            n0, n1 = neg_ptr[i], neg_ptr[i + 1]
            gather_add(D, both_rows[q0:q1], q1 - q0, zero, g_both)
            gather_add(HP_pos, pos_rows[p0:p1], p1 - p0, zero, g_pos)
            gather_add(HP_neg, neg_rows[n0:n1], n1 - n0, zero, g_neg)
            w = W[i]
            vel = vel_W[i]
            n_on_pos = (q1 - q0) + (p1 - p0)
            n_on_neg = (q1 - q0) + (n1 - n0)
            g_b = n_on_pos * inv_pos - n_on_neg * inv_neg
            if centered:
                mu_i = mu[i]
                g_lam = 0.0
                c_row = c_part[blk]
                for j in range(nh):
                    grad = ((g_both[j] + g_pos[j]) * inv_pos - g_neg[j] * inv_neg
                            - l2 * w[j] - l1 * np.sign(w[j])
                            - mu_i * g_c[j] - g_b * lam[j])
                    g_lam += grad * lam[j]
                    c_row[j] += mu_i * grad
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
                g_b -= g_lam
            elif l1 == 0.0:
                for j in range(nh):
                    grad = (g_both[j] + g_pos[j]) * inv_pos - g_neg[j] * inv_neg - l2 * w[j]
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            else:
                for j in range(nh):
                    grad = ((g_both[j] + g_pos[j]) * inv_pos - g_neg[j] * inv_neg
                            - l2 * w[j] - l1 * np.sign(w[j]))
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            vel_b[i] = momentum * vel_b[i] + lr * g_b
            b[i] += vel_b[i]
        rows = W[i0:i1]
        n = i1 - i0
        for j in range(nh):
            dst = WT[j, i0:i1]
            for r in range(n):
                dst[r] = rows[r, j]


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
    if V_pos.shape[0] == V_neg.shape[0]:
        # D = HP+ - HP-, scaled so that (D + HP+ ...) * inv_pos is right when the
        # scales are equal (they are: same batch size).
        D = HP_pos - HP_neg
        both, pos, neg = _paired_columns(V_pos, V_neg)
    else:
        D = np.empty((0, nh), W.dtype)
        empty = np.zeros((V_pos.shape[0], W.shape[0]), np.bool_)
        both = active_by_column(empty)
        pos = active_by_column(V_pos)
        neg = active_by_column(V_neg)
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
    _update_rows(W, WT, b, vel_W, vel_b, both, pos, neg, D, HP_pos, HP_neg,
                 inv_pos, inv_neg, lr, momentum, l2, l1, mu, lam, g_c.astype(W.dtype),
                 c_part)
    for blk in range(n_blocks):
        for j in range(nh):
            g_c[j] -= c_part[blk, j]
    for j in range(nh):
        vel_c[j] = momentum * vel_c[j] + lr * g_c[j]
        c[j] += vel_c[j]
