"""LLVM IR for the loop the gather intrinsics share: a sum of rows over an index list.

:func:`rbmcli.kernels.intrinsics.tiles.tile_pair_gather` and :func:`rbmcli.kernels.intrinsics.strips.strip_sum` both add,
for ``k < m``, a few vectors of row ``idx[k]`` of a matrix into vector registers. They
differ only in where a row's vectors are; :func:`emit_list_sum` writes the loop once.
"""

from llvmlite import ir
from numba.core import cgutils


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
