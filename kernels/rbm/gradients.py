"""The fused parameter update of RBM training: gradient statistics, priors, momentum.

The log-likelihood gradient is approximated by positive statistics (data ``V+`` and
``P(h|V+)``) minus negative statistics (model samples ``V-`` and ``P(h|V-)``):

    dW = V+^T HP+ / B+  -  V-^T HP- / B-  -  l2 * W  -  l1 * sign(W)
    db = mean(V+) - mean(V-)            dc = mean(HP+) - mean(HP-)

followed by momentum ``vel = momentum * vel + lr * grad`` and ``param += vel``. With
binary ``V`` the products ``V^T HP`` are, for each visible unit ``i``, sums of the
rows of ``HP`` over the samples where unit ``i`` is on: gather-adds over contiguous
rows. Both products come out of one gather-add per unit over a stacked, pre-scaled
statistics matrix (:func:`_statistics`); when B+ == B-, sample ``s`` of each side is
paired and a unit that is on in both adds the single row ``HP+[s] - HP-[s]``. The
gather-adds run strip by strip in registers over a 64-byte-aligned, padded statistics
matrix (:mod:`rbmcli.kernels.intrinsics.strips`): 0.95 and 0.96 of a CD-1 step with row-by-row
gather-adds (ab_kernels.py, 16 and 20 rounds). The loop runs over blocks of 16 visible
units, so threads never write the same row of ``W``, and each block refreshes one tile
of the tiled transpose ``WTt`` (:mod:`rbmcli.kernels.intrinsics.tiles`).
"""

import numba
import numpy as np

from rbmcli.kernels._config import HELPER, JIT, PARALLEL_JIT
from rbmcli.kernels.intrinsics.masks import append_mask64, nonzero_mask
from rbmcli.kernels.intrinsics.strips import aligned_matrix, strip_cols, strip_sum
from rbmcli.kernels.intrinsics.tiles import TILE
from rbmcli.kernels.intrinsics.transpose import copy_transposed

BLOCK = TILE  # visible units per parallel block: one tile of WTt


@numba.njit(**HELPER)
def _transpose64(A):
    """Transpose the 64 x 64 bit matrix ``A`` (64,) uint64 in place: afterwards bit
    ``t`` of ``A[u]`` is what bit ``u`` of ``A[t]`` was (bits counted from the least
    significant). Six rounds, each swapping the off-diagonal halves of every
    ``2j x 2j`` block (Hacker's Delight, 7-3)."""
    j = 32
    mask = np.uint64(0x00000000FFFFFFFF)
    while j != 0:
        shift = np.uint64(j)
        k = 0
        while k < 64:
            t = ((A[k] >> shift) ^ A[k + j]) & mask
            A[k + j] ^= t
            A[k] ^= t << shift
            k = (k + j + 1) & ~j
        j >>= 1
        mask ^= mask << np.uint64(j)


@numba.njit(**PARALLEL_JIT)
def _unit_masks(V_pos, V_neg, U_pos, U_neg):
    """For each visible unit ``i``, the samples that have it on, as bits: bit ``t`` of
    ``U[i, w]`` is ``V[64 w + t, i] != 0``, for both phases.

    V_pos: (B+, nv), V_neg: (B-, nv) uint8; U_pos: (64 n_chunks, ceil(B+ / 64)),
    U_neg: (64 n_chunks, ceil(B- / 64)) uint64 outputs, n_chunks = ceil(nv / 64) (rows
    past nv are padding). Each task reads 64 samples x 64 units as per-sample masks
    (one byte compare each) and transposes that bit matrix.
    """
    n_chunks = U_pos.shape[0] // 64
    n_words_pos = U_pos.shape[1]
    n_tasks = n_chunks * (n_words_pos + U_neg.shape[1])
    for task in numba.prange(n_tasks):
        c = task % n_chunks
        w = task // n_chunks
        V, U = V_pos, U_pos
        if w >= n_words_pos:
            V, U = V_neg, U_neg
            w -= n_words_pos
        A = np.zeros(64, np.uint64)
        i0 = 64 * c
        for t in range(min(64, V.shape[0] - 64 * w)):
            A[t] = nonzero_mask(V[64 * w + t], i0)
        _transpose64(A)
        for u in range(64):
            U[i0 + u, w] = A[u]


