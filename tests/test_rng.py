"""rbmcli.kernels.rng: counter-based uniforms (SplitMix64), tested through small njit wrappers.

Statistical checks use fixed keys and 5-sigma (or chi-square at 1e-6) tolerances, so
a false alarm has probability ~1e-6 per check while a biased or correlated generator
(e.g. a dropped bit, a reused counter, keys that share streams) fails them.
"""

import numba
import numpy as np

from rbmcli.kernels.rng import mix64, step_key, uniform

N = 1 << 20
Z = 5.0
Z_ALPHA = 4.753  # standard normal quantile for a one-sided 1e-6
MASK = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


# --------------------------------------------------------------------------- njit wrappers

@numba.njit
def uniforms(key, counter0, n):
    out = np.empty(n)
    for j in range(n):
        out[j] = uniform(key, counter0 + j)
    return out


@numba.njit
def first_uniform_of_keys(keys, counter):
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = uniform(keys[i], counter)
    return out


@numba.njit
def step_keys(key, n_steps):
    out = np.empty(n_steps, np.uint64)
    for t in range(n_steps):
        out[t] = step_key(key, t)
    return out


@numba.njit
def mix_array(z):
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        out[i] = mix64(z[i])
    return out


# --------------------------------------------------------------------------- helpers

def chi2_bounds(df, z=Z_ALPHA):
    """Two-sided (lower, upper) chi-square(df) quantiles at 1e-6 each (Wilson-Hilferty)."""
    a = 2.0 / (9.0 * df)
    return df * (1 - a - z * np.sqrt(a)) ** 3, df * (1 - a + z * np.sqrt(a)) ** 3


def chi2_uniform(counts):
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum()), counts.size - 1


def corr(x, y):
    return float(np.corrcoef(x, y)[0, 1])


