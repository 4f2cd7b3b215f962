"""Parallel tempering (replica exchange) for a Bernoulli RBM.

Replicas are stored temperature-major: replica ``r = k * C + i`` is chain ``i`` of
``C`` at inverse temperature ``betas[k]`` (k = 0 is beta = 1, the model itself), so the
beta = 1 replicas are the first ``C`` rows. The state of a replica is the joint
``(v, h)`` and its energy ``E(v, h) = -b.v - c.h - v W h`` (untempered), so that
``P_beta(v, h) ∝ exp(-beta * E(v, h))``.
"""

import numba
import numpy as np

from ._config import JIT, PARALLEL_JIT
from ._rowops import active_units, gather_add, sigmoid_sample
from .rng import step_key, uniform


@numba.njit(**PARALLEL_JIT)
def pt_sweep(V, H, W, WT, b, c, betas_per_replica, keys, E, HP):
    """One Gibbs sweep ``v ~ P_beta(v|h)``, then ``h ~ P_beta(h|v)``, of every replica.

    V: (R, nv) uint8 and H: (R, nh) uint8, updated in place; W: (nv, nh);
    WT: (nh, nv); b: (nv,); c: (nh,); betas_per_replica: (R,); keys: (R,) uint64;
    E: (R,) float64 output, the energies of the new states; HP: (R, nh) output,
    ``P_beta(h | v)`` of the new visible states.
    """
    nv = V.shape[1]
    nh = H.shape[1]
    for r in numba.prange(V.shape[0]):
        idx_v = np.empty(nv, np.int32)
        idx_h = np.empty(nh, np.int32)
        pre_v = np.empty(nv, W.dtype)
        a = np.empty(nh, W.dtype)
        beta = betas_per_replica[r]
        v = V[r]
        h = H[r]
        mh = active_units(h, idx_h)
        gather_add(WT, idx_h, mh, b, pre_v)
        sigmoid_sample(pre_v, beta, step_key(keys[r], 0), 0, pre_v, v)
        mv = active_units(v, idx_v)
        gather_add(W, idx_v, mv, c, a)
        energy = 0.0
        for k in range(mv):
            energy -= np.float64(b[idx_v[k]])
        sigmoid_sample(a, beta, step_key(keys[r], 1), 0, HP[r], h)
        for j in range(nh):
            if h[j] != 0:
                energy -= np.float64(a[j])
        E[r] = energy


@numba.njit(**JIT)
def pt_swap_pass(V, H, E, betas, n_chains, key, parity, accepted, attempted):
    """Propose swaps between neighbouring temperatures ``(k, k+1)`` with
    ``k % 2 == parity`` on every chain; accept with probability
    ``min(1, exp((beta_k - beta_{k+1}) * (E_k - E_{k+1})))``.

    V: (K*C, nv) uint8, H: (K*C, nh) uint8 and E: (K*C,) float64 are permuted in place;
    betas: (K,) decreasing from 1; n_chains: C; key: uint64; parity: 0 or 1;
    accepted, attempted: (K-1,) int64 counters, incremented.
    """
    n_temps = betas.shape[0]
    for k in range(parity, n_temps - 1, 2):
        d_beta = betas[k] - betas[k + 1]
        for i in range(n_chains):
            r0 = k * n_chains + i
            r1 = r0 + n_chains
            log_ratio = d_beta * (E[r0] - E[r1])
            attempted[k] += 1
            if log_ratio >= 0.0 or uniform(key, i * n_temps + k) < np.exp(log_ratio):
                accepted[k] += 1
                for j in range(V.shape[1]):
                    t = V[r0, j]
                    V[r0, j] = V[r1, j]
                    V[r1, j] = t
                for j in range(H.shape[1]):
                    t = H[r0, j]
                    H[r0, j] = H[r1, j]
                    H[r1, j] = t
                te = E[r0]
                E[r0] = E[r1]
                E[r1] = te
