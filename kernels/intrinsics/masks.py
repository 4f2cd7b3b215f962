"""Index lists from bit masks: which units of a 0/1 state vector are on.

Every gather-add needs the list of active units, and building those lists was ~16% of
a CD-1 step on MNIST (the hidden pass, the incremental hidden pass and the update's
per-unit sample lists), even written without branches. Here 64 units at a time become
a 64-bit mask (one byte compare) and each 16 bits of it become up to 16 indices with
AVX-512's ``vpcompressd``, in its register form: the packed vector is stored whole
(64 bytes) and the list grows by the popcount. (The memory form,
``llvm.masked.compressstore``, is microcoded on AMD Zen 4 and was 2.5x *slower* than
the scalar loop.) The whole store needs slack: at most 16 int32 past the list's end
are written, which callers guarantee (see :func:`append_mask64`).

Without AVX-512 (``VECTOR_MASKS`` False) the same functions fall back to portable code:
the branch-free scalar loop and a trailing-zero-count loop.

Invariants every caller keeps (for the intrinsics; the twins need less):

* states are 1-D C-contiguous uint8 (any non-zero byte counts as on); lists are 1-D
  C-contiguous int32 (``split_pair``: (3, L) C-contiguous);
* :func:`nonzero_mask64`: ``start + 64 <= row.shape[0]`` (one unaligned 64-byte load,
  no bounds check); :func:`nonzero_mask` takes a partial last chunk;
* :func:`append_mask64` writes up to 16 int32 past the new length (filler): ``out``
  needs 16 entries more than the list can hold, unless the list is built in order
  of positions (``m <= base`` and ``base + 64 <= len(out)``);
* :func:`active_units`, :func:`changed_units`: outputs hold at least ``n`` entries;
  :func:`split_pair`: ``lists`` rows hold at least ``n + 64`` entries;
* only a list's first ``count`` entries are defined: what lies past them (slack,
  filler, scratch indices) differs between the intrinsics and the twins.

Names: ``f_ir`` uses the intrinsics, ``f_plain`` is its plain-Numba twin (ordinary
loops, no llvmlite; same signature, same lists and counts), and ``f`` is the one the
kernels use, chosen once by ``RBM_PLAIN_KERNELS`` (:mod:`rbmcli.kernels._config`).
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.registry import cpu_target
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from rbmcli.kernels._config import HELPER, PLAIN


def _target_has(*features):
    """Whether Numba's target machine has all of ``features`` (e.g. ``"avx512f"``)."""
    codegen = cpu_target.target_context.codegen()
    flags = getattr(codegen, "_tm_features", "") or ""
    on = {f[1:] for f in flags.split(",") if f.startswith("+")}
    return all(f in on for f in features)


VECTOR_MASKS = _target_has("avx512f", "avx512bw")
"""True when the compress instructions are there (decided once, at import)."""


