"""The Bernoulli-Bernoulli RBM: parameters, and its maths expressed through the kernels.

Energy ``E(v, h) = -b.v - c.h - v.W.h`` over binary visible ``v`` (n_visible,) and
hidden ``h`` (n_hidden,). This class checks every array before a kernel sees it
(dtype, C order, shape, values), so kernels can stay unchecked.
"""

import numpy as np

from rbmcli.models.aligned import aligned, aligned_empty
from rbmcli.errors import InputError
from rbmcli.kernels.rbm import conditionals
from rbmcli.kernels.rbm.free_energy import free_energy_binary, free_energy_from_preactivation
from rbmcli.kernels.rbm.gibbs import gibbs_sweeps
from rbmcli.kernels.rbm.tempering import pt_sweep
from rbmcli.models.markov import MarkovModel
from rbmcli.sampling.bernoulli import SAMPLERS, _as_states
from rbmcli.scoring import bernoulli as scoring
from rbmcli.sampling.keys import draw_keys

DTYPES = {"float32": np.float32, "float64": np.float64}
TILE = 16
"""Visible units per tile of the tiled transpose (rbmcli.kernels.intrinsics.tiles.TILE; importing that
would load Numba)."""


def transposed_tiles(weights, out=None):
    """``weights.T`` (nv, nh) as tiles of 16 visible units, the layout of
    :mod:`rbmcli.kernels.intrinsics.tiles`: ``tiles[t, j, r] = weights[16 t + r, j]``, shape
    (ceil(nv / 16), nh, 16), zero past ``nv``, 64-byte aligned; written into ``out``
    when given. NumPy only, so that loading a model compiles nothing."""
    nv, nh = weights.shape
    n_tiles = -(-nv // TILE)
    padded = np.zeros((n_tiles * TILE, nh), weights.dtype)
    padded[:nv] = weights
    if out is None:
        out = aligned_empty((n_tiles, nh, TILE), weights.dtype)
    out[...] = padded.reshape(n_tiles, TILE, nh).transpose(0, 2, 1)
    return out


def untiled(tiles, n_visible):
    """The (n_visible, nh) matrix whose :func:`transposed_tiles` are ``tiles``."""
    return tiles.transpose(0, 2, 1).reshape(-1, tiles.shape[1])[:n_visible]


class WeightShape:
    """``n_visible``, ``n_hidden`` and ``dtype`` of a model with ``weights`` (nv, nh)."""

    @property
    def n_visible(self):
        return self.weights.shape[0]

    @property
    def n_hidden(self):
        return self.weights.shape[1]

    @property
    def dtype(self):
        return self.weights.dtype


class BernoulliRBM(WeightShape, MarkovModel):
    """A Bernoulli-Bernoulli RBM.

    Parameters
    ----------
    weights : (n_visible, n_hidden) float32 or float64
    visible_bias : (n_visible,) same dtype
    hidden_bias : (n_hidden,) same dtype

    Attributes ``weights`` (read-only; assign to change), ``visible_bias``,
    ``hidden_bias`` are the parameters. A private copy of ``weights.T`` in the layout the
    visible half-step reads (:func:`transposed_tiles`) is kept in step by the model
    itself and by the training kernels, which write both.
    """

    kind = "bernoulli-rbm"
    samplers = SAMPLERS
    ARRAYS = ("weights", "visible_bias", "hidden_bias")
    """The parameter datasets of its model file, in order."""

    def __init__(self, weights, visible_bias, hidden_bias):
        weights = np.asarray(weights)
        if weights.dtype not in (np.float32, np.float64) or weights.ndim != 2:
            raise InputError(f"weights must be a 2-D float32/float64 array, found "
                             f"{weights.ndim}-D {weights.dtype}")
        dtype = weights.dtype
        self._weights = aligned(weights)
        self.visible_bias = aligned(visible_bias, dtype=dtype)
        self.hidden_bias = aligned(hidden_bias, dtype=dtype)
        nv, nh = self._weights.shape
        if self.visible_bias.shape != (nv,) or self.hidden_bias.shape != (nh,):
            raise InputError(f"expected visible_bias ({nv},) and hidden_bias ({nh},), found "
                             f"{self.visible_bias.shape} and {self.hidden_bias.shape}")
        self._weights_tiles = transposed_tiles(self._weights)

    @classmethod
    def initialize(cls, n_visible, n_hidden, data_mean, rng, dtype=np.float32):
        """Hinton's initialisation: ``W ~ N(0, 0.01^2)``, ``b = log(p / (1 - p))`` of the
        data means ``p`` (n_visible,) (clipped to [1e-3, 1 - 1e-3]), ``c = 0``."""
        p = np.clip(np.asarray(data_mean, np.float64), 1e-3, 1 - 1e-3)
        weights = (0.01 * rng.standard_normal((n_visible, n_hidden))).astype(dtype)
        return cls(weights, np.log(p / (1 - p)).astype(dtype), np.zeros(n_hidden, dtype))

    @classmethod
    def from_arrays(cls, arrays):
        """The model of the arrays :meth:`arrays` returns (dict name -> array)."""
        return cls(*(arrays[name] for name in cls.ARRAYS))

    def arrays(self):
        """The parameters by dataset name (:data:`ARRAYS`)."""
        return {"weights": self.weights, "visible_bias": self.visible_bias,
                "hidden_bias": self.hidden_bias}

    def parameter_arrays(self):
        return list(self.arrays().values())

    # -- pixels in and out (the RBM family's interface, rbmcli.models.markov) ----------
    def visible_input(self, X0, rng):
        """Binary states (N, nv) uint8 of pixels ``X0``: X0 itself when binary, else a
        Bernoulli draw."""
        return _as_states(X0, rng)

    def data_input(self, x01, binarization, seed):
        """Binary rows of grey images binarised as ``binarization`` says (stochastic:
        drawn with ``seed``), as scores and features read them."""
        return scoring.binarize(x01, binarization, seed)

    def visible_pixels(self, means):
        """Pixels in [0, 1] of visible means ``P(v = 1 | h)`` (N, nv)."""
        return np.clip(means, 0, 1).astype(self.dtype)

    def draw_visible(self, means, rng):
        """Visible states (N, nv) uint8 drawn from their means."""
        return (rng.random(means.shape) < means).astype(np.uint8)

    def mean_image(self):
        """(nv,) float64 ``sigmoid(visible_bias)``: the pixel means of the model with no
        hidden influence, where inpainting starts when no training mean is known."""
        return 1 / (1 + np.exp(-self.visible_bias.astype(np.float64)))

    def score(self, images, *, seed=0, log=None, progress=None, **metrics):
        """See :func:`rbmcli.scoring.bernoulli.score_images`."""
        return scoring.score_images(self, images, seed=seed, log=log, progress=progress,
                                    **metrics)

    @property
    def weights(self):
        """(n_visible, n_hidden) the weights, as a read-only view: assign a whole array
        (``model.weights = W``) to change them, which also updates the private tiled copy
        the kernels read (training kernels write both at once)."""
        view = self._weights.view()
        view.flags.writeable = False
        return view

    @weights.setter
    def weights(self, value):
        value = np.asarray(value)
        if value.shape != self._weights.shape:
            raise InputError(f"expected weights of shape {self._weights.shape}, found "
                             f"{value.shape}")
        np.copyto(self._weights, value, casting="same_kind")
        self._refresh_tiles()

    def _refresh_tiles(self):
        """Rewrite the tiled transpose from ``_weights`` (after a change that was not made
        by a training kernel, which writes both)."""
        transposed_tiles(self._weights, out=self._weights_tiles)

    def is_finite(self):
        """True when every parameter is finite (the training NaN guard)."""
        return bool(np.isfinite(self.weights).all() and np.isfinite(self.visible_bias).all()
                    and np.isfinite(self.hidden_bias).all())

    # -- checks -----------------------------------------------------------------------
    def _binary(self, V, n, what="visible"):
        V = np.asarray(V)
        if V.ndim != 2 or V.shape[1] != n:
            raise InputError(f"expected {what} states of shape (N, {n}), found {V.shape}")
        if V.dtype != np.uint8:
            if not np.isin(V, (0, 1)).all():
                raise InputError(f"{what} states must be 0 or 1")
            V = V.astype(np.uint8)
        return np.ascontiguousarray(V)

    def _betas(self, beta, n):
        return np.full(n, beta, self.dtype) if np.ndim(beta) == 0 else \
            np.ascontiguousarray(beta, self.dtype)

    # -- conditionals -----------------------------------------------------------------
    def hidden_probs(self, V):
        """``P(h = 1 | v)`` (N, n_hidden) for binary uint8 or real-valued ``V`` (N, n_visible)."""
        V = np.asarray(V)
        if V.dtype == np.uint8:
            V = self._binary(V, self.n_visible)
            out = np.empty((V.shape[0], self.n_hidden), self.dtype)
            conditionals.hidden_probs_binary(V, self._weights, self.hidden_bias, out)
            return out
        pre = V.astype(self.dtype, copy=False) @ self.weights + self.hidden_bias
        return _sigmoid(pre)

    def visible_probs(self, H):
        """``P(v = 1 | h)`` (N, n_visible) for real-valued or binary ``H`` (N, n_hidden)."""
        pre = np.asarray(H).astype(self.dtype, copy=False) @ self.weights.T + self.visible_bias
        return _sigmoid(pre)

    def sample_hidden(self, V, rng, beta=1.0):
        """Draw ``h ~ P_beta(h | v)``: returns (probabilities (N, nh), states uint8 (N, nh))."""
        V = self._binary(V, self.n_visible)
        n = V.shape[0]
        HP = np.empty((n, self.n_hidden), self.dtype)
        H = np.empty((n, self.n_hidden), np.uint8)
        conditionals.sample_hidden(V, self._weights, self.hidden_bias, self._betas(beta, n),
                                   draw_keys(rng, n), HP, H)
        return HP, H

    def sample_visible(self, H, rng, beta=1.0):
        """Draw ``v ~ P_beta(v | h)``: returns (probabilities (N, nv), states uint8 (N, nv))."""
        H = self._binary(H, self.n_hidden, "hidden")
        n = H.shape[0]
        VP = np.empty((n, self.n_visible), self.dtype)
        V = np.empty((n, self.n_visible), np.uint8)
        conditionals.sample_visible(H, self._weights_tiles, self.visible_bias, self._betas(beta, n),
                                    draw_keys(rng, n), VP, V)
        return VP, V

    def gibbs(self, V, n_steps, rng, clamp=None, beta=1.0):
        """Run ``n_steps`` block Gibbs sweeps from binary ``V`` (N, nv), a copy.

        ``clamp`` (N, nv) or (nv,) marks units that keep their value. Returns
        (final states uint8 (N, nv), ``P(h | v)`` of them (N, nh)).
        """
        V = self._binary(V, self.n_visible).copy()
        n = V.shape[0]
        if clamp is None:
            clamp = np.zeros((0, self.n_visible), np.uint8)
        else:
            clamp = np.ascontiguousarray(np.broadcast_to(clamp, V.shape), dtype=np.uint8)
        HP = np.empty((n, self.n_hidden), self.dtype)
        gibbs_sweeps(V, self._weights, self._weights_tiles, self.visible_bias, self.hidden_bias,
                     self._betas(beta, n), draw_keys(rng, n), int(n_steps), clamp,
                     np.empty((0, self.n_hidden), self.dtype), HP)
        return V, HP

    def tempering_sweep(self, V, H, betas_per_replica, rng):
        """One parallel-tempering Gibbs sweep ``v ~ P_beta(v|h)``, ``h ~ P_beta(h|v)`` of
        every replica, in place.

        V: (R, nv) uint8 and H: (R, nh) uint8 replica states (updated); betas_per_replica:
        (R,). Returns (E (R,) float64 energies E(v, h) of the new states, HP (R, nh)
        ``P_beta(h | v)``). Swaps are :func:`rbmcli.kernels.rbm.tempering.pt_swap_pass`, which needs
        no model.
        """
        n = V.shape[0]
        E = np.empty(n, np.float64)
        HP = np.empty((n, self.n_hidden), self.dtype)
        pt_sweep(V, H, self._weights, self._weights_tiles, self.visible_bias, self.hidden_bias,
                 self._betas(betas_per_replica, n), draw_keys(rng, n), E, HP)
        return E, HP

    # -- scores -----------------------------------------------------------------------
    def free_energy(self, V, beta=1.0):
        """``F(v) = -b.v - sum_j softplus(c_j + (vW)_j)`` (N,) float64, for binary uint8
        or real-valued ``V`` (N, n_visible)."""
        V = np.asarray(V)
        out = np.empty(V.shape[0], np.float64)
        if V.dtype == np.uint8:
            V = self._binary(V, self.n_visible)
            free_energy_binary(V, self._weights, self.visible_bias, self.hidden_bias,
                               self.dtype.type(beta), out)
        else:
            V = np.ascontiguousarray(V, self.dtype)
            A = np.ascontiguousarray(V @ self.weights + self.hidden_bias)
            free_energy_from_preactivation(V, A, self.visible_bias, self.dtype.type(beta), out)
        return out

    def reconstruction_error(self, V, rng):
        """Per-sample mean squared reconstruction error (N,) of binary ``V`` (N, nv):
        ``h ~ P(h|v)``, ``v' ~ P(v|h)``, ``mean_i (v_i - v'_i)^2`` (the MSER)."""
        V = self._binary(V, self.n_visible)
        _, H = self.sample_hidden(V, rng)
        _, R = self.sample_visible(H, rng)
        return np.mean(V != R, axis=1)

    # =================================================================================
    # Added for rbmcli/sampling/bernoulli.py (clamped parallel tempering needs the energy of
    # states it sampled itself). Plain NumPy for now; a kernel (or a clamp argument to
    # rbmcli.kernels.rbm.tempering.pt_sweep) would make clamped PT as fast as unclamped PT.
    # =================================================================================
    def energy(self, V, H):
        """``E(v, h) = -b.v - c.h - v.W.h`` (N,) float64 of binary ``V`` (N, nv) and
        ``H`` (N, nh), computed as ``-b.v - h.(c + vW)`` like the PT kernel."""
        V = self._binary(V, self.n_visible)
        H = self._binary(H, self.n_hidden, "hidden")
        if V.shape[0] != H.shape[0]:
            raise InputError(f"expected as many hidden as visible states, found "
                             f"{H.shape[0]} and {V.shape[0]}")
        A = V.astype(self.dtype) @ self.weights + self.hidden_bias
        return -(V @ self.visible_bias.astype(np.float64)) \
            - np.einsum("ij,ij->i", H.astype(self.dtype), A, dtype=np.float64)


def _sigmoid(x):
    """Stable logistic sigmoid on a NumPy array (used for real-valued inputs only)."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out
