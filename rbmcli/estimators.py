"""A scikit-learn drop-in :class:`BernoulliRBM` trained with the library's Numba kernels.

``from rbmcli.estimators import BernoulliRBM`` replaces
``from sklearn.neural_network import BernoulliRBM``: the same constructor parameters and
defaults, the same fitted attributes and methods, the same training algorithm (PCD-1
with the persistent chains kept as hidden states ``h_samples_``, real-valued inputs used
as probabilities in the positive phase), but

* ``fit`` runs the library's kernels: binary batches (every value 0 or 1) go through
  :func:`rbmcli.kernels.rbm.gradients.apply_update` (gather-adds over the active pixels), other
  batches through dense BLAS products; the negative phase (``v ~ P(v | h_samples_)``,
  ``P(h | v)``, ``h ~ Bernoulli``) always runs in :mod:`rbmcli.kernels.rbm.halfsteps`;
* ``score_samples`` is the *exact* pseudo-log-likelihood ``sum_i log P(v_i | v_-i)``
  (sklearn's estimate flips one random unit and scales by ``n_features``: the same
  expectation, but random), so a sample's score does not depend on the others;
* options of ``rbm train`` (``method``, ``k``, ``n_temperatures``, ``momentum``,
  ``centering``, ``l1``, ``l2``, ``n_jobs``) whose defaults give sklearn's algorithm;
* :meth:`BernoulliRBM.sample`, :meth:`~BernoulliRBM.log_likelihood`,
  :meth:`~BernoulliRBM.inpaint`, :meth:`~BernoulliRBM.save` and
  :meth:`~BernoulliRBM.load` (the ``rbm`` model file, so ``rbm sample -m`` reads it).

Random numbers. Parameters are initialised from the ``RandomState`` as sklearn does
(``components_`` equals sklearn's for an integer seed). Each update then draws one
64-bit key per chain from that ``RandomState``, and the kernels derive every uniform
from ``(key, step, unit)`` (:mod:`rbmcli.kernels.rng`). So the Bernoulli draws do not depend
on the dtype (float32 and float64 fits draw the same states wherever their
probabilities agree), on the thread count, or on whether a batch went through the
binary or the dense path; they differ from sklearn's own stream, so the fitted weights
are sklearn's in distribution, not bit for bit.

scikit-learn is an optional dependency of ``rbm`` (``pip install rbm[sklearn]``); this
module is the only one that imports it.
"""

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral, Real

import numba
import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                          _fit_context)
from sklearn.utils import check_random_state, gen_even_slices
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from rbmcli.io.modelfile import ModelFile, load_model, save_model
from rbmcli.kernels.rbm.conditionals import hidden_probs_binary
from rbmcli.kernels.rbm.estimator import bernoulli_states, pseudo_log_likelihood
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.kernels.rbm.halfsteps import hidden_step, visible_step
from rbmcli.kernels.rbm.tempering import pt_sweep, pt_swap_pass
from rbmcli.models.rbm import BernoulliRBM as _RBM
from rbmcli.sampling.bernoulli import SAMPLERS, noise
from rbmcli.sampling.inpainting import complete
from rbmcli.scoring.bernoulli import PartitionOptions, estimate_log_partition
from rbmcli.scoring.partition import EXACT_MAX_UNITS
from rbmcli.threads import choose_threads



__all__ = ["BernoulliRBM", "LogLikelihood"]

CENTERING_SLIDE = 0.01
"""How far the hidden offset of the centered gradient moves towards each batch's mean
of ``P(h | v)`` (as :data:`rbmcli.training.rbm.CENTERING_SLIDE`)."""
VERBOSE_ROWS = 1000
"""The verbose line's pseudo-likelihood is the mean over at most this many rows of the
training data (evenly spaced): the exact score costs ``n_features * n_components``
softplus evaluations per row."""
_PLL_CHUNK = 256  # rows per pseudo-likelihood kernel call (bounds the float64 copies)


def _keys(rng, n):
    """(n,) uint64 keys for the counter-based kernels, from a ``RandomState``."""
    return np.frombuffer(rng.bytes(8 * n), dtype=np.uint64).copy()


def _generator(random_state):
    """A ``numpy.random.Generator`` seeded from sklearn's ``random_state``."""
    return np.random.default_rng(check_random_state(random_state).randint(0, 2 ** 31 - 1))


def _is_binary(X):
    """True when every stored value of ``X`` (dense or sparse) is 0 or 1."""
    data = X.data if sp.issparse(X) else X
    return bool(((data == 0) | (data == 1)).all())


