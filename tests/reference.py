"""Plain NumPy references for a Bernoulli-Bernoulli RBM, in float64, written for clarity.

Model (``W`` is (nv, nh), ``b`` is (nv,), ``c`` is (nh,); states are 0/1):

    E(v, h)    = -b.v - c.h - v.W.h
    P_beta(v, h) ∝ exp(-beta * E(v, h))                      (beta = 1: the model)
    P_beta(h_j = 1 | v) = sigmoid(beta * (c_j + (v W)_j))
    P_beta(v_i = 1 | h) = sigmoid(beta * (b_i + (W h)_i))
    F_beta(v)  = -beta * b.v - sum_j softplus(beta * (c_j + (v W)_j))
    P_beta(v)  = exp(-F_beta(v)) / Z_beta,   log Z_beta = logsumexp_v(-F_beta(v))

Everything exact here enumerates states, so it is for tiny models only (a layer of
at most ``MAX_ENUM`` units is enumerated). Nothing in this file calls the kernels.

State order: ``all_binary_states(n)[s]`` has unit ``i`` equal to bit ``i`` of ``s``,
and :func:`state_index` is its inverse; every distribution over states returned
here is a (2**n,) vector in that order.
"""

import numpy as np

MAX_ENUM = 12  # largest layer we are willing to enumerate (4096 states)


# --------------------------------------------------------------------------- scalars

