"""Hand-written LLVM intrinsics (vector gathers, bit-mask lists, tiled transposes, bit
casts) used by the RBM kernels, each with a plain-Numba twin.

Every module binds its public names once, at import: the intrinsic version (``f_ir``)
by default, the twin (``f_plain``: ordinary ``numba.njit`` loops, no llvmlite, the same
signature and results) when ``RBM_PLAIN_KERNELS=1`` (read in
:mod:`rbmcli.kernels._config`, which also gives the plain kernels their own Numba cache
folder). Kernels import the bound name ``f``; tests/test_intrinsics.py checks each
intrinsic against its twin, and runs kernel tests with the variable set.

========================  ==========================  ==================================
used by the kernels       intrinsic / twin            invariants callers keep
========================  ==========================  ==================================
``masks.nonzero_mask64``  vector byte compare /       uint8 C row, ``start + 64 <= n``
                          byte loop
``masks.nonzero_mask``    the above for a partial     uint8 C row (any length past start)
                          last chunk / byte loop
``masks.append_mask64``   ``_compress16_ir``          int32 C list; 16 slack entries
                          (``vpcompressd``, AVX-512)  past its capacity, or built in
                          or a ctz loop / bit loop    position order (``m <= base``,
                                                      ``base + 64 <= len(out)``)
``masks.active_units``,   64-unit masks + compress /  outputs >= n entries
``masks.changed_units``   branch-free scalar loop
``masks.split_pair``      masks + compress /          ``lists`` (3, >= n + 64) int32
                          branch-free scalar loop
``tiles.tile_pair_``      <16 x float> gather-add     tile (nh, 16) C; ``idx`` (3, >=
``gather``                (4 accumulators) /          max(counts)) int32; bias and
                          the same sums in loops      outputs >= col + 16, 16-padded
``strips.strip_sum``      4 vectors per 256-byte      rows 64-byte aligned, whole strips
                          strip (2 accumulators) /    (``aligned_matrix``,
                          the same sums in loops      ``strip_cols``); col a multiple of
                                                      the strip; out >= col + strip
``transpose.copy_``       8 x 8 float32 register      W (nv, nh) and WTt (ceil(nv/16),
``transposed``            tiles (``shufflevector``)   nh, 16) C, same dtype; disjoint
                          / element loop              row ranges per thread
``bits.int32_bits_as_``   ``bitcast`` / IEEE fields   exact scalar types; positive
``float32``, ``bits.int64_  with ``math.ldexp`` and   normal values in the kernels (the
bits_as_float64``,        ``math.frexp``              twins lose NaN payloads, and the
``bits.float64_bits_as_``                             sign of zero under ``nsz``)
``int64``
========================  ==========================  ==================================

Results: the twins give the same bits as the intrinsics (the lists, masks, casts and
transposes are exact; the strip sums add in the same order), except
``tile_pair_gather``: LLVM reassociates the intrinsic's final sum of four accumulators
and the bias under the kernels' fast-math, so the two agree to rounding only, within
``(m + 1) eps`` relative to the magnitudes added (see :mod:`.list_sum_ir`); the visible
probabilities then differ in the last bits. And a twin with branches may keep LLVM
from vectorising its caller's loop, reordering that loop's fast-math sums: AIS's
float64 log-weights agree to ~1e-16 relative. Entries of an index list past its count
(slack, filler) are unspecified and differ.
The float32 sigmoid (:mod:`.sigmoid`) and AIS's float64 ``exp``
(:func:`rbmcli.kernels.rbm.ais.exp_nonpositive`) use the bit casts and so follow the
setting too. ``masks.VECTOR_MASKS`` (AVX-512 present) still picks the intrinsics'
portable paths on other CPUs; the twins never look at it.
"""
