"""Sums of rows over index lists, one 256-byte strip of columns at a time.

:func:`rbmcli.kernels.rbm.rowops.gather_add` adds rows into its output eight at a time, so the
output is read and written once per eight rows, and a list of 20 rows (a visible
unit's samples in the update) ends with a pass of four and passes of one. Here each
strip of 256 bytes (64 float32 or 32 float64) is summed over the whole list in eight
vector registers (four per strip, two rows at a time) and stored once.

The rows must start on 64-byte boundaries: a scratch matrix from
:func:`aligned_matrix` whose row length is a whole number of strips
(:func:`strip_cols`). Unaligned, every vector load straddles two cache lines: summed
over the rows of ``W`` (500 float32 per row), the strips were 1.06x *slower* than
gather_add; over the same rows padded to 512 and aligned, 0.89x.

Invariants every caller of :func:`strip_sum` keeps:

* ``mat`` is 2-D C-contiguous float32 or float64 whose row length is a whole number
  of strips (:func:`strip_cols`) and whose data start on a 64-byte boundary
  (:func:`aligned_matrix`): every row then starts aligned. (Unaligned data still give
  the right sums, slowly; rows that are not whole strips are read past their end.)
* ``col`` is a multiple of the strip width ``L = 256 / itemsize`` and ``col + L <=
  mat.shape[1]``; ``out`` (1-D, mat's dtype) has at least ``col + L`` entries: a whole
  strip is always written, padding columns included (keep them zero in ``mat``);
* ``idx`` is 1-D int32 with at least ``m`` entries, all in ``[0, mat.shape[0])``;
  nothing is bounds-checked.

``strip_sum_ir`` is the intrinsic, ``strip_sum_plain`` its plain-Numba twin (ordinary
loops, the same additions in the same order: the same bits, since the one final add
of the two accumulators is commutative; it needs no alignment),
and ``strip_sum`` the one the kernels use, chosen once by ``RBM_PLAIN_KERNELS``
(:mod:`rbmcli.kernels._config`).
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from rbmcli.kernels._config import HELPER, PLAIN
from rbmcli.kernels.intrinsics.list_sum_ir import emit_list_sum, list_sum_plain, load_vector

STRIP_BYTES = 256
_VECTOR_BYTES = 64
_N_VEC = STRIP_BYTES // _VECTOR_BYTES  # vectors per strip
_ROWS = 2  # rows added per loop step: two sets of accumulators hide the add latency


@numba.njit(**HELPER)
def strip_cols(n, like):
    """``n`` rounded up to a whole number of strips of ``like``'s dtype (an array)."""
    per_strip = STRIP_BYTES // like.itemsize
    return (n + per_strip - 1) // per_strip * per_strip


@numba.njit(**HELPER)
def aligned_matrix(n_rows, n_cols, like):
    """An uninitialised (n_rows, n_cols) C-contiguous array of ``like``'s dtype whose
    data start on a 64-byte boundary (Numba's own arrays start on 32)."""
    pad = _VECTOR_BYTES // like.itemsize
    flat = np.empty(n_rows * n_cols + pad, like.dtype)
    start = (-flat.ctypes.data % _VECTOR_BYTES) // like.itemsize
    return flat[start:start + n_rows * n_cols].reshape((n_rows, n_cols))


@intrinsic
def strip_sum_ir(typingctx, mat, idx, m, col, out):
    """``out[col:col + L] = sum_k mat[idx[k], col:col + L]`` for ``k < m``, where
    ``L = 256 / itemsize`` (64 float32 or 32 float64).

    mat: (n, n_cols) C-contiguous float32 or float64, 64-byte aligned rows (see the
    module docstring); idx: 1-D int32; m: how many of ``idx`` to use; col: a multiple
    of ``L``; out: 1-D array of mat's dtype, at least ``col + L`` long. No bounds
    checks. Rows are summed in two interleaved sets of accumulators, added at the end
    (float32 results may differ from a sequential sum in the last bits).
    """
    if not (isinstance(mat, types.Array) and mat.ndim == 2 and mat.layout == "C"
            and mat.dtype in (types.float32, types.float64)):
        return None
    if not (isinstance(idx, types.Array) and idx.dtype == types.int32 and idx.ndim == 1):
        return None
    if not (isinstance(out, types.Array) and out.dtype == mat.dtype and out.ndim == 1):
        return None

    def codegen(context, builder, signature, args):
        mat_v, idx_v, m_v, col_v, out_v = args
        tys = signature.args
        i64 = ir.IntType(64)
        lanes = _VECTOR_BYTES // context.get_abi_sizeof(context.get_value_type(tys[0].dtype))
        vec_t = ir.VectorType(context.get_value_type(tys[0].dtype), lanes)
        mat_a = context.make_array(tys[0])(context, builder, mat_v)
        idx_a = context.make_array(tys[1])(context, builder, idx_v)
        out_a = context.make_array(tys[4])(context, builder, out_v)
        row_len = builder.extract_value(mat_a.shape, 1)
        m64 = context.cast(builder, m_v, tys[2], types.int64)
        col = context.cast(builder, col_v, tys[3], types.int64)

        def row_vectors(r):
            start = builder.add(builder.mul(r, row_len), col)
            return [load_vector(builder, builder.gep(mat_a.data, [builder.add(
                start, ir.Constant(i64, v * lanes))]), vec_t) for v in range(_N_VEC)]

        sums = emit_list_sum(builder, idx_a.data, m64, row_vectors, vec_t, _N_VEC, _ROWS)
        for v, total in enumerate(sums):
            ptr = builder.gep(out_a.data, [builder.add(col, ir.Constant(i64, v * lanes))])
            store = builder.store(total, builder.bitcast(ptr, vec_t.as_pointer()))
            store.align = 4
        return context.get_dummy_value()

    return types.none(mat, idx, m, col, out), codegen


@numba.njit(**HELPER)
def strip_sum_plain(mat, idx, m, col, out):
    """Twin of :func:`strip_sum_ir`: the same strip sum with ordinary loops, in the same
    order (:func:`rbmcli.kernels.intrinsics.list_sum_ir.list_sum_plain` with two
    accumulators), so the same bits."""
    acc = np.empty((_ROWS, STRIP_BYTES // mat.itemsize), mat.dtype)
    list_sum_plain(mat, idx, m, col, acc)
    first = acc[0]
    for j in range(acc.shape[1]):
        out[col + j] = first[j]


strip_sum = strip_sum_plain if PLAIN else strip_sum_ir
