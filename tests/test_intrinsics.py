"""Each hand-written LLVM intrinsic against its plain-Numba twin, and the kernels with
``RBM_PLAIN_KERNELS=1``.

Both versions of every intrinsic are defined in any process (``f_ir`` and
``f_plain``; the kernels use ``f``, bound at import by the variable), so the first
tests compare them directly, on seeded random inputs around the edges: empty lists,
lengths that are not multiples of the unrolling or of 64, float32 and float64. The
twins promise the same bits (strip sums in the same order, exact copies, exact casts)
and the same index lists up to their counts; entries past a count are unspecified.

The one exception is ``tile_pair_gather``: LLVM reassociates the intrinsic's final sum
under the kernels' fast-math, so there the two agree to rounding.

The subprocess tests run kernel tests of test_kernels.py and test_exact.py with the
variable set and a fresh Numba cache, check that the plain kernels give the same
results as the intrinsics on a few whole kernels (the same bits but for the visible
probabilities), and that the two settings never reuse each other's cached kernels.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from rbmcli.kernels import _config
from rbmcli.kernels.intrinsics import bits, masks, strips, tiles, transpose
from rbmcli.kernels.intrinsics.sigmoid import sigmoid
from rbmcli.kernels.intrinsics.strips import aligned_matrix, strip_cols
from rbmcli.kernels.rbm.ais import exp_nonpositive

ROOT = Path(__file__).resolve().parents[1]
DTYPES = [np.float32, np.float64]
FAST = _config.FASTMATH  # wrappers compile the inlined helpers as the kernels do


# --------------------------------------------------------------------------- bit casts

@numba.njit(fastmath=FAST)
def _casts(b32, b64, x64):
    f32 = np.empty((2, b32.shape[0]), np.float32)
    f64 = np.empty((2, b64.shape[0]))
    i64 = np.empty((2, x64.shape[0]), np.int64)
    for i in range(b32.shape[0]):
        f32[0, i] = bits.int32_bits_as_float32_ir(b32[i])
        f32[1, i] = bits.int32_bits_as_float32_plain(b32[i])
    for i in range(b64.shape[0]):
        f64[0, i] = bits.int64_bits_as_float64_ir(b64[i])
        f64[1, i] = bits.int64_bits_as_float64_plain(b64[i])
    for i in range(x64.shape[0]):
        i64[0, i] = bits.float64_bits_as_int64_ir(x64[i])
        i64[1, i] = bits.float64_bits_as_int64_plain(x64[i])
    return f32, f64, i64


def test_bit_casts_match_their_twins():
    """Every float32 exponent the sigmoid writes, random bit patterns (normal,
    subnormal, zero, infinite, either sign) and the ``n + 2**52 + 1023`` values of
    AIS's exp: the same bits; a NaN stays a NaN (payloads are not kept)."""
    rng = np.random.default_rng(5)
    b32 = np.concatenate([(np.arange(1, 254) << 23),  # 2**n, n + 127 in [1, 253]
                          rng.integers(-2 ** 31, 2 ** 31, 3000),
                          [1, 0x7FFFFF, 0x800000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000,
                           -0x800000]]).astype(np.int32)
    b64 = np.concatenate([rng.integers(-2 ** 63, 2 ** 63 - 1, 3000, dtype=np.int64),
                          np.array([1, 2 ** 52 - 1, 2 ** 52, 0x7FEFFFFFFFFFFFFF,
                                    0x7FF0000000000000, 0x7FF8000000000001], np.int64)])
    x64 = np.concatenate([b64.view(np.float64), np.arange(-1022.0, 1.0) + 2.0 ** 52 + 1023,
                          [0.0, 5e-324, -2.5e-310, 1.7e308, np.inf, -np.inf, np.nan]])
    f32, f64, i64 = _casts(b32, b64, x64)
    for got in (f32, f64):
        nan = np.isnan(got[0])
        np.testing.assert_array_equal(np.isnan(got[1]), nan)
        np.testing.assert_array_equal(got[0][~nan], got[1][~nan])
        np.testing.assert_array_equal(np.signbit(got[0][~nan]), np.signbit(got[1][~nan]))
    nan = np.isnan(x64)
    np.testing.assert_array_equal(i64[0][~nan], i64[1][~nan])
    assert (i64[1][nan] == 0x7FF8000000000000).all()


