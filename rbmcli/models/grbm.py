"""The Gaussian-Bernoulli RBM: real-valued visible units, binary hidden units.

Energy over standardised visible ``v`` (nv,) real and hidden ``h`` (nh,) 0/1::

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_ij (v_i / sigma_i) W_ij h_j - c.h

so that

    P(h_j = 1 | v) = sigmoid(c_j + sum_i (v_i / sigma_i) W_ij)
    p(v_i | h)     = Normal(b_i + sigma_i (W h)_i, sigma_i^2)
    F(v)           = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + ((v / sigma) W)_j)
    log Z          = sum_i log(sqrt(2 pi) sigma_i)
                     + logsumexp_h [c.h + (b / sigma).(W h) + |W h|^2 / 2]

(the last line integrates v out for each h: complete the square). ``sigma = exp(z)`` with
the log-sigma ``z`` (nv,) kept in [:data:`LOG_SIGMA_MIN`, :data:`LOG_SIGMA_MAX`], so sigma
stays positive and bounded whatever the gradient does.

Tempering (parallel tempering and AIS) scales only the interaction and hidden-bias terms,
``P_beta(v, h) ∝ exp(-sum_i (v_i - b_i)^2 / (2 sigma_i^2) + beta ((v / sigma).W h + c.h))``,
because tempering the Gaussian term would make beta = 0 improper: at beta = 0 the visible
units are Normal(b, sigma^2) and the hidden units fair coins. The ``beta``-scaled part of the
energy is :meth:`GaussianRBM.interaction_energy`.

The data are standardised per pixel on load (:class:`Standardizer`, stored with the model),
so the model works in standardised units and pictures are mapped back to pixels. The visible
vectors are dense, so the products are BLAS matrix products rather than the sparse
gather-adds of the binary kernels; random numbers come from the caller's numpy Generator.
"""

from dataclasses import dataclass

import numpy as np

from rbmcli.errors import InputError
from rbmcli.models.markov import MarkovModel
from rbmcli.models.rbm import WeightShape
from rbmcli.sampling.layered import GRBM_SAMPLERS
from rbmcli.scoring import layered as scoring

LOG_SIGMA_MIN = float(np.log(0.1))
LOG_SIGMA_MAX = float(np.log(5.0))
"""The range of the learned log-sigma, in standardised units."""

STD_FLOOR = 0.2
"""Pixels whose standard deviation (pixel range [0, 1]) is smaller are divided by this
instead: 436 of MNIST's 784 pixels have std < 0.2, most of them almost always 0, and
dividing a rare stroke by their tiny std gives standardised spikes of 10 to 1000 that a
Gaussian with learned sigma models by shrinking sigma and dedicating hidden units to single
pixels (seen on MNIST with a floor of 0.1 and sigma >= 0.05: many filters were single
pixels)."""

HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass
class Standardizer:
    """Per-pixel standardisation ``v = (x - mean) / std`` of pixels ``x`` in [0, 1].

    Attributes
    ----------
    mean, std : (nv,) float64
        ``std`` is already floored at :data:`STD_FLOOR`.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x01):
        """Mean and floored std of grey pixels ``x01`` (N, nv) in [0, 1]."""
        x = np.asarray(x01, np.float64)
        return cls.floored(x.mean(axis=0), x.std(axis=0))

    @classmethod
    def floored(cls, mean, std):
        """The standardisation of pixels of per-pixel ``mean`` and ``std`` (nv,) float64,
        the std floored at :data:`STD_FLOOR`."""
        return cls(mean, np.maximum(std, STD_FLOOR))

    @classmethod
    def identity(cls, n):
        return cls(np.zeros(n), np.ones(n))

    def forward(self, x01, dtype=np.float32):
        """Standardised (N, nv) ``dtype`` array of pixels ``x01`` (N, nv) in [0, 1]."""
        return np.ascontiguousarray((np.asarray(x01, np.float64) - self.mean) / self.std,
                                    dtype=dtype)

    def inverse(self, v):
        """Pixels (N, nv) float64 of standardised ``v`` (not clipped)."""
        return np.asarray(v, np.float64) * self.std + self.mean

    @property
    def log_jacobian(self):
        """``sum_i log(1 / std_i)``: add it to a log-density of standardised data to get
        the log-density of the pixels (pixel range [0, 1])."""
        return float(-np.log(self.std).sum())


class GaussianRBM(WeightShape, MarkovModel):
    """A Gaussian-Bernoulli RBM (see the module docstring).

    Parameters
    ----------
    weights : (n_visible, n_hidden) float32 or float64
    visible_bias : (n_visible,)
    hidden_bias : (n_hidden,)
    log_sigma : (n_visible,)
        Clipped to [LOG_SIGMA_MIN, LOG_SIGMA_MAX].
    standardizer : Standardizer, optional
        Pixel <-> standardised units; the identity by default.
    """

    kind = "gaussian-rbm"
    binarization = "none"
    samplers = GRBM_SAMPLERS
    ARRAYS = ("weights", "visible_bias", "hidden_bias", "log_sigma", "standardize_mean",
              "standardize_std")
    """The parameter datasets of its model file, in order."""

    def __init__(self, weights, visible_bias, hidden_bias, log_sigma, standardizer=None):
        weights = np.asarray(weights)
        if weights.dtype not in (np.float32, np.float64) or weights.ndim != 2:
            raise InputError(f"weights must be a 2-D float32/float64 array, found "
                             f"{weights.ndim}-D {weights.dtype}")
        dtype = weights.dtype
        nv, nh = weights.shape
        self.weights = np.ascontiguousarray(weights)
        self.visible_bias = np.ascontiguousarray(visible_bias, dtype=dtype)
        self.hidden_bias = np.ascontiguousarray(hidden_bias, dtype=dtype)
        self.log_sigma = np.ascontiguousarray(log_sigma, dtype=dtype)
        if self.visible_bias.shape != (nv,) or self.hidden_bias.shape != (nh,) \
                or self.log_sigma.shape != (nv,):
            raise InputError(f"expected visible_bias and log_sigma ({nv},) and hidden_bias "
                             f"({nh},), found {self.visible_bias.shape}, "
                             f"{self.log_sigma.shape} and {self.hidden_bias.shape}")
        np.clip(self.log_sigma, LOG_SIGMA_MIN, LOG_SIGMA_MAX, out=self.log_sigma)
        self.standardizer = standardizer or Standardizer.identity(nv)
        if self.standardizer.mean.shape != (nv,) or self.standardizer.std.shape != (nv,):
            raise InputError(f"expected a standardisation of {nv} pixels, found "
                             f"{self.standardizer.mean.shape}")

    @classmethod
    def initialize(cls, n_visible, n_hidden, rng, dtype=np.float32, standardizer=None,
                   sigma=1.0):
        """``W ~ N(0, 0.01^2)``, ``b = 0``, ``c = 0``, every ``sigma_i = sigma`` (default 1,
        the data's std after standardisation); ``sigma`` must lie in the clipped range."""
        if not np.exp(LOG_SIGMA_MIN) * (1 - 1e-9) <= sigma <= np.exp(LOG_SIGMA_MAX) * (1 + 1e-9):
            raise InputError(f"sigma {sigma} is outside [{np.exp(LOG_SIGMA_MIN):g}, "
                             f"{np.exp(LOG_SIGMA_MAX):g}]")
        weights = (0.01 * rng.standard_normal((n_visible, n_hidden))).astype(dtype)
        zeros = np.zeros(n_visible, dtype)
        log_sigma = np.full(n_visible, np.log(sigma), dtype)
        return cls(weights, zeros, np.zeros(n_hidden, dtype), log_sigma, standardizer)

    @property
    def sigma(self):
        """(nv,) standard deviations ``exp(log_sigma)``."""
        return np.exp(self.log_sigma)

    def parameters(self):
        """The learned arrays, by name (views, not copies)."""
        return {"weights": self.weights, "visible_bias": self.visible_bias,
                "hidden_bias": self.hidden_bias, "log_sigma": self.log_sigma}

    def is_finite(self):
        return all(np.isfinite(a).all() for a in self.parameters().values())

    @classmethod
    def from_arrays(cls, arrays):
        """The model of the arrays :meth:`arrays` returns (dict name -> array)."""
        if (np.asarray(arrays["standardize_std"]) <= 0).any():
            raise InputError("standardize_std must be positive")
        return cls(arrays["weights"], arrays["visible_bias"], arrays["hidden_bias"],
                   arrays["log_sigma"],
                   Standardizer(np.asarray(arrays["standardize_mean"], np.float64),
                                np.asarray(arrays["standardize_std"], np.float64)))

    def arrays(self):
        """The parameters and the standardisation by dataset name (:data:`ARRAYS`)."""
        return {**self.parameters(), "standardize_mean": self.standardizer.mean,
                "standardize_std": self.standardizer.std}

    def parameter_arrays(self):
        return list(self.arrays().values())

    # -- pixels in and out (the RBM family's interface, rbmcli.models.markov) ----------
    def visible_input(self, X0, rng):
        """Standardised values (N, nv) of pixels ``X0``."""
        return self.standardizer.forward(X0, self.dtype)

    def data_input(self, x01, binarization, seed):
        """Standardised values of grey images (``binarization`` and ``seed`` do not
        apply)."""
        return self.standardizer.forward(x01, self.dtype)

    def visible_pixels(self, means):
        """Pixels in [0, 1] (N, nv) of standardised visible means."""
        return np.clip(self.standardizer.inverse(means), 0, 1).astype(self.dtype)

    def draw_visible(self, means, rng):
        """Standardised visible values drawn from ``Normal(means, sigma^2)``."""
        return means + self.sigma * rng.standard_normal(means.shape, dtype=self.dtype)

    def mean_image(self):
        """(nv,) float64: the pixel means the standardisation was fitted to."""
        return np.asarray(self.standardizer.mean, np.float64)

    def score(self, images, *, seed=0, log=None, progress=None, **metrics):
        """See :func:`rbmcli.scoring.layered.score_grbm_images`."""
        return scoring.score_grbm_images(self, images, seed=seed, log=log, progress=progress,
                                         **metrics)

    def describe_layer(self, where):
        """Extra lines of ``rbm info`` about this layer: its sigma."""
        sg = self.sigma
        return [f"sigma{where}\tmean {sg.mean():.4f}, min {sg.min():.4f}, max "
                f"{sg.max():.4f} (standardised units)"]

    def clip_log_sigma(self):
        """Put ``log_sigma`` back into its range (after an update)."""
        np.clip(self.log_sigma, LOG_SIGMA_MIN, LOG_SIGMA_MAX, out=self.log_sigma)

    # -- checks -----------------------------------------------------------------------
    def _real(self, V):
        V = np.asarray(V)
        if V.ndim != 2 or V.shape[1] != self.n_visible:
            raise InputError(f"expected visible vectors of shape (N, {self.n_visible}), found "
                             f"{V.shape}")
        if V.dtype.kind not in "fiub" or not np.isfinite(V).all():
            raise InputError("visible vectors must be finite numbers")
        return np.ascontiguousarray(V, self.dtype)

    def _hidden(self, H):
        H = np.asarray(H)
        if H.ndim != 2 or H.shape[1] != self.n_hidden:
            raise InputError(f"expected hidden states of shape (N, {self.n_hidden}), found "
                             f"{H.shape}")
        return np.ascontiguousarray(H, self.dtype)

    # -- conditionals -----------------------------------------------------------------
    def hidden_preactivation(self, V):
        """``c + (V / sigma) W`` (N, nh) for standardised ``V`` (N, nv)."""
        V = self._real(V)
        return (V / self.sigma) @ self.weights + self.hidden_bias

    def hidden_probs(self, V):
        """``P(h = 1 | v)`` (N, nh)."""
        return _sigmoid(self.hidden_preactivation(V))

    def visible_mean(self, H, beta=1.0):
        """``E_beta[v | h] = b + beta sigma (W h)`` (N, nv) for hidden states or
        probabilities ``H`` (N, nh); ``beta`` a scalar or (N,)."""
        H = self._hidden(H)
        beta = _column(beta, H.shape[0], self.dtype)
        return self.visible_bias + beta * self.sigma * (H @ self.weights.T)

    visible_probs = visible_mean  # the name the Bernoulli samplers use for "the mean"

    def sample_hidden(self, V, rng, beta=1.0):
        """Draw ``h ~ P_beta(h | v)``: returns (probabilities (N, nh), states uint8 (N, nh))."""
        A = self.hidden_preactivation(V)
        HP = _sigmoid(_column(beta, A.shape[0], self.dtype) * A)
        return HP, (rng.random(HP.shape, dtype=self.dtype) < HP).astype(np.uint8)

    def sample_visible(self, H, rng, beta=1.0):
        """Draw ``v ~ p_beta(v | h) = Normal(b + beta sigma (W h), sigma^2)``: returns
        (means (N, nv), states (N, nv)), both the model's dtype."""
        M = self.visible_mean(H, beta)
        noise = rng.standard_normal(M.shape, dtype=self.dtype)
        return M, M + self.sigma * noise

    def gibbs(self, V, n_steps, rng, clamp=None, beta=1.0):
        """``n_steps`` block Gibbs sweeps ``h ~ P(h|v)``, ``v ~ p(v|h)`` from ``V`` (N, nv)
        (a copy); units where ``clamp`` (N, nv) or (nv,) is true keep their value.
        Returns (final V (N, nv), ``P(h | v)`` of it (N, nh))."""
        V = self._real(V).copy()
        known = None if clamp is None else np.broadcast_to(np.asarray(clamp, bool), V.shape)
        for _ in range(int(n_steps)):
            _, H = self.sample_hidden(V, rng, beta)
            _, Vn = self.sample_visible(H, rng, beta)
            V = Vn if known is None else np.where(known, V, Vn)
        return V, _sigmoid(_column(beta, V.shape[0], self.dtype)
                           * self.hidden_preactivation(V))

    def tempering_sweep(self, H, betas_per_replica, rng, known=None, known_values=None):
        """One sweep of every replica on the tempered path: ``v ~ p_beta(v | h)`` (units
        where ``known`` (R, nv) is true reset to ``known_values``), then ``h ~ P_beta(h | v)``.
        Returns the new (V (R, nv), H (R, nh) uint8, E (R,) float64) where E is the
        :meth:`interaction_energy`, the part that swaps between temperatures compare."""
        _, V = self.sample_visible(H, rng, betas_per_replica)
        if known is not None:
            V = np.where(known, known_values, V)
        _, H = self.sample_hidden(V, rng, betas_per_replica)
        V, H = np.ascontiguousarray(V, self.dtype), np.ascontiguousarray(H)
        return V, H, np.ascontiguousarray(self.interaction_energy(V, H))

    # -- energies ---------------------------------------------------------------------
    def quadratic_energy(self, V):
        """``sum_i (v_i - b_i)^2 / (2 sigma_i^2)`` (N,) float64: the part of the energy
        that tempering leaves alone."""
        V = self._real(V)
        D = (V.astype(np.float64) - self.visible_bias) / self.sigma.astype(np.float64)
        return 0.5 * np.einsum("ij,ij->i", D, D)

    def interaction_energy(self, V, H):
        """``-(v / sigma).W h - c.h`` (N,) float64: the part of the energy scaled by the
        inverse temperature."""
        A = self.hidden_preactivation(V).astype(np.float64)
        return -np.einsum("ij,ij->i", self._hidden(H).astype(np.float64), A)

    def energy(self, V, H):
        """``E(v, h)`` (N,) float64."""
        return self.quadratic_energy(V) + self.interaction_energy(V, H)

    def free_energy(self, V, beta=1.0):
        """``F_beta(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(beta a_j)``
        with ``a = c + (v / sigma) W`` (N,) float64; ``exp(-F(v)) / Z`` is the density of
        standardised ``v``."""
        A = self.hidden_preactivation(V).astype(np.float64)
        return self.quadratic_energy(V) - np.logaddexp(0.0, beta * A).sum(axis=1)

    def reconstruction_error(self, V, rng):
        """Per-sample squared reconstruction error (N,) float64 of standardised ``V``:
        ``h ~ P(h|v)``, ``v' = E[v | h]``, ``mean_i (v_i - v'_i)^2`` (standardised units)."""
        V = self._real(V)
        _, H = self.sample_hidden(V, rng)
        R = self.visible_mean(H)
        return np.mean((V.astype(np.float64) - R) ** 2, axis=1)

    def visible_log_density(self, V, H):
        """``log p(v | h)`` (N,) float64 of standardised ``V`` given hidden states or
        probabilities ``H`` (N, nh), summed over pixels."""
        M = self.visible_mean(H).astype(np.float64)
        ls = self.log_sigma.astype(np.float64)
        Z = (self._real(V).astype(np.float64) - M) / np.exp(ls)
        return -0.5 * np.einsum("ij,ij->i", Z, Z) - ls.sum() - self.n_visible * HALF_LOG_2PI


def _column(beta, n, dtype):
    """``beta`` as a scalar or an (n, 1) column of ``dtype``."""
    if np.ndim(beta) == 0:
        return dtype.type(beta)
    return np.asarray(beta, dtype).reshape(n, 1)


def _sigmoid(x):
    """Logistic sigmoid without overflow warnings, in ``x``'s dtype."""
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(x.dtype, copy=False)