@intrinsic
def nonzero_mask64_ir(typingctx, row, start):
    """A uint64 whose bit ``k`` is ``row[start + k] != 0`` for ``k < 64``.

    row: 1-D C-contiguous uint8; the caller ensures ``start + 64 <= row.shape[0]``.
    One 64-byte load and one compare into a mask register (``vptestmb``).
    """
    if not (isinstance(row, types.Array) and row.dtype == types.uint8 and row.ndim == 1
            and row.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        row_v, start_v = args
        ary = context.make_array(signature.args[0])(context, builder, row_v)
        start64 = context.cast(builder, start_v, signature.args[1], types.int64)
        vec_t = ir.VectorType(ir.IntType(8), 64)
        ptr = builder.bitcast(builder.gep(ary.data, [start64]), vec_t.as_pointer())
        load = builder.load(ptr)
        load.align = 1
        bits = builder.icmp_unsigned("!=", load, ir.Constant(vec_t, [0] * 64))
        return builder.bitcast(bits, ir.IntType(64))

    return types.uint64(row, start), codegen


@numba.njit(**HELPER)
def nonzero_mask64_plain(row, start):
    """Twin of :func:`nonzero_mask64_ir`: the same mask, one byte at a time."""
    bits = np.uint64(0)
    for k in range(64):
        bits |= np.uint64(row[start + k] != 0) << np.uint64(k)
    return bits


@numba.njit(**HELPER)
def nonzero_mask_ir(row, start):
    """:func:`nonzero_mask64` that also takes the last, partial chunk of ``row``: bits
    past ``row.shape[0]`` are clear."""
    n = row.shape[0] - start
    if n >= 64:
        return nonzero_mask64_ir(row, start)
    bits = np.uint64(0)
    for u in range(n):
        bits |= np.uint64(row[start + u] != 0) << np.uint64(u)
    return bits


@numba.njit(**HELPER)
def nonzero_mask_plain(row, start):
    """Twin of :func:`nonzero_mask_ir`: bit ``k`` is ``row[start + k] != 0`` for
    ``start + k < row.shape[0]`` and ``k < 64``."""
    bits = np.uint64(0)
    for k in range(min(64, row.shape[0] - start)):
        bits |= np.uint64(row[start + k] != 0) << np.uint64(k)
    return bits


@intrinsic
def _compress16_ir(typingctx, mask, base, out, m):
    """``out[m:m + 16] = [base + k for each set bit k < 16 of mask] + filler``, returns
    ``m + popcount(mask & 0xffff)``. out: 1-D C int32 with ``m + 16 <= out.shape[0]``.

    The filler lanes (zeros) past the new length are overwritten by later calls or
    ignored. AVX-512 only: ``vpcompressd`` into a register, then a plain store.
    """
    if not (isinstance(out, types.Array) and out.dtype == types.int32 and out.ndim == 1
            and out.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        mask_v, base_v, out_v, m_v = args
        i16, i32, i64 = ir.IntType(16), ir.IntType(32), ir.IntType(64)
        vec_t = ir.VectorType(i32, 16)
        lanes_t = ir.VectorType(ir.IntType(1), 16)
        ary = context.make_array(signature.args[2])(context, builder, out_v)
        m64 = context.cast(builder, m_v, signature.args[3], types.int64)
        base32 = builder.trunc(context.cast(builder, base_v, signature.args[1], types.int64),
                               i32)
        mask16 = builder.trunc(context.cast(builder, mask_v, signature.args[0], types.uint64),
                               i16)
        splat = builder.insert_element(ir.Constant(vec_t, ir.Undefined), base32,
                                       ir.Constant(i32, 0))
        splat = builder.shuffle_vector(splat, ir.Constant(vec_t, ir.Undefined),
                                       ir.Constant(vec_t, [0] * 16))
        values = builder.add(splat, ir.Constant(vec_t, list(range(16))))
        lanes = builder.bitcast(mask16, lanes_t)
        ptr = builder.bitcast(builder.gep(ary.data, [m64]), vec_t.as_pointer())
        if VECTOR_MASKS:
            compress = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec_t, [vec_t, vec_t, lanes_t]),
                "llvm.x86.avx512.mask.compress.v16i32")
            packed = builder.call(compress, [values, ir.Constant(vec_t, [0] * 16), lanes])
            store = builder.store(packed, ptr)
            store.align = 4
        else:  # portable (LLVM expands it), in case a caller reaches here without AVX-512
            compress = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [vec_t, ptr.type, lanes_t]),
                "llvm.masked.compressstore.v16i32")
            builder.call(compress, [values, ptr, lanes])
        popcount = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(i16, [i16]), "llvm.ctpop.i16")
        return builder.add(m64, builder.zext(builder.call(popcount, [mask16]), i64))

    return types.int64(mask, base, out, m), codegen


@numba.njit(**HELPER)
def _compress16_plain(mask, base, out, m):
    """Twin of :func:`_compress16_ir`: the same entries and count, written one by one
    (nothing past the new length is written)."""
    for k in range(16):
        if (mask >> np.uint64(k)) & np.uint64(1):
            out[m] = base + k
            m += 1
    return m


@numba.njit(**HELPER)
def append_mask64_ir(mask, base, out, m):
    """Append ``base + k`` to ``out`` from position ``m`` for every set bit ``k`` of the
    uint64 ``mask``, lowest first; return the new length.

    Slack: with ``VECTOR_MASKS`` up to 15 entries past the new length are overwritten
    (with filler), so ``out`` needs 16 more entries than the list can hold. A list of
    positions built in order needs none: there ``m <= base``, and ``base + 64 <=
    len(out)`` keeps every store inside ``out``.
    """
    if VECTOR_MASKS:
        m = _compress16_ir(mask, base, out, m)
        m = _compress16_ir(mask >> np.uint64(16), base + 16, out, m)
        m = _compress16_ir(mask >> np.uint64(32), base + 32, out, m)
        return _compress16_ir(mask >> np.uint64(48), base + 48, out, m)
    while mask != 0:
        out[m] = base + np.int64(trailing_zeros(mask))
        m += 1
        mask &= mask - np.uint64(1)
    return m


@numba.njit(**HELPER)
def append_mask64_plain(mask, base, out, m):
    """Twin of :func:`append_mask64_ir`: the same entries and new length, bit by bit
    (nothing past the new length is written)."""
    k = 0
    while mask != 0:
        if mask & np.uint64(1):
            out[m] = base + k
            m += 1
        mask >>= np.uint64(1)
        k += 1
    return m


@numba.njit(**HELPER)
def active_units_ir(row, idx):
    """Write the indices of the non-zero entries of ``row`` (n,) uint8 into ``idx``
    (>= n,) int32, in increasing order, and return how many there are.

    64 units per mask with ``VECTOR_MASKS``; the rest (and everything without AVX-512)
    branch-free: every index is written and the count moves on only past non-zero
    entries (a branch per unit mispredicts on random 0/1 states)."""
    n = row.shape[0]
    m = np.int64(0)
    i = np.int64(0)
    if VECTOR_MASKS:
        while i + 64 <= n:
            m = append_mask64_ir(nonzero_mask64_ir(row, i), i, idx, m)
            i += 64
    for j in range(i, n):
        idx[m] = j
        m += row[j] != 0
    return m