@numba.njit(**HELPER)
def _block_lists(U_pos, U_neg, i0, i1, b_pos, paired, rows, n_rows, n_on_pos, n_on_neg):
    """For each visible unit ``i0 <= i < i1`` (row ``r = i - i0``), the rows of the
    statistics matrix ``S`` (see :func:`_statistics`) to add up for its weight
    gradient, in ``rows[r, :n_rows[r]]`` ((BLOCK, B+ + B- + 16) int32, the 16 being
    slack for :func:`append_mask64`; (BLOCK,) int64), and how many positive and
    negative samples have it on (``n_on_pos``, ``n_on_neg``, (BLOCK,) int64).
    ``U_pos``, ``U_neg``: the sample masks of :func:`_unit_masks`; ``b_pos``: B+.

    Paired (B+ == B-), sample ``s`` contributes one row: ``s`` (its ``D`` row) when
    the unit is on in both phases, ``B + s`` when on in ``V+`` only, ``2B + s`` when
    on in ``V-`` only. Unpaired, ``s`` for ``V+[s]`` and ``B+ + s`` for ``V-[s]``.
    Each 64-sample word splits into the three cases with two bit operations; the
    lists come out of :func:`append_mask64` (vector compress). Built without masks,
    one branch-free step per sample and unit, the lists took ~0.11 ms of a 1.15 ms
    CD-1 step on MNIST.
    """
    for i in range(i0, i1):
        r = i - i0
        row = rows[r]
        m = np.int64(0)
        if paired:
            on_pos = 0
            on_neg = 0
            for w in range(U_pos.shape[1]):
                p = U_pos[i, w]
                q = U_neg[i, w]
                base = 64 * w
                m0 = m
                m = append_mask64(p & q, base, row, m)
                m1 = m
                m = append_mask64(p & ~q, b_pos + base, row, m)
                m2 = m
                m = append_mask64(q & ~p, 2 * b_pos + base, row, m)
                on_pos += m2 - m0
                on_neg += (m1 - m0) + (m - m2)
        else:
            for w in range(U_pos.shape[1]):
                m = append_mask64(U_pos[i, w], 64 * w, row, m)
            on_pos = m
            for w in range(U_neg.shape[1]):
                m = append_mask64(U_neg[i, w], b_pos + 64 * w, row, m)
            on_neg = m - on_pos
        n_rows[r] = m
        n_on_pos[r] = on_pos
        n_on_neg[r] = on_neg


@numba.njit(**PARALLEL_JIT)
def _statistics(HP_pos, HP_neg, inv_pos, inv_neg, paired, S):
    """The rows whose sums make the weight gradient, scaled, stacked in ``S``.

    Paired (B+ == B-, so inv_pos == inv_neg): ``S = [(HP+ - HP-) inv; HP+ inv;
    -HP- inv]`` (3B, nh); unpaired: ``S = [HP+ inv_pos; -HP- inv_neg]`` (B+ + B-, nh).
    The gradient row of visible unit ``i`` is then one gather-add over the rows that
    :func:`_block_lists` lists: ``V+^T HP+ / B+ - V-^T HP- / B-``, reading a single
    ``HP+ - HP-`` row for a sample whose unit is on in both phases (for CD, most of
    the data's pixels survive the reconstruction: that halves the rows read).
    ``S`` has whole strips of columns (:mod:`rbmcli.kernels.intrinsics.strips`); those past nh are
    zeroed.
    """
    b_pos = HP_pos.shape[0]
    b_neg = HP_neg.shape[0]
    nh = HP_pos.shape[1]
    off = b_pos if paired else 0
    for s in numba.prange(max(b_pos, b_neg)):
        if s < b_pos:
            dst = S[off + s]
            for j in range(nh):
                dst[j] = HP_pos[s, j] * inv_pos
            dst[nh:] = 0
        if s < b_neg:
            dst = S[off + b_pos + s]
            for j in range(nh):
                dst[j] = -HP_neg[s, j] * inv_neg
            dst[nh:] = 0
            if paired:
                dst = S[s]
                for j in range(nh):
                    dst[j] = (HP_pos[s, j] - HP_neg[s, j]) * inv_pos
                dst[nh:] = 0