def mix_python(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


KEY = np.uint64(0x0123456789ABCDEF)


# --------------------------------------------------------------------------- known answers

def test_mix64_is_splitmix64():
    """Published SplitMix64 outputs for seed 0: mix64(k * GAMMA), k = 1, 2, 3, 4."""
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    z = np.array([(k * GAMMA) & MASK for k in range(1, 5)], np.uint64)
    assert [int(v) for v in mix_array(z)] == expected
    rng = np.random.default_rng(0)
    z = rng.integers(0, 2 ** 64, 1000, dtype=np.uint64)
    assert [int(v) for v in mix_array(z)] == [mix_python(int(v)) for v in z]


def test_uniform_is_top_53_bits_of_splitmix64():
    # uniform(key, j) = (mix64(key + (j + 1) * GAMMA) >> 11) * 2**-53
    u = uniforms(np.uint64(0), 0, 4)
    expected = [(0xE220A8397B1DCDAF >> 11) / 2.0 ** 53, (0x6E789E6AA1B965F4 >> 11) / 2.0 ** 53,
                (0x06C45D188009454F >> 11) / 2.0 ** 53, (0xF88BB8A8724C81EC >> 11) / 2.0 ** 53]
    assert list(u) == expected


# --------------------------------------------------------------------------- one stream

def test_uniforms_in_unit_interval_with_53_bits():
    for key in (np.uint64(0), np.uint64(MASK), KEY):
        for counter0 in (0, 2 ** 40, 2 ** 62):
            u = uniforms(key, counter0, 1 << 16)
            assert u.dtype == np.float64
            assert u.min() >= 0.0 and u.max() < 1.0
            scaled = u * 2.0 ** 53
            assert np.all(scaled == np.floor(scaled))  # multiples of 2**-53
    u = uniforms(KEY, 0, N)
    assert len(np.unique(u)) > N - 5  # 2**20 draws from 2**53 values: no repeats expected


def test_uniform_mean_and_variance():
    u = uniforms(KEY, 0, N)
    # mean: sd 1/sqrt(12); variance estimate of (u - 1/2)^2: sd sqrt(1/80 - 1/144) = sqrt(1/180)
    assert abs(u.mean() - 0.5) < Z * np.sqrt(1 / 12 / N)
    assert abs(((u - 0.5) ** 2).mean() - 1 / 12) < Z * np.sqrt(1 / 180 / N)


def test_uniform_chi_square_over_bins():
    u = uniforms(KEY, 0, N)
    lo, hi = chi2_bounds(255)
    x2, df = chi2_uniform(np.bincount((u * 256).astype(int), minlength=256))
    assert lo < x2 < hi, (x2, lo, hi)  # too uniform (lo) would be as suspicious
    # low-order bits are uniform too: bins of the 8 least significant of the 53 bits
    low = (u * 2.0 ** 53).astype(np.int64) & 255
    x2, df = chi2_uniform(np.bincount(low, minlength=256))
    assert lo < x2 < hi, (x2, lo, hi)


def test_neighbouring_counters_are_independent():
    u = uniforms(KEY, 0, N)
    for lag in (1, 2, 3, 8, 64):
        assert abs(corr(u[:-lag], u[lag:])) < Z / np.sqrt(N - lag), lag
    # serial pairs (u_2j, u_2j+1) on a 16 x 16 grid: chi-square with 255 df
    pairs = (u.reshape(-1, 2) * 16).astype(int)
    counts = np.bincount(pairs[:, 0] * 16 + pairs[:, 1], minlength=256)
    lo, hi = chi2_bounds(255)
    x2, _ = chi2_uniform(counts)
    assert lo < x2 < hi, (x2, lo, hi)


# --------------------------------------------------------------------------- several keys

def test_related_keys_give_uncorrelated_streams():
    """Keys that differ by one (low or high) bit or by 1 give unrelated streams at the
    same counters; the first uniform over many consecutive keys is uniform."""
    n = 1 << 18
    base = uniforms(KEY, 0, n)
    for other in (KEY + np.uint64(1), KEY ^ np.uint64(1), KEY ^ np.uint64(1 << 63),
                  KEY ^ np.uint64(1 << 32)):
        u = uniforms(other, 0, n)
        assert abs(corr(base, u)) < Z / np.sqrt(n)
        assert not np.any(u == base)
    u0 = uniforms(np.uint64(0), 0, n)
    u1 = uniforms(np.uint64(1), 0, n)
    assert abs(corr(u0, u1)) < Z / np.sqrt(n)
    # counter 0 across keys 0, 1, 2, ... (chains with consecutive keys)
    first = first_uniform_of_keys(np.arange(n, dtype=np.uint64), 0)
    assert abs(first.mean() - 0.5) < Z * np.sqrt(1 / 12 / n)
    assert abs(corr(first[:-1], first[1:])) < Z / np.sqrt(n)
    lo, hi = chi2_bounds(63)
    x2, _ = chi2_uniform(np.bincount((first * 64).astype(int), minlength=64))
    assert lo < x2 < hi


def test_step_key_gives_different_streams():
    ks = step_keys(KEY, 100_000)
    assert len(np.unique(ks)) == len(ks)                # no two steps share a key
    assert not np.any(ks == KEY)
    np.testing.assert_array_equal(ks, step_keys(KEY, 100_000))  # deterministic
    # step keys of many chains: no collisions across 1000 keys x 100 steps
    rng = np.random.default_rng(1)
    all_keys = np.concatenate([step_keys(k, 100) for k in rng.integers(0, 2 ** 64, 1000,
                                                                      dtype=np.uint64)])
    assert len(np.unique(all_keys)) == len(all_keys)
    # the streams of steps 0, 1 (hidden / visible of a Gibbs sweep) and 2 are unrelated
    n = 1 << 18
    s0, s1, s2 = (uniforms(ks[t], 0, n) for t in range(3))
    for a, b in ((s0, s1), (s1, s2), (s0, s2)):
        assert abs(corr(a, b)) < Z / np.sqrt(n)
    # consecutive steps of one chain at the same unit (what a chain sees over time)
    per_step = np.array([uniforms(k, 5, 1)[0] for k in ks[:20000]])
    assert abs(corr(per_step[:-1], per_step[1:])) < Z / np.sqrt(len(per_step))
    assert abs(per_step.mean() - 0.5) < Z * np.sqrt(1 / 12 / len(per_step))


def test_mix64_avalanche():
    """Flipping any one input bit flips each output bit with probability 1/2."""
    rng = np.random.default_rng(2)
    n = 20_000
    z = rng.integers(0, 2 ** 64, n, dtype=np.uint64)
    base = mix_array(z)
    freq = np.empty((64, 64))
    for i in range(64):
        flipped = mix_array(z ^ np.uint64(1 << i))
        diff = base ^ flipped
        bits = (diff[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        freq[i] = bits.mean(axis=0)
    # 4096 frequencies, each with sd 0.5 / sqrt(n); 5.5 sigma keeps the family-wise
    # false alarm rate below 2e-4
    assert np.max(np.abs(freq - 0.5)) < 5.5 * 0.5 / np.sqrt(n)
