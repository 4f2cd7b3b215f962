"""The one interface every model implements, and the error for what a model cannot do.

Every model (:class:`~rbmcli.models.rbm.BernoulliRBM`, :class:`~rbmcli.models.grbm.GaussianRBM`,
:class:`~rbmcli.models.dbn.DBN` and :class:`~rbmcli.flows.model.FlowModel`) is a
:class:`Model`. Callers, the ``rbm`` commands included, ask a model what it can do and
never what kind it is:

* what it is: :attr:`Model.kind` (the file's ``model_type``), ``n_visible``, ``dtype`` and
  :attr:`Model.image_shape`; how it reads grey pixels: :attr:`Model.binarization`;
* what it can do, all in **pixel units** (grey levels in [0, 1], shape (N, n_visible)):
  :meth:`Model.sample`, :meth:`Model.inpaint`, :meth:`Model.score`,
  :meth:`Model.transform`, :meth:`Model.filters`, :meth:`Model.describe`, and for a
  model with label units (:attr:`Model.classes`) :meth:`Model.classify`;
* how it is stored: :mod:`rbmcli.io.modelfile` keeps one registry from ``model_type`` to
  the reader and writer of its arrays.

A capability (or an option of one) that a model lacks raises :class:`NotSupported`, which
the command line prints as its usual one-line error.
"""

import hashlib
from dataclasses import dataclass, field

import numpy as np

from rbmcli.errors import InputError, NotSupported  # noqa: F401 (part of the interface)
from rbmcli.pixels import as_unit_float


def refuse(option, value, why):
    """Raise :class:`NotSupported` for ``option`` when ``value`` is not None."""
    if value is not None:
        raise NotSupported(why, option)


@dataclass
class Inpainting:
    """What :meth:`Model.inpaint` returns.

    Attributes
    ----------
    completions : (n, samples, n_visible) float in [0, 1]
        Every image filled ``samples`` times; known pixels hold their value.
    mean : (n, n_visible) float64 in [0, 1]
        The posterior mean of every image (the fill with the least expected squared error).
    observed : (n, n_visible) float
        The images as the model saw them (binarised for binary models), unknown pixels
        included.
    notes : list of str
        Lines for the user (acceptance rates, step sizes).
    """

    completions: np.ndarray
    mean: np.ndarray
    observed: np.ndarray
    notes: list = field(default_factory=list)