# --------------------------------------------------------------------------- mask lists

def _list_builders(nonzero_mask64, nonzero_mask, append_mask64, active_units,
                   changed_units, split_pair, compress16):
    """An njit function that runs one version of every list builder on ``rows`` and
    ``prevs`` (S, n) uint8 and returns their lists (filled with -1 first) and counts."""

    @numba.njit(fastmath=FAST)
    def run(rows, prevs, masks64):
        S, n = rows.shape
        width = n + 272  # >= n + 64 and 3 x 64 entries + 16 of slack
        lists = np.full((S, 9, width), -1, np.int32)
        counts = np.zeros((S, 9), np.int64)
        bits = np.zeros((S, 2 * ((n + 63) // 64)), np.uint64)
        for s in range(S):
            counts[s, 0] = active_units(rows[s], lists[s, 0])
            counts[s, 1], counts[s, 2], counts[s, 3] = changed_units(
                rows[s], prevs[s], lists[s, 1], lists[s, 2], lists[s, 3])
            counts[s, 4], counts[s, 5], counts[s, 6] = split_pair(
                rows[s], prevs[s], s % 2 == 0, lists[s, 4:7])
            k = 0
            for i in range(0, n, 64):  # masks of whole and partial chunks
                bits[s, k] = nonzero_mask(rows[s], i)
                if i + 64 <= n:
                    bits[s, k + 1] = nonzero_mask64(rows[s], i)
                k += 2
            m = 0  # a list built from several masks, out of position order
            for w in range(masks64.shape[1]):
                m = append_mask64(masks64[s, w], 100 * w, lists[s, 7], m)
            counts[s, 7] = m
            m = 0
            for w in range(masks64.shape[1]):
                m = compress16(masks64[s, w], 100 * w, lists[s, 8], m)
            counts[s, 8] = m
        return lists, counts, bits

    return run


_MASKS_IR = _list_builders(masks.nonzero_mask64_ir, masks.nonzero_mask_ir,
                           masks.append_mask64_ir, masks.active_units_ir,
                           masks.changed_units_ir, masks.split_pair_ir, masks._compress16_ir)
_MASKS_PLAIN = _list_builders(masks.nonzero_mask64_plain, masks.nonzero_mask_plain,
                              masks.append_mask64_plain, masks.active_units_plain,
                              masks.changed_units_plain, masks.split_pair_plain,
                              masks._compress16_plain)


def test_mask_lists_match_their_twins():
    """nonzero_mask64, nonzero_mask, _compress16, append_mask64, active_units,
    changed_units and split_pair (with and without its second row): the same counts,
    lists and masks, for rows of 0 to 200 units (empty, sparse, dense, full; any
    non-zero byte is on) and 64-bit masks of every density. The twins write nothing
    past a list's capacity (the intrinsics' slack), and the intrinsics nothing past
    the documented slack."""
    for n in (0, 1, 15, 63, 64, 65, 130, 200):
        rng = np.random.default_rng(n)
        density = np.array([0.0, 0.05, 0.5, 0.95, 1.0, 0.3])[:, None]
        rows = ((rng.random((6, n)) < density) * rng.integers(1, 256, (6, n))).astype(np.uint8)
        prevs = np.where(rng.random((6, n)) < 0.3, rng.integers(0, 2, (6, n)), rows)
        prevs = prevs.astype(np.uint8)
        words = rng.integers(0, 2 ** 64, (6, 3), dtype=np.uint64)
        words &= rng.integers(0, 2 ** 64, (6, 3), dtype=np.uint64)  # sparser words
        words[0] = 0
        words[1] = np.uint64(2 ** 64 - 1)
        got = [run(rows, prevs, words) for run in (_MASKS_IR, _MASKS_PLAIN)]
        (lists_ir, counts_ir, bits_ir), (lists_pl, counts_pl, bits_pl) = got
        np.testing.assert_array_equal(counts_pl, counts_ir)
        np.testing.assert_array_equal(bits_pl, bits_ir)
        for s in range(6):
            for k in range(9):
                m = counts_ir[s, k]
                np.testing.assert_array_equal(lists_pl[s, k, :m], lists_ir[s, k, :m])
        on = rows != 0
        np.testing.assert_array_equal(counts_pl[:, 0], on.sum(1))
        # nothing written past the documented capacity and slack
        for s in range(6):
            for lists, slack in ((lists_ir, 16), (lists_pl, 0)):
                for k in range(4):  # capacity n (lists in position order need no slack)
                    assert (lists[s, k, n:] == -1).all()
                for k in range(4, 7):  # split_pair: capacity n + 64
                    assert (lists[s, k, n + 64:] == -1).all()
                for k in (7, 8):  # out of position order: 16 slack for the intrinsics
                    assert (lists[s, k, counts_ir[s, k] + slack:] == -1).all()
        for k in range(4, 7):  # the twin needs no slack in split_pair's lists either
            assert (lists_pl[:, k, max(n, 1):] == -1).all()


# --------------------------------------------------------------------------- gathers

@numba.njit(fastmath=FAST)
def _tile_sums(tile, lists, counts, bias, col):
    out = np.full((2, 2, lists.shape[0], bias.shape[0]), np.nan, tile.dtype)
    for p in range(lists.shape[0]):
        tiles.tile_pair_gather_ir(tile, lists[p], counts[p], bias, col, out[0, 0, p],
                                  out[0, 1, p])
        tiles.tile_pair_gather_plain(tile, lists[p], counts[p], bias, col, out[1, 0, p],
                                     out[1, 1, p])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_tile_pair_gather_matches_its_twin(dtype):
    """The same sums for every combination of list lengths around the four-way
    unrolling (0 to 9), long lists and repeated rows, at two tile offsets; only the
    16 lanes at ``col`` are written. Not the same bits: under fast-math LLVM
    reassociates the intrinsic's final adds (see kernels/intrinsics/list_sum_ir.py),
    so each lane is within (rows + 1) eps of the magnitudes added."""
    rng = np.random.default_rng(7)
    tile = rng.standard_normal((40, 16)).astype(dtype)
    bias = rng.standard_normal(48).astype(dtype)
    counts = np.array([[a, b, c] for a in (0, 1, 4, 7, 40) for b in range(10)
                       for c in (0, 3, 9, 61)])
    lists = rng.integers(0, 40, (len(counts), 3, 61)).astype(np.int32)
    eps = np.finfo(dtype).eps
    for col in (0, 32):
        got = _tile_sums(tile, lists, counts, bias, col)
        assert not np.isnan(got[:, :, :, col:col + 16]).any()
        assert np.isnan(np.delete(got, np.s_[col:col + 16], axis=3)).all()
        for p, (m0, m1, m2) in enumerate(counts):
            shared = np.abs(bias[col:col + 16]) + np.abs(tile[lists[p, 0, :m0]]).sum(0)
            for side, (own, m) in enumerate(((1, m1), (2, m2))):
                bound = (m0 + m + 1) * eps * (shared + np.abs(tile[lists[p, own, :m]]).sum(0))
                diff = np.abs(got[1, side, p, col:col + 16] - got[0, side, p, col:col + 16])
                assert (diff <= bound).all(), (p, side, diff.max(), bound.min())
            if m0 + max(m1, m2) <= 2:  # at most one add besides the bias: no reordering
                np.testing.assert_array_equal(got[1, :, p], got[0, :, p])


@numba.njit(fastmath=FAST)
def _strip_sums(rows, idx, counts):
    mat = aligned_matrix(rows.shape[0], strip_cols(rows.shape[1], rows), rows)
    mat[:, :rows.shape[1]] = rows
    mat[:, rows.shape[1]:] = 0
    out = np.full((2, idx.shape[0], mat.shape[1]), np.nan, rows.dtype)
    for s in range(idx.shape[0]):
        for col in range(0, mat.shape[1], strip_cols(1, mat)):
            strips.strip_sum_ir(mat, idx[s], counts[s], col, out[0, s])
            strips.strip_sum_plain(mat, idx[s], counts[s], col, out[1, s])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_cols", [1, 33, 64, 130])
def test_strip_sum_matches_its_twin(dtype, n_cols):
    """The same bits for lists of 0 to 5 rows (around the two-row unrolling), long
    ones with repeated rows, rows that are and are not whole strips."""
    rng = np.random.default_rng(n_cols)
    rows = rng.standard_normal((29, n_cols)).astype(dtype)
    counts = np.array([0, 1, 2, 3, 4, 5, 29, 77])
    idx = rng.integers(0, 29, (len(counts), 77)).astype(np.int32)
    got = _strip_sums(rows, idx, counts)
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(got[1], got[0])


# --------------------------------------------------------------------------- transposes

@numba.njit(fastmath=FAST)
def _transposes(W, WT_ir, WT_plain, block):
    for i0 in range(0, W.shape[0], block):
        i1 = min(W.shape[0], i0 + block)
        transpose.copy_transposed_ir(W, WT_ir, i0, i1)
        transpose.copy_transposed_plain(W, WT_plain, i0, i1)


@numba.njit(fastmath=FAST)
def _tile8(src, sr, sc, dst_ir, dst_plain, dr, dc):
    transpose._transpose_8x8_f32_ir(src, sr, sc, dst_ir, dr, dc)
    transpose._transpose_8x8_f32_plain(src, sr, sc, dst_plain, dr, dc)


@pytest.mark.parametrize("dtype", DTYPES)
def test_copy_transposed_matches_its_twin(dtype):
    """The same tiles (a copy: exact) for shapes and blocks that are and are not
    multiples of the 8 x 8 register tiles and of the 16-unit tiles; nothing else
    written."""
    for nv, nh, block in [(40, 24, 16), (21, 18, 16), (7, 5, 16), (33, 17, 8), (17, 9, 5)]:
        W = np.random.default_rng(nv * nh).standard_normal((nv, nh)).astype(dtype)
        WT = [np.full(((nv + 15) // 16, nh, 16), np.nan, dtype) for _ in range(2)]
        _transposes(W, WT[0], WT[1], block)
        np.testing.assert_array_equal(WT[1], WT[0])
        np.testing.assert_array_equal(WT[1].transpose(0, 2, 1).reshape(-1, nh)[:nv], W)


def test_transpose_8x8_matches_its_twin():
    """One register tile at offsets inside larger matrices: the same 64 values, and
    nothing else written."""
    src = np.random.default_rng(8).standard_normal((20, 19)).astype(np.float32)
    for sr, sc, dr, dc in [(0, 0, 0, 0), (3, 11, 9, 2), (12, 5, 1, 10)]:
        dst = [np.full((17, 18), np.nan, np.float32) for _ in range(2)]
        _tile8(src, sr, sc, dst[0], dst[1], dr, dc)
        np.testing.assert_array_equal(dst[1], dst[0])
        np.testing.assert_array_equal(dst[1][dr:dr + 8, dc:dc + 8], src[sr:sr + 8, sc:sc + 8].T)
        assert np.isnan(dst[1]).sum() == 17 * 18 - 64


# --------------------------------------------------------------------------- the setting

def test_setting_is_read_strictly():
    assert _config._read_plain("") is False and _config._read_plain("0") is False
    assert _config._read_plain(" 1 ") is True
    with pytest.raises(ValueError, match="RBM_PLAIN_KERNELS"):
        _config._read_plain("yes")


def test_kernels_use_the_names_the_setting_chose():
    """Every public name is bound to one version (the intrinsic unless the variable
    is set), and the kernels import those bindings."""
    from rbmcli.kernels.rbm import ais, gradients, halfsteps
    version = "_plain" if _config.PLAIN else "_ir"
    bound = [(masks, "nonzero_mask64"), (masks, "nonzero_mask"), (masks, "append_mask64"),
             (masks, "active_units"), (masks, "changed_units"), (masks, "split_pair"),
             (tiles, "tile_pair_gather"), (strips, "strip_sum"),
             (transpose, "copy_transposed"), (bits, "int32_bits_as_float32"),
             (bits, "int64_bits_as_float64"), (bits, "float64_bits_as_int64")]
    for module, name in bound:
        assert getattr(module, name) is getattr(module, name + version), name
    assert halfsteps.tile_pair_gather is tiles.tile_pair_gather
    assert halfsteps.split_pair is masks.split_pair
    assert gradients.strip_sum is strips.strip_sum
    assert gradients.copy_transposed is transpose.copy_transposed
    assert ais.float64_bits_as_int64 is bits.float64_bits_as_int64


# --------------------------------------------------------------------------- whole kernels

OUT_ENV = "RBM_TEST_KERNEL_OUTPUTS"
"""Where test_write_kernel_outputs saves its arrays (set by the subprocess run)."""


@numba.njit(fastmath=FAST)
def _elementwise(x32, x64):
    s = np.empty_like(x32)
    e = np.empty_like(x64)
    for i in range(x32.shape[0]):
        s[i] = sigmoid(x32[i])
    for i in range(x64.shape[0]):
        e[i] = exp_nonpositive(x64[i])
    return s, e


def kernel_outputs():
    """Outputs of kernels that inline every intrinsic, on fixed inputs: the float32
    sigmoid and AIS's exp (bit casts), the two Gibbs half-steps (mask lists, tile
    gathers) and the fused update, paired and unpaired (masks, strip sums, transposes).
    (ais_anneal is left out to save its compile time: its float64 exp is the one
    checked here, but the plain bit casts' branches keep LLVM from vectorising its
    loop, so its log-weight sums round in another order: ~1e-16 relative.)"""
    from rbmcli.kernels.rbm.gradients import apply_update
    from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step
    from rbmcli.models.rbm import transposed_tiles

    out = {}
    x32 = np.linspace(-100, 100, 20001).astype(np.float32)
    x64 = np.linspace(-750, 0, 20001)
    out["sigmoid32"], out["exp64"] = _elementwise(x32, x64)
    rng = np.random.default_rng(99)
    B, nv, nh = 7, 150, 37
    W = rng.standard_normal((nv, nh)).astype(np.float32)
    b = (0.5 * rng.standard_normal(nv)).astype(np.float32)
    c = (0.5 * rng.standard_normal(nh)).astype(np.float32)
    WT = transposed_tiles(W)
    betas = np.linspace(0.5, 1.0, B).astype(np.float32)
    keys = rng.integers(0, 2 ** 63, B).astype(np.uint64)
    V = (rng.random((B, nv)) < 0.3).astype(np.uint8)
    V_prev = V.copy()
    V_prev[:, ::7] ^= 1
    A = np.empty((B, nh), np.float32)
    HP = np.empty((B, nh), np.float32)
    H = np.empty((B, nh), np.uint8)
    hidden_step(V_prev, V_prev, W, c, betas, keys, 0, A, HP, H, False)
    hidden_step(V, V_prev, W, c, betas, keys, 1, A, HP, H, True)
    out["A"], out["HP"], out["H"] = A.copy(), HP.copy(), H.copy()
    VP = np.empty((B, nv), np.float32)
    V_next = V.copy()
    visible_step(H, WT, b, betas, keys, 2, np.zeros((0, nv), np.uint8), V_next, VP,
                 np.zeros((0, nv), np.uint8))
    out["V"], out["VP"] = V_next, VP
    for Bn in (B, 70):  # paired and unpaired batches
        V_neg = (rng.random((Bn, nv)) < 0.4).astype(np.uint8)
        HP_neg = rng.random((Bn, nh)).astype(np.float32)
        W2, b2, c2 = W.copy(), b.copy(), c.copy()
        WT2 = transposed_tiles(W2)
        vel = [np.zeros_like(W2), np.zeros_like(b2), np.zeros_like(c2)]
        apply_update(W2, WT2, b2, c2, *vel, V, HP, V_neg, HP_neg, np.float32(0.1),
                     np.float32(0.5), np.float32(1e-3), np.float32(0.0),
                     np.zeros(0, np.float32), np.zeros(0, np.float32))
        out[f"W{Bn}"], out[f"WT{Bn}"], out[f"b{Bn}"], out[f"c{Bn}"] = W2, WT2, b2, c2
    return out


ROUNDED = {"VP"}
"""Outputs of the tile gathers, equal to rounding only (see the tile test above);
every other output, the states drawn from VP included, has the same bits."""


@pytest.mark.skipif(OUT_ENV not in os.environ, reason="run by the plain_run fixture")
def test_write_kernel_outputs():
    """The subprocess half of test_plain_kernels_pass_the_kernel_tests: save this
    process's kernel outputs for the parent to compare."""
    outputs = kernel_outputs()
    assert outputs and all(np.all(np.isfinite(v)) for v in outputs.values()
                           if np.asarray(v).dtype.kind == "f")
    np.savez(os.environ[OUT_ENV], plain=np.array(_config.PLAIN), **outputs)


# One float32 test (or a few sharing one compile) per kernel built on an intrinsic:
# 1.5 to 2 minutes of compiling in a fresh cache on two busy cores.
KERNEL_TESTS = ("test_pair_lists or test_active_and_changed or test_unit_masks "
                "or test_sigmoid or (test_hidden_step and float32) "
                "or (test_sample_visible and float32) "
                "or (test_apply_update and 25-19-0.0-float32) "
                "or (test_top_step and float32) or (test_tile_top_weights and float32)")
# (test_exact's Gibbs tests would compile gibbs_sweeps too: ~3 more minutes here)
EXACT_TESTS = "(test_free_energy_and_log_partition and float32)"


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """One pytest run in a fresh process with RBM_PLAIN_KERNELS=1 and a fresh
    NUMBA_CACHE_DIR: the kernel tests above, the binding test and
    test_write_kernel_outputs. Returns (completed process, cache dir, saved outputs)."""
    tmp = tmp_path_factory.mktemp("plain")
    saved = tmp / "plain.npz"
    cache = tmp / "cache"
    env = dict(os.environ, RBM_PLAIN_KERNELS="1", NUMBA_CACHE_DIR=str(cache),
               **{OUT_ENV: str(saved)})
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_kernels.py", "tests/test_exact.py", "tests/test_intrinsics.py",
         "-k", f"({KERNEL_TESTS} or {EXACT_TESTS} or test_write_kernel_outputs "
               "or test_kernels_use_the_names) and not twin"],
        env=env, cwd=ROOT, capture_output=True, text=True)
    return run, cache, saved


def test_plain_kernels_pass_the_kernel_tests(plain_run):
    """With RBM_PLAIN_KERNELS=1 and a fresh cache, kernel tests of test_kernels.py and
    test_exact.py pass (and the public names are the twins); whole kernels give the
    same results as the intrinsics give in this process (the same bits but for the
    visible probabilities, see ROUNDED); the plain kernels are cached in their own
    subfolder of NUMBA_CACHE_DIR and nowhere else."""
    run, cache, saved = plain_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and saved.exists()
    assert sorted(p.name for p in cache.iterdir()) == [_config.PLAIN_CACHE_SUBDIR]
    plain = np.load(saved)
    assert bool(plain["plain"]) is True
    for name, value in kernel_outputs().items():
        if name in ROUNDED:
            np.testing.assert_allclose(plain[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(plain[name], value, err_msg=name)


_PROBE = """
import json, numpy as np, numba
from rbmcli.kernels import _config
from rbmcli.kernels.rbm.halfsteps import pair_lists
H = np.zeros((2, 100), np.uint8)
H[0, [3, 40, 70]] = 1
H[1, [40, 71]] = 1
lists = np.full((1, 3, 164), -1, np.int32)
counts = np.zeros((1, 3), np.int64)
pair_lists(H, lists, counts)
# what lies past each list: the twin writes the next unit it skips (99, the last one,
# for every list here); the intrinsics write zeros (AVX-512) or nothing (-1)
print(json.dumps(dict(plain=_config.PLAIN, cache_dir=numba.config.CACHE_DIR,
                      past_end=[int(lists[0, k, counts[0, k]]) for k in range(3)],
                      counts=counts[0].tolist())))
"""


def test_the_two_settings_never_share_cached_kernels(plain_run):
    """Fresh processes over the NUMBA_CACHE_DIR of the plain run, the variable off,
    on, off: each uses its own version of a cached kernel that inlines intrinsics
    (pair_lists: what it leaves past its lists tells the versions apart), the plain
    one loaded from the plain run's cache, the default one compiled by the first
    process and loaded by the third."""
    run, cache, _ = plain_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    results = []
    for plain in ("0", "1", "0"):
        env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), RBM_PLAIN_KERNELS=plain,
                   NUMBA_DEBUG_CACHE="1")
        probe = subprocess.run([sys.executable, "-c", _PROBE], env=env, cwd=ROOT,
                               capture_output=True, text=True)
        assert probe.returncode == 0, probe.stderr[-2000:]
        lines = probe.stdout.strip().splitlines()
        result = json.loads(lines[-1])
        result["loaded"] = any("data loaded" in line and "pair_lists" in line
                               for line in lines)
        results.append(result)
    for result, plain in zip(results, (False, True, False)):
        assert result["plain"] is plain
        assert result["counts"] == [1, 2, 1]
        assert (result["past_end"] == [99, 99, 99]) is plain, result
        assert result["cache_dir"].endswith(_config.PLAIN_CACHE_SUBDIR) is plain
    assert [r["loaded"] for r in results] == [False, True, True]
