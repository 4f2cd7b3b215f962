"""The transpose of ``W`` in column tiles, and the gather-add that reads it.

The visible half-step sums, for each chain, the rows of ``W^T`` at its active hidden
units. Summed row by row (each chain reading ~30% of ``W^T``'s 1.6 MB), every chain
streams its rows from L2/L3 again. Stored as tiles of 16 visible units,

    WTt[t, j, r] = W[16 t + r, j]        (n_tiles, nh, 16), n_tiles = ceil(nv / 16),

one tile (500 hidden units: 32 KB in float32) stays in L1 while every chain of the batch
sums its rows into one 16-lane register (two chains at a time, see
:func:`tile_pair_gather`). Units past ``nv`` in the last tile are zero.

Invariants every caller of :func:`tile_pair_gather` keeps:

* ``tile`` is one tile ``WTt[t]``: (nh, 16) C-contiguous float32 or float64, rows
  exactly :data:`TILE` = 16 wide (one <16 x float> load per row, no alignment needed);
* ``idx`` (3, L) int32 with ``L >= max(counts)`` and entries in ``[0, nh)``;
  ``counts`` (3,) int64; nothing is bounds-checked;
* ``bias``, ``out_a``, ``out_b``: 1-D of the tile's dtype with ``col + 16`` entries at
  least (pad the biases to whole tiles: ``n_tiles(nv) * 16``); all 16 lanes at
  ``col`` are read and written, including the zero units past ``nv``;
* the outputs do not overlap ``bias`` or each other.

``tile_pair_gather_ir`` is the intrinsic, ``tile_pair_gather_plain`` its plain-Numba
twin (ordinary loops, the same additions written in the same order), and
``tile_pair_gather`` the one the kernels use, chosen once by ``RBM_PLAIN_KERNELS``
(:mod:`rbmcli.kernels._config`). The two agree to rounding, not bit for bit: in a
fast-math kernel LLVM reassociates the intrinsic's final sum of its four accumulators
and the bias (see :mod:`rbmcli.kernels.intrinsics.list_sum_ir`); each lane stays within
``(m0 + m + 1) eps`` of the other, relative to the sum of the magnitudes added.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from rbmcli.kernels._config import HELPER, PLAIN
from rbmcli.kernels.intrinsics.list_sum_ir import emit_list_sum, list_sum_plain, load_vector

TILE = 16
_UNROLL = 4  # rows per loop step, each into its own accumulator


@intrinsic
def tile_pair_gather_ir(typingctx, tile, idx, counts, bias, col, out_a, out_b):
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


@numba.njit(**HELPER)
def tile_pair_gather_plain(tile, idx, counts, bias, col, out_a, out_b):
    """Twin of :func:`tile_pair_gather_ir`: the same sums with ordinary loops, in the
    order the intrinsic is written (:func:`rbmcli.kernels.intrinsics.list_sum_ir.
    list_sum_plain` with four accumulators). Equal to rounding only: LLVM reassociates
    the intrinsic's final adds under fast-math (float32 and float64 alike)."""
    acc = np.empty((_UNROLL, TILE), tile.dtype)
    shared = np.empty(TILE, tile.dtype)
    list_sum_plain(tile, idx[0], counts[0], 0, acc)
    for j in range(TILE):
        shared[j] = bias[col + j] + acc[0, j]
    list_sum_plain(tile, idx[1], counts[1], 0, acc)
    for j in range(TILE):
        out_a[col + j] = shared[j] + acc[0, j]
    list_sum_plain(tile, idx[2], counts[2], 0, acc)
    for j in range(TILE):
        out_b[col + j] = shared[j] + acc[0, j]


tile_pair_gather = tile_pair_gather_plain if PLAIN else tile_pair_gather_ir


@numba.njit(**HELPER)
def n_tiles(n_visible):
    """How many tiles hold ``n_visible`` units."""
    return (n_visible + TILE - 1) // TILE