def _dense_rows(X, rows, dtype=None):
    """Rows ``rows`` (a slice) of ``X`` as a C-contiguous dense array."""
    part = X[rows]
    part = part.toarray() if sp.issparse(part) else part
    return np.ascontiguousarray(part, dtype=dtype or part.dtype)


@contextmanager
def _threads(n_jobs):
    """Limit Numba's and BLAS's threads to ``n_jobs`` inside the block, restoring the
    previous Numba count after it. ``None``: :func:`rbmcli.threads.choose_threads`
    (``$RBM_THREADS``, else the cores the load average leaves free); negative values
    count back from all cores as in scikit-learn (-1: all)."""
    available = numba.config.NUMBA_NUM_THREADS
    if n_jobs is not None and n_jobs < 0:
        n_jobs = max(1, available + 1 + n_jobs)
    n, _ = choose_threads(n_jobs)
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        numba.set_num_threads(before)


@dataclass
class LogLikelihood:
    """The result of :meth:`BernoulliRBM.log_likelihood`.

    Attributes
    ----------
    per_sample : ndarray of shape (n_samples,)
        ``log P(x) = -F(x) - log Z`` of each row, with the central estimate of log Z.
    mean : float
        Their mean.
    log_z : float
        log Z (exact, or the forward AIS estimate).
    method : str
        ``"exact"`` (enumeration) or ``"ais"``.
    lower, upper : float
        A bracket on ``mean``: exact: both equal ``mean``. AIS: ``upper`` uses the
        forward estimate's lower bound on log Z (``log_z_lo``, forward AIS under-estimates
        log Z), ``lower`` the reverse AIS estimate's upper bound (``log_z_reverse_hi``);
        without the reverse run, ``lower`` is from the forward ``log_z_hi`` (not a
        bound). Both are stochastic bounds (see :mod:`rbmcli.scoring.partition`).
    details : dict
        Everything :func:`rbmcli.scoring.bernoulli.estimate_log_partition` returned.
    """

    per_sample: np.ndarray = field(repr=False)
    mean: float
    log_z: float
    method: str
    lower: float
    upper: float
    details: dict = field(default_factory=dict, repr=False)