def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow warnings."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def logsumexp(x, axis=None):
    """``log(sum(exp(x)))`` computed stably."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out.squeeze() if axis is None else np.squeeze(out, axis=axis)


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


# --------------------------------------------------------------------------- states

def all_binary_states(n):
    """(2**n, n) uint8: row ``s`` holds the bits of ``s``, unit ``i`` = bit ``i``."""
    if n > MAX_ENUM + 8:
        raise ValueError(f"refusing to enumerate 2**{n} states")
    s = np.arange(2 ** n, dtype=np.int64)[:, None]
    return ((s >> np.arange(n)) & 1).astype(np.uint8)


def state_index(V):
    """Index of each row of the binary matrix ``V`` (B, n) in :func:`all_binary_states`."""
    V = np.asarray(V)
    return (V.astype(np.int64) << np.arange(V.shape[1])).sum(axis=1)


def empirical_distribution(V):
    """Frequencies of the rows of ``V`` (B, n) over the 2**n states."""
    n = V.shape[1]
    return np.bincount(state_index(V), minlength=2 ** n) / V.shape[0]


# --------------------------------------------------------------------------- conditionals

def hidden_probs(V, W, c, beta=1.0):
    """``P_beta(h_j = 1 | v)`` for each row of ``V`` (B, nv): (B, nh)."""
    V, W, c = _f64(V, W, c)
    return sigmoid(beta * (c + V @ W))


def visible_probs(H, W, b, beta=1.0):
    """``P_beta(v_i = 1 | h)`` for each row of ``H`` (B, nh): (B, nv)."""
    H, W, b = _f64(H, W, b)
    return sigmoid(beta * (b + H @ W.T))


# --------------------------------------------------------------------------- energies

def energy(V, H, W, b, c):
    """Untempered joint energy ``E(v, h)`` of each pair of rows: (B,)."""
    V, H, W, b, c = _f64(V, H, W, b, c)
    return -(V @ b) - (H @ c) - np.einsum("si,ij,sj->s", V, W, H)


def free_energy(V, W, b, c, beta=1.0):
    """``F_beta(v)`` of each row of ``V`` (B, nv), binary or real: (B,)."""
    V, W, b, c = _f64(V, W, b, c)
    return -beta * (V @ b) - softplus(beta * (c + V @ W)).sum(axis=1)


def free_energy_hidden(H, W, b, c, beta=1.0):
    """Free energy of the hidden layer, ``-log sum_v exp(-beta E(v, h))``: (B,)."""
    return free_energy(H, np.asarray(W, np.float64).T, c, b, beta)


# --------------------------------------------------------------------------- partition function

def log_partition(W, b, c, beta=1.0):
    """Exact ``log Z_beta`` by enumerating the smaller layer (at most MAX_ENUM units)."""
    nv, nh = np.shape(W)
    if min(nv, nh) > MAX_ENUM:
        raise ValueError("both layers too large to enumerate")
    if nv <= nh:
        return float(logsumexp(-free_energy(all_binary_states(nv), W, b, c, beta)))
    return float(logsumexp(-free_energy_hidden(all_binary_states(nh), W, b, c, beta)))


def log_partition_joint(W, b, c, beta=1.0):
    """Exact ``log Z_beta`` by brute force over every joint state (v, h): an
    independent check of :func:`log_partition` (nv + nh <= 20)."""
    nv, nh = np.shape(W)
    VS, HS = all_binary_states(nv), all_binary_states(nh)
    V = np.repeat(VS, len(HS), axis=0)
    H = np.tile(HS, (len(VS), 1))
    return float(logsumexp(-beta * energy(V, H, W, b, c)))


def visible_distribution(W, b, c, beta=1.0):
    """Exact ``P_beta(v)`` over all 2**nv visible states (nv <= MAX_ENUM)."""
    nv = np.shape(W)[0]
    if nv > MAX_ENUM:
        raise ValueError("too many visible units to enumerate")
    logp = -free_energy(all_binary_states(nv), W, b, c, beta)
    return np.exp(logp - logsumexp(logp))


def hidden_distribution(W, b, c, beta=1.0):
    """Exact ``P_beta(h)`` over all 2**nh hidden states (nh <= MAX_ENUM)."""
    nh = np.shape(W)[1]
    if nh > MAX_ENUM:
        raise ValueError("too many hidden units to enumerate")
    logp = -free_energy_hidden(all_binary_states(nh), W, b, c, beta)
    return np.exp(logp - logsumexp(logp))


def joint_distribution(W, b, c, beta=1.0):
    """Exact ``P_beta(v, h)`` as a (2**nv, 2**nh) matrix (tiny models only)."""
    nv, nh = np.shape(W)
    VS, HS = all_binary_states(nv), all_binary_states(nh)
    V = np.repeat(VS, len(HS), axis=0)
    H = np.tile(HS, (len(VS), 1))
    logp = -beta * energy(V, H, W, b, c)
    return np.exp(logp - logsumexp(logp)).reshape(len(VS), len(HS))


# --------------------------------------------------------------------------- moments

def model_marginals(W, b, c, beta=1.0):
    """Exact ``(E[v] (nv,), E[h] (nh,), E[v h^T] (nv, nh))`` under ``P_beta``.

    Enumerates the smaller layer and uses the other layer's conditional means:
    over v, ``E[h | v] = P_beta(h = 1 | v)``; over h, ``E[v | h] = P_beta(v = 1 | h)``.
    """
    W, b, c = _f64(W, b, c)
    nv, nh = W.shape
    if nv <= nh:
        V = all_binary_states(nv).astype(np.float64)
        p = visible_distribution(W, b, c, beta)
        HP = hidden_probs(V, W, c, beta)
        return p @ V, p @ HP, (V * p[:, None]).T @ HP
    H = all_binary_states(nh).astype(np.float64)
    p = hidden_distribution(W, b, c, beta)
    VP = visible_probs(H, W, b, beta)
    return p @ VP, p @ H, (VP * p[:, None]).T @ H


def data_statistics(V, W, c):
    """Positive statistics of a data set ``V`` (N, nv):
    ``(mean(v), mean(P(h|v)), V^T P(h|V) / N)``."""
    V = np.asarray(V, np.float64)
    HP = hidden_probs(V, W, c)
    return V.mean(axis=0), HP.mean(axis=0), V.T @ HP / V.shape[0]


def log_likelihood(V, W, b, c):
    """Exact mean log-likelihood ``mean_n log P(v_n)`` of a data set (N, nv)."""
    return float(np.mean(-free_energy(V, W, b, c)) - log_partition(W, b, c))


def log_likelihood_gradient(V, W, b, c):
    """Exact gradient of :func:`log_likelihood` w.r.t. ``(W, b, c)``: data term
    minus model term, ``<v h^T>_data - <v h^T>_model`` etc., with ``h`` replaced by
    ``P(h = 1 | v)`` in the data term."""
    dv, dh, dvh = data_statistics(V, W, c)
    mv, mh, mvh = model_marginals(W, b, c)
    return dvh - mvh, dv - mv, dh - mh


# --------------------------------------------------------------------------- conditionals over v

def conditional_distribution(known_mask, known_values, W, b, c, beta=1.0):
    """Exact ``P_beta(v_free | v_known)`` over all 2**n_free assignments of the free
    units (those where ``known_mask`` (nv,) is 0, in increasing unit order, state
    order as in :func:`all_binary_states`); ``known_values`` (nv,) gives the known
    units (its free entries are ignored)."""
    known_mask = np.asarray(known_mask, bool)
    free = np.flatnonzero(~known_mask)
    S = all_binary_states(len(free))
    V = np.tile(np.asarray(known_values, np.uint8), (len(S), 1))
    V[:, free] = S
    logp = -free_energy(V, W, b, c, beta)
    return np.exp(logp - logsumexp(logp))


# --------------------------------------------------------------------------- Gibbs kernel

def gibbs_transition(W, b, c, beta=1.0, known_mask=None, known_values=None):
    """Exact transition matrix of one block Gibbs sweep ``h ~ P(h|v), v' ~ P(v'|h)``
    as a chain on the visible states: ``T[s, s'] = sum_h P(h | v_s) P(v_s' | h)``.

    With ``known_mask``/``known_values`` the known units are clamped and the chain
    runs over the free units only (order as in :func:`conditional_distribution`).
    """
    W, b, c = _f64(W, b, c)
    nv, nh = W.shape
    if known_mask is None:
        known_mask = np.zeros(nv, bool)
        known_values = np.zeros(nv, np.uint8)
    known_mask = np.asarray(known_mask, bool)
    free = np.flatnonzero(~known_mask)
    S = all_binary_states(len(free))
    V = np.tile(np.asarray(known_values, np.uint8), (len(S), 1))
    V[:, free] = S
    HS = all_binary_states(nh).astype(np.float64)
    hp = hidden_probs(V, W, c, beta)                              # (nS, nh)
    p_h = np.prod(np.where(HS[None] == 1, hp[:, None], 1 - hp[:, None]), axis=2)
    vp = visible_probs(HS, W, b, beta)[:, free]                   # (nH, nfree)
    Sf = S.astype(np.float64)
    p_v = np.prod(np.where(Sf[None] == 1, vp[:, None], 1 - vp[:, None]), axis=2)
    return p_h @ p_v                                              # (nS, nS)


def distribution_after(T, p0, n_steps):
    """``p0 T^n``: the exact distribution of the chain after ``n_steps`` steps."""
    p = np.asarray(p0, np.float64)
    for _ in range(n_steps):
        p = p @ T
    return p


def total_variation(p, q):
    """``0.5 * sum |p - q|``."""
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())
