"""The transpose of ``W`` in column tiles, and the gather-add that reads it.

The visible half-step sums, for each chain, the rows of ``W^T`` at its active hidden
units. Summed row by row (each chain reading ~30% of ``W^T``'s 1.6 MB), every chain
streams its rows from L2/L3 again. Stored as tiles of 16 visible units,

    WTt[t, j, r] = W[16 t + r, j]        (n_tiles, nh, 16), n_tiles = ceil(nv / 16),

one tile (500 hidden units: 32 KB in float32) stays in L1 while every chain of the batch
sums its rows into one 16-lane register. Units past ``nv`` in the last tile are zero.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import INLINE

TILE = 16
_UNROLL = 4  # independent accumulators, to hide the add latency


@intrinsic
def tile_gather(typingctx, tile, idx, m, bias, bias_col, out, out_col):
    """``out[out_col:out_col + 16] = bias[bias_col:bias_col + 16] + sum_k tile[idx[k]]``
    for ``k < m``.

    tile: (n, 16) C-contiguous float32 or float64; idx: 1-D C int32; bias, out: 1-D C
    arrays of the tile's dtype. No bounds checks: the caller keeps every index inside.
    The rows are summed in four interleaved accumulators of <16 x float>, added up at
    the end (a different order from a sequential sum: float32 results may differ from
    NumPy's in the last bits).
    """
    if not (isinstance(tile, types.Array) and tile.ndim == 2 and tile.layout == "C"
            and tile.dtype in (types.float32, types.float64)):
        return None
    if not (isinstance(idx, types.Array) and idx.dtype == types.int32 and idx.ndim == 1):
        return None
    for vec in (bias, out):
        if not (isinstance(vec, types.Array) and vec.dtype == tile.dtype and vec.ndim == 1):
            return None

    def codegen(context, builder, signature, args):
        tile_v, idx_v, m_v, bias_v, bias_col_v, out_v, out_col_v = args
        tys = signature.args
        i64 = ir.IntType(64)
        vec_t = ir.VectorType(context.get_value_type(tys[0].dtype), TILE)
        tile_a = context.make_array(tys[0])(context, builder, tile_v)
        idx_a = context.make_array(tys[1])(context, builder, idx_v)
        bias_a = context.make_array(tys[3])(context, builder, bias_v)
        out_a = context.make_array(tys[5])(context, builder, out_v)
        m64 = context.cast(builder, m_v, tys[2], types.int64)
        bias_col = context.cast(builder, bias_col_v, tys[4], types.int64)
        out_col = context.cast(builder, out_col_v, tys[6], types.int64)
        zero = ir.Constant(vec_t, [0.0] * TILE)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(_UNROLL)]

        def row(k):
            r = builder.sext(builder.load(builder.gep(idx_a.data, [k])), i64)
            ptr = builder.gep(tile_a.data, [builder.mul(r, ir.Constant(i64, TILE))])
            load = builder.load(builder.bitcast(ptr, vec_t.as_pointer()))
            load.align = 4
            return load

        def accumulate(acc, value):
            builder.store(builder.fadd(builder.load(acc), value, flags=("fast",)), acc)

        n_groups = builder.sdiv(m64, ir.Constant(i64, _UNROLL))
        with cgutils.for_range(builder, n_groups) as loop:
            first = builder.mul(loop.index, ir.Constant(i64, _UNROLL))
            for u in range(_UNROLL):
                accumulate(accs[u], row(builder.add(first, ir.Constant(i64, u))))
        done = builder.mul(n_groups, ir.Constant(i64, _UNROLL))
        with cgutils.for_range(builder, builder.sub(m64, done)) as loop:
            accumulate(accs[0], row(builder.add(done, loop.index)))
        a = [builder.load(acc) for acc in accs]
        total = builder.fadd(builder.fadd(a[0], a[1]), builder.fadd(a[2], a[3]))
        bias_ptr = builder.bitcast(builder.gep(bias_a.data, [bias_col]), vec_t.as_pointer())
        bias_vec = builder.load(bias_ptr)
        bias_vec.align = 4
        out_ptr = builder.bitcast(builder.gep(out_a.data, [out_col]), vec_t.as_pointer())
        store = builder.store(builder.fadd(total, bias_vec), out_ptr)
        store.align = 4
        return context.get_dummy_value()

    return types.none(tile, idx, m, bias, bias_col, out, out_col), codegen


@numba.njit(**INLINE)
def n_tiles(n_visible):
    """How many tiles hold ``n_visible`` units."""
    return (n_visible + TILE - 1) // TILE