class Model:
    """What every model can be asked (see the module docstring).

    Subclasses set :attr:`kind` and implement the capabilities they have; the others
    raise :class:`NotSupported`. ``image_shape``, ``binarization`` and ``data_mean`` are
    set by whoever makes the model (training, or reading its file).
    """

    kind = None
    """The ``model_type`` of the model file (``"bernoulli-rbm"``, ``"gaussian-rbm"``,
    ``"dbn"``, ``"flow"``)."""

    binarization = "threshold"
    """How grey pixels become the model's input: ``"threshold"`` (pixel >= 0.5),
    ``"stochastic"`` (Bernoulli(pixel)), or ``"none"`` (real-valued models)."""

    hyperparameters = None
    """The training options (dict) when known (a model trained by CD-K from noise samples
    best by K Gibbs sweeps from noise)."""

    epoch = 0
    """Epochs of training behind the parameters (0 when unknown)."""

    data_mean = None
    """(n_visible,) float64 mean of the training images as the model saw them, or None."""

    _image_shape = None

    model_type = None
    """The file's name for the kind: an alias of :attr:`kind`, set for every subclass."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.model_type = cls.kind

    @property
    def image_shape(self):
        """(rows, cols) of one image: rows * cols == n_visible (default (1, n_visible))."""
        return self._image_shape or (1, self.n_visible)

    @image_shape.setter
    def image_shape(self, shape):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or shape[0] * shape[1] != self.n_visible:
            raise InputError(f"image_shape {shape} does not match {self.n_visible} visible "
                             "units")
        self._image_shape = shape

    # ------------------------------------------------------------------ capabilities
    def sample(self, n, rng, *, method=None, steps=None, init=None, replicas=None,
               temperature=None, on_step=None, label=None):
        """Draw ``n`` images.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator
        method : str, optional
            A sampler of the model (``"gibbs"``, ``"pt"``, ``"mf"`` for the RBM family).
        steps : int, optional
            Sweeps or iterations (default: the method's).
        init : (n, n_visible) grey images, optional
            Where the chains start (default: white noise).
        replicas : int, optional
            Temperatures per chain for parallel tempering.
        temperature : float, optional
            Flows: draw ``z ~ N(0, T^2 I)``.
        on_step : callable, optional
            ``on_step(t, images (n, n_visible))`` about 60 times (GIFs, progress bars).
        label : int or "all", optional
            Models with label units (:attr:`classes`): clamp the label to this class
            value; ``"all"``: ``n // C`` images of every class in turn, class by class
            (``result.labels`` says which).

        Returns
        -------
        rbmcli.sampling.bernoulli.SampleResult
            ``images`` (n, n_visible) float in [0, 1], ``states`` (the final visible
            states, or None), ``attrs`` (provenance for sample files), ``label`` (a short
            description) and what the sampler adds.
        """
        raise NotSupported(f"a {self.kind} cannot be sampled")

    classes = None
    """(C,) int64 class values of the label units, or None for a model without labels."""

    def classify(self, images):
        """The most probable class of each grey image under a model with label units.

        Parameters
        ----------
        images : (N, n_visible) grey images (uint8 0..255, bool or floats in [0, 1])

        Returns
        -------
        labels : (N,) int64
            The class values (of :attr:`classes`) with the highest probability.
        probabilities : (N, C) float64
            ``P(y | x)`` of every class (rows sum to 1).
        """
        raise NotSupported(f"a {self.kind} has no label units (train one with --labels)")

    def check_classifies(self, option=None):
        """Raise NotSupported (naming ``option``, the command's option that asked) unless
        :meth:`classify` can answer: a one-line usage error before any data are read."""
        raise NotSupported(f"a {self.kind} has no label units (train one with --labels)",
                           option)

    def inpaint(self, images, known, rng, **options):
        """Fill the unknown pixels of grey ``images`` (n, n_visible), ``known`` (n, n_visible)
        or (n_visible,) bool, ``samples`` times each: :meth:`observe` then :meth:`fill`
        (whose keyword options it takes). Returns :class:`Inpainting`."""
        return self.fill(self.observe(images, rng), known, rng, **options)

    def fill(self, observed, known, rng, *, method=None, steps=None, samples=8,
             replicas=None, on_step=None):
        """Fill the unknown pixels of images as the model sees them (``observed``, from
        :meth:`observe`; only the known pixels are read), ``samples`` times each.

        Parameters
        ----------
        observed : (n, n_visible) array
        known : (n, n_visible) or (n_visible,) bool
        rng : numpy.random.Generator
        method, steps, replicas : optional
            The sampler and its settings (as for :meth:`sample`).
        samples : int
            Completions per image.
        on_step : callable, optional
            ``on_step(t, images (n * samples, n_visible))``, completion k of image i in row
            ``i * samples + k``.

        Returns
        -------
        Inpainting
        """
        raise NotSupported(f"a {self.kind} cannot fill in images")

    def score(self, images, *, seed=0, log=None, progress=None, **metrics):
        """Metrics of grey ``images`` (N, n_visible) under the model; returns
        :class:`rbmcli.scoring.bernoulli.Scores` (``summary`` and ``per_sample``).
        Which metrics a model has is its own (``mser``, ``free_energy``, ``pseudo_ll``,
        ``ll`` ...)."""
        raise NotSupported(f"a {self.kind} cannot be scored")

    def transform(self, images, layer=None, seed=0):
        """Hidden features (N, n_hidden of ``layer``) float32 of grey ``images``: the
        mean-field up pass to hidden layer ``layer`` (1 = the first; default the top)."""
        raise NotSupported(f"a {self.kind} has no hidden features")

    animates = False
    """Whether :meth:`sample` and :meth:`inpaint` run chains worth animating (``on_step``
    sees them evolve)."""

    default_metrics = ()
    """What :meth:`score` reports when no metric is asked for."""

    default_inpaint_count = 1000
    """How many images of a data set ``rbm inpaint`` fills by default."""

    def observe(self, images, rng):
        """Grey ``images`` (N, n_visible) as the model sees them (binary models: binarised
        as they were trained; the others: the grey levels in [0, 1])."""
        return pixel_rows(images, self.n_visible)

    def fill_plan(self, method=None, steps=None):
        """(label, steps): how :meth:`fill` with these options runs, e.g.
        ``("gibbs, 1000 steps", 1000)`` (for messages and progress bars)."""
        raise NotSupported(f"a {self.kind} cannot fill in images")

    def planned_steps(self, method=None, steps=None):
        """How many steps :meth:`sample` with these options runs (for progress bars)."""
        return 1

    def start_image(self):
        """(n_visible,) float64 pixel means where inpainting starts, or None."""
        return None

    def n_features(self, layer=None):
        """How many features :meth:`transform` gives for ``layer``."""
        raise NotSupported(f"a {self.kind} has no hidden features")

    def filters(self):
        """(n_visible, n_hidden) receptive fields of the first hidden layer."""
        raise NotSupported(f"a {self.kind} has no filters")

    def describe(self, file):
        """Lines ``name<TAB>value`` describing the model and its training (``file``: the
        :class:`rbmcli.io.modelfile.ModelFile` it came from)."""
        return [f"model\t{self.kind}", f"visible\t{self.n_visible}"]

    def is_finite(self):
        """True when every parameter is finite."""
        raise NotImplementedError

    def parameter_arrays(self):
        """The parameter arrays in a fixed order (what :meth:`checksum` reads)."""
        raise NotImplementedError

    def checksum(self):
        """SHA-256 (hex) of the parameters: any change of a parameter changes it."""
        return parameter_checksum(self.parameter_arrays())

    def unfinished(self, file):
        """Why the model in ``file`` cannot be used yet (a one-line reason), or None."""
        return None


def pixel_rows(images, n_visible, what="images"):
    """Checked grey images (N, n_visible) float32 in [0, 1], from uint8 (0..255, as in data
    files), bool (0/1) or floats in [0, 1] (:func:`rbmcli.pixels.as_unit_float`); one
    image (n_visible,) becomes one row."""
    x = np.asarray(images)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != n_visible:
        raise InputError(f"expected {what} of shape (N, {n_visible}), found {x.shape}")
    try:
        x = as_unit_float(x)
    except TypeError:
        raise InputError(f"{what} must be uint8, bool or floats, found {x.dtype}") from None
    if not (np.isfinite(x).all() and x.min(initial=0) >= 0 and x.max(initial=0) <= 1):
        raise InputError(f"{what} must be grey levels in [0, 1] (or uint8 0..255)")
    return x


def parameter_checksum(arrays):
    """SHA-256 (hex) of arrays: the dtype, shape and bytes of each, in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