class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli Restricted Boltzmann Machine, trained by the ``rbm`` kernels.

    A drop-in replacement for :class:`sklearn.neural_network.BernoulliRBM`: with the
    default options it runs the same algorithm (persistent contrastive divergence with
    one Gibbs sweep per update, no momentum, the chains kept as hidden states, the
    positive phase on the real-valued inputs), several times faster.

    Parameters
    ----------
    n_components : int, default=256
        Number of binary hidden units.
    learning_rate : float, default=0.1
        Learning rate of the updates: the gradient of a batch is its sum divided by the
        batch's number of rows, as in scikit-learn.
    batch_size : int, default=10
        Rows per mini-batch (and number of persistent chains).
    n_iter : int, default=10
        Passes over the training data.
    verbose : int, default=0
        When non-zero, print ``[BernoulliRBM] Iteration i, pseudo-likelihood = ..., time
        = ...s`` after each pass (the mean pseudo-likelihood of at most
        :data:`VERBOSE_ROWS` evenly spaced training rows).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the keys of every update's Bernoulli draws.
    method : {"pcd", "cd", "pt"}, default="pcd"
        Negative phase: ``"pcd"`` ``k`` Gibbs sweeps of the persistent chains
        (scikit-learn's SML); ``"cd"`` ``k`` sweeps started from the batch (the hidden
        states drawn from ``P(h | v)`` of the data); ``"pt"`` parallel tempering of the
        persistent chains at ``n_temperatures`` inverse temperatures from 1 to 0,
        ``k`` sweeps and swap passes per update, statistics from the beta = 1 chains.
    k : int, default=1
        Gibbs sweeps (or PT sweeps) per update.
    n_temperatures : int, default=10
        Temperatures of ``method="pt"``.
    momentum : float, default=0.0
        Momentum of the updates, ``vel = momentum * vel + learning_rate * grad``.
    centering : bool, default=False
        Centered gradient (offsets: the data mean, and a running mean of ``P(h | v)``);
        with it, each phase's statistics are averaged over that phase's rows.
    l1, l2 : float, default=0.0
        Laplace and Gaussian prior strengths on the weights (weight decay).
    n_jobs : int or None, default=None
        Threads of the kernels and of BLAS during ``fit``, ``partial_fit`` and
        ``score_samples``. None: ``$RBM_THREADS``, else the cores that the load average
        says are free; -1: all cores.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix ``W.T`` (Fortran-ordered: a view of the kernels' ``W``).
    intercept_hidden_ : ndarray of shape (n_components,)
        Biases of the hidden units.
    intercept_visible_ : ndarray of shape (n_features,)
        Biases of the visible units.
    h_samples_ : ndarray of shape (batch_size, n_components)
        Hidden states of the persistent chains (0.0 or 1.0).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string feature names.

    Examples
    --------
    >>> import numpy as np
    >>> from rbmcli.estimators import BernoulliRBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = BernoulliRBM(n_components=2).fit(X)
    >>> model.transform(X).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "method": [StrOptions({"cd", "pcd", "pt"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "n_temperatures": [Interval(Integral, 2, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "centering": ["boolean"],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [None, Integral],
    }

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10,
                 verbose=0, random_state=None, method="pcd", k=1, n_temperatures=10,
                 momentum=0.0, centering=False, l1=0.0, l2=0.0, n_jobs=None):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.n_temperatures = n_temperatures
        self.momentum = momentum
        self.centering = centering
        self.l1 = l1
        self.l2 = l2
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ sklearn API
    def transform(self, X):
        """Compute the hidden layer activation probabilities, ``P(h=1|v=X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data to be transformed.

        Returns
        -------
        h : ndarray of shape (n_samples, n_components)
            Latent representations of the data (float32 for float32 input).
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False,
                          dtype=(np.float64, np.float32))
        return self._mean_hiddens(X)

    def _mean_hiddens(self, v):
        """``P(h=1|v)``, shape (n_samples, n_components), for ``v`` (n_samples,
        n_features) dense or sparse."""
        p = safe_sparse_dot(v, self.components_.T)
        p += self.intercept_hidden_
        return expit(p, out=p)

    def _sample_hiddens(self, v, rng):
        """Boolean draw of ``h ~ P(h|v)``, shape (n_samples, n_components), from the
        ``RandomState`` ``rng``."""
        p = self._mean_hiddens(v)
        return rng.uniform(size=p.shape) < p

    def _sample_visibles(self, h, rng):
        """Boolean draw of ``v ~ P(v|h)``, shape (n_samples, n_features), from the
        ``RandomState`` ``rng``."""
        p = np.dot(h, self.components_)
        p += self.intercept_visible_
        expit(p, out=p)
        return rng.uniform(size=p.shape) < p

    def _free_energy(self, v):
        """Free energy ``F(v) = -log sum_h exp(-E(v, h))``, shape (n_samples,)."""
        return -safe_sparse_dot(v, self.intercept_visible_) - np.logaddexp(
            0, safe_sparse_dot(v, self.components_.T) + self.intercept_hidden_).sum(axis=1)

    def gibbs(self, v):
        """Perform one Gibbs sampling step ``h ~ P(h|v)``, ``v' ~ P(v|h)``.

        Parameters
        ----------
        v : ndarray of shape (n_samples, n_features)
            Values of the visible layer to start from.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Boolean values of the visible layer after one Gibbs step.
        """
        check_is_fitted(self)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        h_ = self._sample_hiddens(v, self.random_state_)
        return self._sample_visibles(h_, self.random_state_)

    def score_samples(self, X):
        """Exact pseudo-log-likelihood of each row.

        ``sum_i log sigmoid(F(x~i) - F(x))`` over all features ``i``, where ``x~i`` is
        ``x`` with ``x_i`` replaced by ``1 - x_i``; for binary rows this is
        ``sum_i log P(x_i | x_-i)``. scikit-learn's estimator returns ``n_features``
        times the term of one random feature, whose expectation this is. Deterministic,
        computed in float64 without overflow.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Values of the visible layer (binary, or probabilities in [0, 1]).

        Returns
        -------
        pseudo_likelihood : ndarray of shape (n_samples,)
            float64.
        """
        check_is_fitted(self)
        v = validate_data(self, X, accept_sparse="csr", reset=False)
        with _threads(self.n_jobs):
            return self._pseudo_likelihood(v)

    def _pseudo_likelihood(self, v):

        W = np.ascontiguousarray(self.components_.T, np.float64)
        b = np.ascontiguousarray(self.intercept_visible_, np.float64)
        c = np.ascontiguousarray(self.intercept_hidden_, np.float64)
        out = np.empty(v.shape[0], np.float64)
        for start in range(0, v.shape[0], _PLL_CHUNK):
            rows = slice(start, start + _PLL_CHUNK)
            pseudo_log_likelihood(_dense_rows(v, rows, np.float64), W, b, c, out[rows])
        return out

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Fit the model to the partial segment of the data X (one update).

        The first call initialises the parameters (``components_`` from
        ``N(0, 0.01^2)``, zero biases, zero chains) and keeps the data's dtype (float32
        or float64); later calls cast ``X`` to it. Momentum buffers, PT replicas and
        centering offsets carry over from call to call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, values in [0, 1].
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : BernoulliRBM
            The fitted model.
        """
        first_pass = not hasattr(self, "components_")
        dtype = (np.float64, np.float32) if first_pass else self.components_.dtype
        X = validate_data(self, X, accept_sparse="csr", dtype=dtype, reset=first_pass)
        if not hasattr(self, "random_state_"):
            self.random_state_ = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X, self.random_state_)
        self._fit(X, self.random_state_)
        return self

    def _fit(self, v_pos, rng):
        """One update from the mini-batch ``v_pos`` (n_samples, n_features), with the
        ``RandomState`` ``rng`` (the inner step of ``fit``, as in scikit-learn)."""
        with _threads(self.n_jobs):
            trainer = _Trainer(self, v_pos, rng)
            trainer.update(slice(None))
            trainer.store()

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to the data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, values in [0, 1] (binary data take the fast kernels).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : BernoulliRBM
            The fitted model.
        """
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32))
        n_samples = X.shape[0]
        rng = check_random_state(self.random_state)
        self._initialize(X, rng)
        n_batches = int(np.ceil(float(n_samples) / self.batch_size))
        batch_slices = list(gen_even_slices(n_batches * self.batch_size, n_batches,
                                            n_samples=n_samples))
        begin = time.time()
        with _threads(self.n_jobs):
            trainer = _Trainer(self, X, rng)
            for iteration in range(1, self.n_iter + 1):
                for batch_slice in batch_slices:
                    trainer.update(batch_slice)
                if self.verbose:
                    trainer.store()
                    end = time.time()
                    rows = np.unique(np.linspace(0, n_samples - 1, min(n_samples, VERBOSE_ROWS))
                                     .astype(np.intp))
                    score = self._pseudo_likelihood(X[rows]).mean()
                    print("[%s] Iteration %d, pseudo-likelihood = %.2f, time = %.2fs"
                          % (type(self).__name__, iteration, score, end - begin))
                    begin = end
            trainer.store()
        return self

    def _initialize(self, X, rng):
        """Fresh parameters and chains for data ``X`` (sklearn's initialisation) and no
        training state."""
        dtype = X.dtype
        self.components_ = np.asarray(rng.normal(0, 0.01, (self.n_components, X.shape[1])),
                                      order="F", dtype=dtype)
        self._n_features_out = self.components_.shape[0]
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self.intercept_visible_ = np.zeros(X.shape[1], dtype=dtype)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components), dtype=dtype)
        self._train_state = {}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"preserves_dtype": [np.float64, np.float32]}

    # ------------------------------------------------------------------ beyond sklearn
    def _library_model(self):
        """The fitted parameters as a :class:`rbmcli.models.rbm.BernoulliRBM`, sharing the
        estimator's arrays when their layout allows (training then changes them in
        place, as scikit-learn's ``+=`` does)."""
        check_is_fitted(self)
        dtype = self.components_.dtype
        return _RBM(np.ascontiguousarray(self.components_.T, dtype),
                    np.asarray(self.intercept_visible_, dtype),
                    np.asarray(self.intercept_hidden_, dtype))

    def sample(self, n_samples=1, n_steps=1000, method="gibbs", n_temperatures=10,
               random_state=None, return_probabilities=False):
        """Draw samples from the model, chains started from white noise.

        Parameters
        ----------
        n_samples : int, default=1
            Number of independent chains.
        n_steps : int, default=1000
            Gibbs sweeps (``"gibbs"``, ``"pt"``) or fixed-point iterations (``"mf"``).
        method : {"gibbs", "pt", "mf"}, default="gibbs"
            :data:`rbmcli.sampling.bernoulli.SAMPLERS`: block Gibbs, parallel tempering, or
            mean-field.
        n_temperatures : int, default=10
            Replicas per chain of ``"pt"``.
        random_state : int, RandomState instance or None, default=None
        return_probabilities : bool, default=False
            Return ``P(v = 1 | h)`` of the final hidden states (grey images) instead of
            the binary states.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Binary states (0.0/1.0) or probabilities, ``components_``'s dtype.
        """

        model = self._library_model()
        if method not in SAMPLERS:
            raise ValueError(f"method must be one of {sorted(SAMPLERS)}, found {method!r}")
        rng = _generator(random_state)
        with _threads(self.n_jobs):
            result = SAMPLERS[method](model, noise(int(n_samples), model.n_visible, rng),
                                      int(n_steps), rng, replicas=int(n_temperatures))
        out = result.images if return_probabilities else result.states
        return np.asarray(out, dtype=model.dtype)

    def inpaint(self, X, known_mask, n_steps=1000, method="gibbs", n_samples=10,
                n_temperatures=10, random_state=None):
        """Fill in the unknown features of each row given the known ones.

        Runs :func:`rbmcli.sampling.inpainting.complete`: ``n_samples`` chains per row with the
        known features clamped, unknown ones started from ``Bernoulli(sigmoid(b))``,
        and returns the posterior mean of the unknown features.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Rows whose known features hold values in [0, 1] (thresholded at 0.5).
        known_mask : array-like of shape (n_samples_X, n_features) or (n_features,)
            True where a feature is known.
        n_steps : int, default=1000
        method : {"gibbs", "pt", "mf"}, default="gibbs"
        n_samples : int, default=10
            Chains per row.
        n_temperatures : int, default=10
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X_filled : ndarray of shape (n_samples_X, n_features)
            float64: known features as given (0/1), unknown ones their posterior mean
            ``P(v_i = 1 | known)`` estimated by the chains.
        """

        model = self._library_model()
        X = validate_data(self, X, reset=False, dtype=np.float64)
        known = np.asarray(known_mask, dtype=bool)
        known = np.broadcast_to(known, X.shape)
        bits = (X >= 0.5).astype(np.uint8)
        start = expit(np.asarray(self.intercept_visible_, np.float64))
        with _threads(self.n_jobs):
            _, mean, _ = complete(model, model.samplers[method], bits, known, int(n_steps),
                                  int(n_samples), _generator(random_state),
                                  replicas=int(n_temperatures), start=start)
        return np.where(known, bits, mean).astype(np.float64)

    def log_likelihood(self, X, *, method=None, bracket=True, ais_runs=100,
                       ais_steps=14500, reverse_burn_in=10000, seed=0):
        """Log-likelihood ``log P(x) = -F(x) - log Z`` of each row.

        log Z is exact (enumerating the smaller layer) when ``min(n_features,
        n_components) <= 20``, else estimated by annealed importance sampling from a
        base-rate model of ``X`` (:func:`rbmcli.scoring.bernoulli.estimate_log_partition`, the
        code of ``rbm score --ll``), with a reverse-AIS bracket.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Binary rows (values >= 0.5 count as 1 for the AIS base rates and starts).
        method : {"exact", "ais"} or None, default=None
            None: exact when feasible.
        bracket : bool, default=True
            With AIS, also run reverse AIS from Gibbs chains started at ``X`` (a
            stochastic upper bound on log Z, so a lower bound on the log-likelihood).
        ais_runs, ais_steps, reverse_burn_in, seed : int
            AIS settings (as ``rbm score --runs --steps --reverse-burn-in --seed``).

        Returns
        -------
        LogLikelihood
            ``per_sample`` (n_samples,), ``mean``, ``log_z``, ``method`` and the
            bracket ``lower``, ``upper`` on the mean.
        """

        model = self._library_model()
        X = validate_data(self, X, accept_sparse="csr", reset=False, dtype=np.float64)
        X = X.toarray() if sp.issparse(X) else X
        bits = (X >= 0.5).astype(np.uint8)
        if method is None:
            small = min(model.n_visible, model.n_hidden) <= EXACT_MAX_UNITS
            method = "exact" if small else "ais"
        # (the library's bracket option would also run AIS beside an exact log Z)
        opts = PartitionOptions(method=method, bracket=bracket and method == "ais",
                                runs=int(ais_runs), steps=int(ais_steps), seed=int(seed),
                                reverse_burn_in=int(reverse_burn_in), use_cache=False)
        with _threads(self.n_jobs):
            info = estimate_log_partition(model, opts, bits, bits)
        neg_f = -self._free_energy(X).astype(np.float64)
        log_z = float(info["log_z"])
        per = neg_f - log_z
        mean = float(per.mean())
        if info["log_z_method"] == "exact":
            lower = upper = mean
        else:
            upper = float(neg_f.mean() - info["log_z_lo"])
            hi = info.get("log_z_reverse_hi", info["log_z_hi"])
            lower = float(neg_f.mean() - hi)
        return LogLikelihood(per_sample=per, mean=mean, log_z=log_z,
                             method=info["log_z_method"], lower=lower, upper=upper,
                             details=info)

    def save(self, path, image_shape=None):
        """Write the model as an ``rbm`` model file (HDF5, :mod:`rbmcli.io.modelfile`).

        ``rbm info``, ``rbm sample -m PATH``, ``rbm score`` and ``rbm inpaint`` read it;
        :meth:`load` restores the estimator (parameters, ``h_samples_``, constructor
        parameters).

        Parameters
        ----------
        path : str or path-like
        image_shape : tuple (rows, cols), optional
            Shape of one image, ``rows * cols == n_features``; default: square when
            ``n_features`` is a perfect square, else ``(1, n_features)``.
        """

        model = self._library_model()
        nv = model.n_visible
        if image_shape is None:
            side = math.isqrt(nv)
            image_shape = (side, side) if side * side == nv else (1, nv)
        params = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else None)
                  for k, v in self.get_params().items()}
        hyper = {"estimator": "rbmcli.estimators.BernoulliRBM", "estimator_params": params,
                 # the keys `rbm info` shows (rbmcli.training.rbm.TrainOptions)
                 "n_hidden": int(self.n_components), "method": self.method,
                 "steps": int(self.k), "epochs": int(self.n_iter),
                 "batch_size": int(self.batch_size), "lr": float(self.learning_rate),
                 "momentum": float(self.momentum), "l1": float(self.l1),
                 "l2": float(self.l2), "centering": bool(self.centering),
                 "seed": params["random_state"], "dtype": str(model.dtype)}
        state = {"h_samples": np.asarray(self.h_samples_)}
        save_model(path, ModelFile(model=model, hyperparameters=hyper,
                                   image_shape=tuple(int(s) for s in image_shape),
                                   binarization="threshold", state=state,
                                   epoch=int(self.n_iter)))

    @classmethod
    def load(cls, path):
        """Read an ``rbm`` model file of a Bernoulli RBM (written by :meth:`save` or by
        ``rbm train``) as a fitted estimator.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        BernoulliRBM
        """

        mf = load_model(path)
        model = mf.model
        if getattr(model, "model_type", None) != _RBM.model_type:
            raise ValueError(f"{path} holds a {getattr(model, 'model_type', '?')} model, "
                             "not a Bernoulli RBM")
        hyper = mf.hyperparameters
        params = dict(hyper.get("estimator_params") or {})
        if not params:  # a file written by `rbm train`
            mapping = {"lr": "learning_rate", "batch_size": "batch_size", "epochs": "n_iter",
                       "method": "method", "steps": "k", "momentum": "momentum",
                       "l1": "l1", "l2": "l2", "centering": "centering",
                       "seed": "random_state"}
            params = {new: hyper[old] for old, new in mapping.items() if old in hyper}
            if params.get("method") == "pt":
                params["n_temperatures"] = max(2, params.pop("k", 10))
        valid = cls().get_params()
        params = {k: v for k, v in params.items() if k in valid}
        params["n_components"] = model.n_hidden
        est = cls(**params)
        est.components_ = np.asarray(model.weights).T
        est.intercept_visible_ = np.asarray(model.visible_bias)
        est.intercept_hidden_ = np.asarray(model.hidden_bias)
        h = mf.state.get("h_samples")
        if h is None or np.shape(h) != (est.batch_size, model.n_hidden):
            h = np.zeros((est.batch_size, model.n_hidden))
        est.h_samples_ = np.asarray(h, model.dtype)
        est.n_features_in_ = model.n_visible
        est._n_features_out = model.n_hidden
        est._train_state = {}
        return est


class _Trainer:
    """The updates of one ``fit`` or ``partial_fit`` call on the data ``X``.

    Holds a :class:`rbmcli.models.rbm.BernoulliRBM` copy of the estimator's parameters (so
    the kernels get their aligned layouts and the tiled transpose once per call), the
    chains as uint8 states, and the training state the estimator keeps between calls
    (momentum, PT replicas, centering offsets); :meth:`store` writes all of it back.
    """

    def __init__(self, est, X, rng):
        self.est = est
        self.rng = rng
        self.X = X
        self.model = est._library_model()
        m = self.model
        dtype = m.dtype
        self.dt = dtype.type
        # binary data take the uint8 kernels; the check is made once for all of X
        self.binary = _is_binary(X)
        self.Xb = None
        if self.binary and not sp.issparse(X):
            self.Xb = np.ascontiguousarray(X, dtype=np.uint8)
        st = est.__dict__.setdefault("_train_state", {})
        self.st = st
        h = np.asarray(est.h_samples_)
        if h.shape != (est.batch_size, m.n_hidden):
            h = np.zeros((est.batch_size, m.n_hidden))
        self.H = np.ascontiguousarray(h >= 0.5, dtype=np.uint8)
        for name, like in (("vel_w", m.weights), ("vel_b", m.visible_bias),
                           ("vel_c", m.hidden_bias)):
            if name not in st or st[name].shape != like.shape or st[name].dtype != dtype:
                st[name] = np.zeros_like(like)
        self.vel = (np.ascontiguousarray(st["vel_w"]), np.ascontiguousarray(st["vel_b"]),
                    np.ascontiguousarray(st["vel_c"]))
        self.no_offsets = (np.zeros(0, dtype), np.zeros(0, dtype))
        if est.centering:
            if "offset_visible" not in st:
                mean = np.asarray(X.mean(axis=0)).ravel()
                st["offset_visible"] = np.ascontiguousarray(mean, dtype)
                st["offset_hidden"] = np.full(m.n_hidden, 0.5, dtype)
            self.mu = np.ascontiguousarray(st["offset_visible"], dtype)
            self.lam = np.ascontiguousarray(st["offset_hidden"], dtype)
        self.scalars = (self.dt(est.learning_rate), self.dt(est.momentum), self.dt(est.l2),
                        self.dt(est.l1))
        self.no_clamp = np.zeros((0, m.n_visible), np.uint8)
        self.no_vprobs = np.empty((0, m.n_visible), dtype)
        self.betas = np.ones(est.batch_size, dtype)

    # ------------------------------------------------------------------ one update
    def update(self, rows):
        """One update from the rows ``rows`` (a slice) of the data."""

        m, est = self.model, self.est
        if self.Xb is not None:
            v_pos = self.Xb[rows]
        else:
            v_pos = _dense_rows(self.X, rows, np.uint8 if self.binary else m.dtype)
        n_pos = v_pos.shape[0]
        if self.binary:
            hp_pos = np.empty((n_pos, m.n_hidden), m.dtype)
            hidden_probs_binary(v_pos, m._weights, m.hidden_bias, hp_pos)
        else:
            hp_pos = v_pos @ m._weights
            hp_pos += m.hidden_bias
            expit(hp_pos, out=hp_pos)
        if est.method == "pt":
            v_neg, hp_neg = self._tempering()
        else:
            if est.method == "cd":
                keys = _keys(self.rng, n_pos)
                H = np.empty((n_pos, m.n_hidden), np.uint8)
                bernoulli_states(hp_pos, keys, 0, H)
            else:
                keys = _keys(self.rng, self.H.shape[0])
                H = self.H
            v_neg, hp_neg = self._sweeps(H, keys)
            if H.shape == self.H.shape:
                self.H = H
        offsets = self._offsets(hp_pos)
        if self.binary:
            self._apply_binary(v_pos, hp_pos, v_neg, hp_neg, offsets)
        else:
            self._apply_dense(v_pos, hp_pos, v_neg, hp_neg, offsets)

    def _sweeps(self, H, keys):
        """``k`` sweeps ``v ~ P(v|h)``, ``h ~ P(h|v)`` from the hidden states ``H``
        (updated in place: the last draw ``h ~ Bernoulli(P(h|v_neg))``); returns
        ``v_neg`` (n, nv) uint8 and ``P(h|v_neg)`` (n, nh)."""

        m = self.model
        n = H.shape[0]
        betas = self.betas if n == self.betas.shape[0] else np.ones(n, m.dtype)
        V = np.empty((n, m.n_visible), np.uint8)
        A = np.empty((n, m.n_hidden), m.dtype)
        HP = np.empty((n, m.n_hidden), m.dtype)
        for t in range(self.est.k):
            visible_step(H, m._weights_tiles, m.visible_bias, betas, keys, 2 * t + 1,
                         self.no_clamp, V, self.no_vprobs, self.no_clamp)
            hidden_step(V, V, m._weights, m.hidden_bias, betas, keys, 2 * t + 2, A, HP, H,
                        False)
        return V, HP

    def _tempering(self):
        """``k`` PT sweeps and swap passes of the persistent replicas; returns the beta =
        1 chains' states (n, nv) uint8 and ``P(h|v)`` of them."""

        m, est, st = self.model, self.est, self.st
        n = self.H.shape[0]
        n_temps = est.n_temperatures
        betas = np.linspace(1.0, 0.0, n_temps).astype(m.dtype)
        if st.get("replica_hidden") is None or st["replica_hidden"].shape != (
                n_temps * n, m.n_hidden):
            st["replica_hidden"] = np.ascontiguousarray(np.tile(self.H, (n_temps, 1)))
            st["replica_visible"] = np.zeros((n_temps * n, m.n_visible), np.uint8)
            st["swap_parity"] = 0
        V, H = st["replica_visible"], st["replica_hidden"]
        betas_rep = np.repeat(betas, n)
        E = np.empty(n_temps * n, np.float64)
        HP = np.empty((n_temps * n, m.n_hidden), m.dtype)
        counts = np.zeros((2, n_temps - 1), np.int64)
        for _ in range(est.k):
            pt_sweep(V, H, m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias,
                     betas_rep, _keys(self.rng, n_temps * n), E, HP)
            pt_swap_pass(V, H, E, betas, n, _keys(self.rng, 1)[0], int(st["swap_parity"]),
                         counts[0], counts[1])
            st["swap_parity"] = int(st["swap_parity"]) ^ 1
        v_neg = np.ascontiguousarray(V[:n])
        hp_neg = np.empty((n, m.n_hidden), m.dtype)
        hidden_probs_binary(v_neg, m._weights, m.hidden_bias, hp_neg)
        self.H = np.ascontiguousarray(H[:n])
        return v_neg, hp_neg

    def _offsets(self, hp_pos):
        """(mu, lam) of the centered gradient (the hidden offset first slides towards
        this batch's mean of ``P(h|v+)``), or empty arrays."""
        if not self.est.centering:
            return self.no_offsets
        self.lam += self.dt(CENTERING_SLIDE) * (hp_pos.mean(axis=0, dtype=self.lam.dtype)
                                                 - self.lam)
        return self.mu, self.lam

    def _apply_binary(self, v_pos, hp_pos, v_neg, hp_neg, offsets):
        """:func:`rbmcli.kernels.rbm.gradients.apply_update` with sklearn's scaling.

        The kernel averages each phase over its own rows; scikit-learn divides both
        sums by the number of *data* rows. When the two differ (a short last batch,
        ``partial_fit`` on a block), ``P(h|v-)`` is scaled by ``n_neg / n_pos`` (which
        fixes the weight and hidden-bias gradients exactly) and the visible-bias step
        is corrected afterwards (in the velocity too, so momentum stays exact). With
        centering the kernel's per-phase means are kept."""

        m = self.model
        n_pos, n_neg = v_pos.shape[0], v_neg.shape[0]
        fix = n_pos != n_neg and not self.est.centering
        if fix:
            hp_neg = hp_neg * self.dt(n_neg / n_pos)
        apply_update(m._weights, m._weights_tiles, m.visible_bias, m.hidden_bias, *self.vel,
                     v_pos, hp_pos, v_neg, hp_neg, *self.scalars, *offsets)
        if fix:
            corr = (self.scalars[0] * (1.0 / n_neg - 1.0 / n_pos)
                    * v_neg.sum(axis=0, dtype=np.float64)).astype(m.dtype)
            np.add(self.vel[1], corr, out=self.vel[1])
            np.add(m.visible_bias, corr, out=m.visible_bias)

    def _apply_dense(self, v_pos, hp_pos, v_neg, hp_neg, offsets):
        """The same update with BLAS products, for real-valued ``v_pos`` (n_pos, nv).

        ``grad_W = (v+^T P(h|v+) - v-^T P(h|v-)) / n_pos`` (per-phase means with
        centering), minus the priors, through the centered correction and momentum
        exactly as :func:`rbmcli.kernels.rbm.gradients.apply_update` does."""
        m, est = self.model, self.est
        dt = self.dt
        lr, momentum, l2, l1 = self.scalars
        n_pos, n_neg = v_pos.shape[0], v_neg.shape[0]
        inv_pos = dt(1.0 / n_pos)
        inv_neg = dt(1.0 / n_neg) if est.centering else inv_pos
        v_n = v_neg.astype(m.dtype)
        W, b, c = m._weights, m.visible_bias, m.hidden_bias
        g_w = v_pos.T @ hp_pos
        g_w *= inv_pos
        g_w -= (v_n.T @ hp_neg) * inv_neg
        g_b = v_pos.sum(axis=0) * inv_pos - v_n.sum(axis=0) * inv_neg
        g_c = hp_pos.sum(axis=0) * inv_pos - hp_neg.sum(axis=0) * inv_neg
        if l2:
            g_w -= l2 * W
        if l1:
            g_w -= l1 * np.sign(W)
        mu, lam = offsets
        if mu.shape[0]:
            g_w -= np.outer(mu, g_c) + np.outer(g_b, lam)
            g_b = g_b - g_w @ lam
            g_c = g_c - g_w.T @ mu
        for param, vel, grad in ((W, self.vel[0], g_w), (b, self.vel[1], g_b),
                                 (c, self.vel[2], g_c)):
            vel *= momentum
            vel += lr * grad.astype(m.dtype, copy=False)
            param += vel
        m._refresh_tiles()  # W changed in place: rewrite its tiled transpose

    # ------------------------------------------------------------------ write back
    def store(self):
        """Write the parameters, chains and training state back into the estimator."""
        m, est, st = self.model, self.est, self.st
        est.components_ = m.weights.T
        est.intercept_hidden_ = m.hidden_bias
        est.intercept_visible_ = m.visible_bias
        est.h_samples_ = self.H.astype(m.dtype)
        st["vel_w"], st["vel_b"], st["vel_c"] = self.vel
        if est.centering:
            st["offset_hidden"] = self.lam