@numba.njit(**HELPER)
def active_units_plain(row, idx):
    """Twin of :func:`active_units_ir`: its branch-free scalar loop over all of ``row``."""
    m = np.int64(0)
    for j in range(row.shape[0]):
        idx[m] = j
        m += row[j] != 0
    return m


@numba.njit(**HELPER)
def changed_units_ir(row, prev, active, on, off):
    """The active units of ``row`` and the units that changed since ``prev``.

    row, prev: (n,) uint8; active, on, off: (>= n,) int32 outputs. Returns ``(m, n_on,
    n_off)``: ``active[:m]`` as :func:`active_units`, ``on[:n_on]`` the units on in
    ``row`` and off in ``prev``, ``off[:n_off]`` the reverse; all in increasing order.
    """
    n = row.shape[0]
    m = np.int64(0)
    n_on = np.int64(0)
    n_off = np.int64(0)
    i = np.int64(0)
    if VECTOR_MASKS:
        while i + 64 <= n:
            now = nonzero_mask64_ir(row, i)
            before = nonzero_mask64_ir(prev, i)
            m = append_mask64_ir(now, i, active, m)
            n_on = append_mask64_ir(now & ~before, i, on, n_on)
            n_off = append_mask64_ir(before & ~now, i, off, n_off)
            i += 64
    for j in range(i, n):  # branch-free, as in active_units
        is_on = row[j] != 0
        changed = is_on != (prev[j] != 0)
        active[m] = j
        m += is_on
        on[n_on] = j
        n_on += changed & is_on
        off[n_off] = j
        n_off += changed & (not is_on)
    return m, n_on, n_off


@numba.njit(**HELPER)
def changed_units_plain(row, prev, active, on, off):
    """Twin of :func:`changed_units_ir`: its branch-free scalar loop over all units."""
    m = np.int64(0)
    n_on = np.int64(0)
    n_off = np.int64(0)
    for j in range(row.shape[0]):
        is_on = row[j] != 0
        changed = is_on != (prev[j] != 0)
        active[m] = j
        m += is_on
        on[n_on] = j
        n_on += changed & is_on
        off[n_off] = j
        n_off += changed & (not is_on)
    return m, n_on, n_off


@numba.njit(**HELPER)
def split_pair_ir(row_a, row_b, has_b, lists):
    """Split the active units of two rows into those both have on, those only
    ``row_a`` has on and those only ``row_b`` has on.

    row_a, row_b: (n,) uint8 (``row_b`` is read only when ``has_b``; without it, it
    counts as all off); lists: (3, >= n + 64) int32 output, the 64 being slack for
    :func:`append_mask64`. Returns the three counts; each list is in increasing order.
    """
    n = row_a.shape[0]
    n_shared = np.int64(0)
    n_a = np.int64(0)
    n_b = np.int64(0)
    for i in range(0, n, 64):
        on_a = nonzero_mask_ir(row_a, i)
        on_b = nonzero_mask_ir(row_b, i) if has_b else np.uint64(0)
        n_shared = append_mask64_ir(on_a & on_b, i, lists[0], n_shared)
        n_a = append_mask64_ir(on_a & ~on_b, i, lists[1], n_a)
        n_b = append_mask64_ir(on_b & ~on_a, i, lists[2], n_b)
    return n_shared, n_a, n_b


@numba.njit(**HELPER)
def split_pair_plain(row_a, row_b, has_b, lists):
    """Twin of :func:`split_pair_ir`: one branch-free step per unit (each list entry
    written is at most the unit's own index, so no slack is needed)."""
    n_shared = np.int64(0)
    n_a = np.int64(0)
    n_b = np.int64(0)
    shared = lists[0]
    only_a = lists[1]
    only_b = lists[2]
    for j in range(row_a.shape[0]):
        on_a = row_a[j] != 0
        on_b = has_b and row_b[j] != 0
        shared[n_shared] = j
        n_shared += on_a & on_b
        only_a[n_a] = j
        n_a += on_a & (not on_b)
        only_b[n_b] = j
        n_b += on_b & (not on_a)
    return n_shared, n_a, n_b


if PLAIN:
    nonzero_mask64 = nonzero_mask64_plain
    nonzero_mask = nonzero_mask_plain
    append_mask64 = append_mask64_plain
    active_units = active_units_plain
    changed_units = changed_units_plain
    split_pair = split_pair_plain
else:
    nonzero_mask64 = nonzero_mask64_ir
    nonzero_mask = nonzero_mask_ir
    append_mask64 = append_mask64_ir
    active_units = active_units_ir
    changed_units = changed_units_ir
    split_pair = split_pair_ir
