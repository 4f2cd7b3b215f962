"""Parallel tempering (replica exchange) for a Bernoulli RBM.

Replicas are stored temperature-major: replica ``r = k * C + i`` is chain ``i`` of
``C`` at inverse temperature ``betas[k]`` (k = 0 is beta = 1, the model itself), so the
beta = 1 replicas are the first ``C`` rows. The state of a replica is the joint
``(v, h)`` and its energy ``E(v, h) = -b.v - c.h - v W h`` (untempered), so that
``P_beta(v, h) ∝ exp(-beta * E(v, h))``.
"""

import numba
import numpy as np

from rbmcli.kernels._config import JIT, PARALLEL_JIT
from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step
from rbmcli.kernels.rng import uniform


@numba.njit(**PARALLEL_JIT)
def _energies(V, H, A, b, E):
    """``E[r] = -b.v - h.A[r]`` with ``A = c + v W``, accumulated in float64."""
    for r in numba.prange(V.shape[0]):
        e = 0.0
        for i in range(V.shape[1]):
            if V[r, i] != 0:
                e -= np.float64(b[i])
        for j in range(H.shape[1]):
            if H[r, j] != 0:
                e -= np.float64(A[r, j])
        E[r] = e


@numba.njit(**JIT)
def pt_sweep(V, H, W, WTt, b, c, betas_per_replica, keys, E, HP):
    """One Gibbs sweep ``v ~ P_beta(v|h)``, then ``h ~ P_beta(h|v)``, of every replica.

    V: (R, nv) uint8 and H: (R, nh) uint8, updated in place; W: (nv, nh);
    WTt: the tiled transpose of W (:mod:`rbmcli.kernels.intrinsics.tiles`); b: (nv,); c: (nh,); betas_per_replica: (R,);
    keys: (R,) uint64 (visible uniforms from step 0, hidden from step 1);
    E: (R,) float64 output, the energies of the new states; HP: (R, nh) output,
    ``P_beta(h | v)`` of the new visible states.
    """
    n, nv = V.shape
    nh = H.shape[1]
    no_clamp = np.empty((0, nv), np.uint8)
    # steps and the flag as run-time values (a literal would compile a new specialization)
    visible_step(H, WTt, b, betas_per_replica, keys, np.int64(0), no_clamp, V,
                 np.empty((0, nv), W.dtype), no_clamp)
    A = np.empty((n, nh), W.dtype)
    hidden_step(V, V, W, c, betas_per_replica, keys, np.int64(1), A, HP, H, n < 0)
    _energies(V, H, A, b, E)


@numba.njit(**JIT)
def pt_swap_pass(V, H, E, betas, n_chains, key, parity, accepted, attempted):
    """Propose swaps between neighbouring temperatures ``(k, k+1)`` with
    ``k % 2 == parity`` on every chain; accept with probability
    ``min(1, exp((beta_k - beta_{k+1}) * (E_k - E_{k+1})))``.

    V: (K*C, nv) uint8, H: (K*C, nh) uint8 and E: (K*C,) float64 are permuted in place
    (probabilities from :func:`pt_sweep` are not: recompute them for the swapped
    states); betas: (K,) decreasing from 1; n_chains: C; key: uint64; parity: 0 or 1;
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