@numba.njit(**PARALLEL_JIT)
def _update_rows(W, WTt, b, vel_W, vel_b, V_pos, V_neg, U_pos, U_neg, paired, S, inv_pos,
                 inv_neg, lr, momentum, l2, l1, mu, lam, g_c, c_part):
    """The weight and visible-bias part of :func:`apply_update`, block by block.

    Centered (``mu.shape[0] > 0``): the weight gradient gets ``-mu g_c^T - g_b lam^T``,
    the visible-bias gradient is ``g_b - G lam`` (G the full weight gradient), and
    ``c_part[blk] = sum over the block's rows i of mu_i G[i]`` (nblocks, nh) feeds the
    hidden-bias gradient ``g_c - G^T mu``.
    """
    nv, nh = W.shape
    n_cols = S.shape[1]
    per_strip = strip_cols(np.int64(1), S)
    centered = mu.shape[0] > 0
    for blk in numba.prange((nv + BLOCK - 1) // BLOCK):
        g = np.empty(n_cols, W.dtype)  # the data part of the weight gradient's row
        rows = np.empty((BLOCK, V_pos.shape[0] + V_neg.shape[0] + 16), np.int32)
        n_rows = np.empty(BLOCK, np.int64)
        n_on_pos = np.empty(BLOCK, np.int64)
        n_on_neg = np.empty(BLOCK, np.int64)
        i0 = blk * BLOCK
        i1 = min(nv, i0 + BLOCK)
        _block_lists(U_pos, U_neg, i0, i1, V_pos.shape[0], paired, rows, n_rows, n_on_pos,
                     n_on_neg)
        for i in range(i0, i1):
            r = i - i0
            for col in range(0, n_cols, per_strip):
                strip_sum(S, rows[r], n_rows[r], col, g)
            w = W[i]
            vel = vel_W[i]
            g_b = n_on_pos[r] * inv_pos - n_on_neg[r] * inv_neg
            if centered:
                mu_i = mu[i]
                g_lam = 0.0
                c_row = c_part[blk]
                for j in range(nh):
                    grad = (g[j] - l2 * w[j] - l1 * np.sign(w[j])
                            - mu_i * g_c[j] - g_b * lam[j])
                    g_lam += grad * lam[j]
                    c_row[j] += mu_i * grad
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
                g_b -= g_lam
            elif l1 == 0.0:
                for j in range(nh):
                    grad = g[j] - l2 * w[j]
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            else:
                for j in range(nh):
                    grad = g[j] - l2 * w[j] - l1 * np.sign(w[j])
                    vel[j] = momentum * vel[j] + lr * grad
                    w[j] += vel[j]
            vel_b[i] = momentum * vel_b[i] + lr * g_b
            b[i] += vel_b[i]
        copy_transposed(W, WTt, i0, i1)


@numba.njit(**JIT)
def apply_update(W, WTt, b, c, vel_W, vel_b, vel_c, V_pos, HP_pos, V_neg, HP_neg,
                 lr, momentum, l2, l1, mu, lam):
    """Update ``W`` (nv, nh), its tiled transpose ``WTt`` (ceil(nv / 16), nh, 16),
    ``b`` (nv,) and ``c`` (nh,) in place from one batch of statistics.

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
    S = aligned_matrix((3 if paired else 1) * V_pos.shape[0]
                       + (0 if paired else V_neg.shape[0]), strip_cols(nh, W), W)
    _statistics(HP_pos, HP_neg, inv_pos, inv_neg, paired, S)
    # g_c = mean(HP+) - mean(HP-): the sum of the rows of S that hold both phases,
    # paired its D rows, unpaired all of them (whole strips: they vectorise fully)
    g_c = np.zeros(S.shape[1], W.dtype)
    for r in range(V_pos.shape[0] if paired else S.shape[0]):
        row = S[r]
        for j in range(S.shape[1]):
            g_c[j] += row[j]
    centered = mu.shape[0] > 0
    n_blocks = (W.shape[0] + BLOCK - 1) // BLOCK if centered else 0
    c_part = np.zeros((n_blocks, nh), W.dtype)
    n_unit_rows = 64 * ((W.shape[0] + 63) // 64)
    U_pos = np.empty((n_unit_rows, (V_pos.shape[0] + 63) // 64), np.uint64)
    U_neg = np.empty((n_unit_rows, (V_neg.shape[0] + 63) // 64), np.uint64)
    _unit_masks(V_pos, V_neg, U_pos, U_neg)
    _update_rows(W, WTt, b, vel_W, vel_b, V_pos, V_neg, U_pos, U_neg, paired, S, inv_pos,
                 inv_neg, lr, momentum, l2, l1, mu, lam, g_c, c_part)
    for blk in range(n_blocks):
        for j in range(nh):
            g_c[j] -= c_part[blk, j]
    for j in range(nh):
        vel_c[j] = momentum * vel_c[j] + lr * g_c[j]
        c[j] += vel_c[j]
