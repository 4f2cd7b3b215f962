"""The transpose of ``W`` in column tiles, and the gather-add that reads it.

The visible half-step sums, for each chain, the rows of ``W^T`` at its active hidden
units. Summed row by row (each chain reading ~30% of ``W^T``'s 1.6 MB), every chain
streams its rows from L2/L3 again. Stored as tiles of 16 visible units,

    WTt[t, j, r] = W[16 t + r, j]        (n_tiles, nh, 16), n_tiles = ceil(nv / 16),

one tile (500 hidden units: 32 KB in float32) stays in L1 while every chain of the batch
sums its rows into one 16-lane register (two chains at a time, see
:func:`tile_pair_gather`). Units past ``nv`` in the last tile are zero.
"""

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from rbmcli.kernels._config import INLINE
from rbmcli.kernels.intrinsics.list_sum_ir import emit_list_sum, load_vector

TILE = 16
_UNROLL = 4  # rows per loop step, each into its own accumulator


@intrinsic
def tile_pair_gather(typingctx, tile, idx, counts, bias, col, out_a, out_b):
    """The sums of the listed rows of a tile for two chains that share some of their
    active units.

    ``idx`` (3, >= max(counts)) int32 lists the units both chains have on (row 0), those
    only chain a has on (row 1) and those only chain b has on (row 2); ``counts`` (3,)
    int64 says how many of each. Writes ``out_a[col:col + 16] = bias[col:col + 16] +
    sum over rows 0 and 1`` and ``out_b[...]`` the same over rows 0 and 2: each shared
    row is read and added once for both chains. tile: (n, 16) C-contiguous float32 or
    float64; bias, out_a, out_b: 1-D arrays of the tile's dtype; no bounds checks.
    Each list is summed in four interleaved accumulators of <16 x float> (see
    :func:`rbmcli.kernels.intrinsics.list_sum_ir.emit_list_sum`).
    """
    if not (isinstance(tile, types.Array) and tile.ndim == 2 and tile.layout == "C"
            and tile.dtype in (types.float32, types.float64)):
        return None
    if not (isinstance(idx, types.Array) and idx.dtype == types.int32 and idx.ndim == 2):
        return None
    if not (isinstance(counts, types.Array) and counts.dtype == types.int64):
        return None
    for vec in (bias, out_a, out_b):
        if not (isinstance(vec, types.Array) and vec.dtype == tile.dtype and vec.ndim == 1):
            return None

    def codegen(context, builder, signature, args):
        tile_v, idx_v, counts_v, bias_v, col_v, out_a_v, out_b_v = args
        tys = signature.args
        i64 = ir.IntType(64)
        vec_t = ir.VectorType(context.get_value_type(tys[0].dtype), TILE)
        tile_a = context.make_array(tys[0])(context, builder, tile_v)
        idx_a = context.make_array(tys[1])(context, builder, idx_v)
        counts_a = context.make_array(tys[2])(context, builder, counts_v)
        idx_stride = builder.extract_value(idx_a.shape, 1)
        col = context.cast(builder, col_v, tys[4], types.int64)

        def row_vector(r):
            return [load_vector(builder, builder.gep(
                tile_a.data, [builder.mul(r, ir.Constant(i64, TILE))]), vec_t)]

        def list_sum(which):
            """The sum of the rows listed in idx[which], as one vector."""
            first_idx = builder.gep(idx_a.data, [builder.mul(idx_stride,
                                                             ir.Constant(i64, which))])
            m64 = builder.load(builder.gep(counts_a.data, [ir.Constant(i64, which)]))
            return emit_list_sum(builder, first_idx, m64, row_vector, vec_t, 1, _UNROLL)[0]

        def vector_at(aryty, value):
            ary = context.make_array(aryty)(context, builder, value)
            return builder.bitcast(builder.gep(ary.data, [col]), vec_t.as_pointer())

        bias_vec = builder.load(vector_at(tys[3], bias_v))
        bias_vec.align = 4
        shared = builder.fadd(bias_vec, list_sum(0))
        for which, (aryty, value) in ((1, (tys[5], out_a_v)), (2, (tys[6], out_b_v))):
            store = builder.store(builder.fadd(shared, list_sum(which)),
                                  vector_at(aryty, value))
            store.align = 4
        return context.get_dummy_value()

    return types.none(tile, idx, counts, bias, col, out_a, out_b), codegen


@numba.njit(**INLINE)
def n_tiles(n_visible):
    """How many tiles hold ``n_visible`` units."""
    return (n_visible + TILE - 1) // TILE
