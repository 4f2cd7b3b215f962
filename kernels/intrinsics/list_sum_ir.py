"""LLVM IR for the loop the gather intrinsics share: a sum of rows over an index list.

:func:`rbmcli.kernels.intrinsics.tiles.tile_pair_gather` and :func:`rbmcli.kernels.intrinsics.strips.strip_sum` both add,
for ``k < m``, a few vectors of row ``idx[k]`` of a matrix into vector registers. They
differ only in where a row's vectors are; :func:`emit_list_sum` writes the loop once,
and :func:`list_sum_plain` is its plain-Numba twin (the same additions in the same
order, lane by lane) for the twins of both intrinsics.

The order (per lane): ``unroll`` accumulators start at zero; rows ``k = unroll s + u``
of the whole steps go into accumulator ``u``; the remaining ``m % unroll`` rows go, in
turn, into accumulator 0; the accumulators are then added pairwise,
``(a0 + a1) + (a2 + a3)``.

That is the order written, not always the order run: the adds carry fast-math flags,
and Numba's fast-math pass flags every float operation of a fast-math kernel, so
LLVM's reassociation may rebuild the final tree (with four accumulators it does,
folding the bias of :func:`tile_pair_gather` into it). The twin's accumulators live in
memory LLVM cannot prove unaliased, so its order stays as written. Hence: the strip
sums (two accumulators: one final add, and commutative) give the same bits; the tile
sums agree to rounding only, within ``(m + 1) eps`` times the sum of the magnitudes
added (float32 or float64 ``eps``). tests/test_intrinsics.py checks both. Callers
must only rely on a sum of the listed rows, rounded in some order.
"""

import numba
from llvmlite import ir
from numba.core import cgutils

from rbmcli.kernels._config import HELPER


def emit_list_sum(builder, idx_ptr, m, row_vectors, vec_t, n_vec, unroll):
    """Emit ``sum over k < m of row_vectors(idx[k])`` and return it as ``n_vec`` vectors.

    idx_ptr: pointer to the int32 indices; m: their count (i64); row_vectors(r): emits
    the ``n_vec`` loads of row ``r`` (i64) and returns them; vec_t: their vector type.
    ``unroll`` rows are added per loop step into separate sets of accumulators (to hide
    the add latency), the sets added pairwise at the end: a different order from a
    sequential sum, so float32 results may differ from NumPy's in the last bits.
    """
    i64 = ir.IntType(64)
    zero = ir.Constant(vec_t, [0.0] * vec_t.count)
    accs = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_vec)]
            for _ in range(unroll)]

    def add_row(k, acc_set):
        r = builder.sext(builder.load(builder.gep(idx_ptr, [k])), i64)
        for acc, value in zip(acc_set, row_vectors(r)):
            builder.store(builder.fadd(builder.load(acc), value, flags=("fast",)), acc)

    n_steps = builder.sdiv(m, ir.Constant(i64, unroll))
    with cgutils.for_range(builder, n_steps) as loop:
        first = builder.mul(loop.index, ir.Constant(i64, unroll))
        for u, acc_set in enumerate(accs):
            add_row(builder.add(first, ir.Constant(i64, u)), acc_set)
    done = builder.mul(n_steps, ir.Constant(i64, unroll))
    with cgutils.for_range(builder, builder.sub(m, done)) as loop:
        add_row(builder.add(done, loop.index), accs[0])
    sums = []
    for v in range(n_vec):
        parts = [builder.load(acc_set[v]) for acc_set in accs]
        while len(parts) > 1:  # pairwise: (a0 + a1) + (a2 + a3)
            parts = [builder.fadd(a, b, flags=("fast",)) for a, b in zip(parts[::2], parts[1::2])]
        sums.append(parts[0])
    return sums


def load_vector(builder, ptr, vec_t):
    """Load a ``vec_t`` from element pointer ``ptr`` (no alignment promised: aligned
    data is faster, but no aligned-only instruction is emitted)."""
    load = builder.load(builder.bitcast(ptr, vec_t.as_pointer()))
    load.align = 4
    return load


@numba.njit(**HELPER)
def list_sum_plain(mat, idx, m, col, acc):
    """Twin of :func:`emit_list_sum`: ``acc[0, :] = sum over k < m of mat[idx[k], col:col
    + L]`` in emit_list_sum's order, with ``unroll, L = acc.shape``.

    mat: 2-D C-contiguous, rows at least ``col + L`` long; idx: 1-D int32 (>= m,);
    acc: (unroll, L) scratch of mat's dtype, ``unroll`` a power of two; no bounds
    checks needed (Numba's are off) and no alignment.
    """
    unroll = acc.shape[0]
    width = acc.shape[1]
    acc[:] = 0
    n_steps = m // unroll
    for s in range(n_steps):
        for u in range(unroll):
            row = mat[idx[s * unroll + u]]
            a = acc[u]
            for j in range(width):
                a[j] += row[col + j]
    a = acc[0]
    for k in range(n_steps * unroll, m):
        row = mat[idx[k]]
        for j in range(width):
            a[j] += row[col + j]
    step = 1
    while step < unroll:  # pairwise: (a0 + a1) + (a2 + a3)
        for u in range(0, unroll, 2 * step):
            for j in range(width):
                acc[u, j] += acc[u + step, j]
        step *= 2
