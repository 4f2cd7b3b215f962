"""The Python API: train, load and save models (the names :mod:`rbmcli` exports).

:func:`train` runs the same recipes, trainers, checkpoints and resume as ``rbm train``;
:func:`load` and :func:`save` read and write the same model files as the commands. What a
trained model can do is its own interface (:class:`rbmcli.models.base.Model`)::

    import numpy as np, rbmcli
    model = rbmcli.train(images, hidden=100, epochs=5)       # images (N, D) in [0, 1]
    samples = model.sample(16, np.random.default_rng(0)).images
"""

import math
import os
import tempfile

import numpy as np

from rbmcli.errors import InputError, NotSupported
from rbmcli.io.datasets import Dataset
from rbmcli.io.modelfile import FORMATS, load_model
from rbmcli.threads import blas_threads, configure_threads
from rbmcli.training.recipes import MODELS, TRAIN_DEFAULTS, start_run


def as_dataset(images, image_shape=None, labels=None, source="a NumPy array"):
    """A :class:`rbmcli.io.datasets.Dataset` of an array of images.

    Parameters
    ----------
    images : (N, D) or (N, rows, cols) array
        uint8 0..255, bool, or floats in [0, 1].
    image_shape : (rows, cols), optional
        Default: the array's own for 3-D input, else square when D is a square, else (1, D).
    labels : (N,) int array, optional
    """
    x = np.asarray(images)
    if x.ndim == 3:
        image_shape = image_shape or x.shape[1:]
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"expected images of shape (N, D) or (N, rows, cols), found {x.shape}")
    if x.dtype.kind == "f":
        if not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            raise InputError("float images must be grey levels in [0, 1]")
    elif x.dtype not in (np.uint8, np.bool_):
        raise InputError(f"images must be uint8, bool or float in [0, 1], found {x.dtype}")
    d = x.shape[1]
    side = math.isqrt(d)
    shape = tuple(image_shape) if image_shape else ((side, side) if side * side == d else (1, d))
    if len(shape) != 2 or shape[0] * shape[1] != d:
        raise InputError(f"image_shape {shape} does not match {d} pixels per image")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(x),):
            raise InputError(f"expected {len(x)} labels, found shape {labels.shape}")
    return Dataset(np.ascontiguousarray(x), labels, shape, source)


def _data(data, image_shape):
    """A data spec (str, for files) or a Dataset (for arrays), or None."""
    if data is None or isinstance(data, (str, os.PathLike, Dataset)):
        return os.fspath(data) if isinstance(data, os.PathLike) else data
    return as_dataset(data, image_shape)


def train(data=None, model="rbm", *, output=None, resume=False, force=False,
          validate=None, image_shape=None, callback=None, log=None, threads=None,
          pictures=False, **options):
    """Train a model as ``rbm train`` does, and return it.

    Parameters
    ----------
    data : (N, D) array, str, or None
        Images (uint8 0..255, bool or floats in [0, 1]; (N, rows, cols) also), a data
        file spec ``FILE.h5[:GROUP]``, or None for the embedded synthetic digits.
    model : str
        ``"rbm"``, ``"grbm"``, ``"dbn"``, ``"nice"``, ``"realnvp"``, ``"glow"`` or ``"maf"``.
    output : str, optional
        The model file, written after every epoch (the checkpoint). Without it the run
        checkpoints to a temporary file that is removed at the end.
    resume : bool
        Continue the run checkpointed in ``output`` (up to ``epochs``).
    force : bool
        Overwrite an existing ``output``.
    validate : array or str, optional
        Validation images (MSER and free-energy gap per epoch; flows: early stopping).
    image_shape : (rows, cols), optional
        For array data (see :func:`as_dataset`).
    callback : callable, optional
        ``callback(epoch, epochs, metrics)`` after each epoch's checkpoint.
    log : callable, optional
        ``log(line)`` for the per-epoch lines ``rbm train`` prints (default: silent).
    threads : int, optional
        Kernel threads (default: the cores not busy with other work).
    pictures : bool
        Write ``OUTPUT-samples.png`` and ``OUTPUT-filters.png`` at the end.
    **options
        The options of ``rbm train`` by their long names with ``_`` for ``-``:
        ``hidden`` (int, or a sequence of layer sizes for a DBN), ``epochs``, ``cd``,
        ``pcd``, ``pt``, ``lr``, ``batch_size``, ``momentum``, ``l1``, ``l2``,
        ``centering``, ``binarize``, ``seed``, ``dtype``, ``memory`` (a size such as
        ``"2G"``: a data file whose rows take more is streamed from the file in
        shuffled chunks, see README.md) ... (see
        :data:`rbmcli.training.recipes.TRAIN_DEFAULTS`). Options not given take the
        model's defaults. ``labels``: True to train a class RBM (or a DBN with a
        labelled top) on the labels of a data file, or the labels (N,) int of an array
        of images.

    Returns
    -------
    rbmcli.models.base.Model
        The trained model as its file holds it (for a flow, the parameters with the best
        validation likelihood).

    Raises
    ------
    NotSupported
        An option that does not apply to ``model``.
    InputError
        Bad data, an existing ``output`` without ``force`` or ``resume``, ...
    """
    if model not in MODELS:
        raise NotSupported(f"must be one of {', '.join(MODELS)}, not {model!r}", "model")
    unknown = sorted(set(options) - set(TRAIN_DEFAULTS))
    if unknown:
        raise NotSupported(f"is not an option of train (options: "
                           f"{', '.join(sorted(TRAIN_DEFAULTS))})", unknown[0])
    if resume and force:
        raise NotSupported("resume continues output, force overwrites it: pick one")
    labels = options.get("labels")
    if labels is not None and not isinstance(labels, (bool, np.bool_)):
        if data is None or isinstance(data, (str, os.PathLike, Dataset)):
            raise NotSupported("as an array goes with an array of images (a data file "
                               "brings its own: labels=True)", "labels")
        data, options["labels"] = as_dataset(data, image_shape, labels=labels), True
    if "hidden" in options:
        hidden = options["hidden"]
        options["hidden"] = tuple(hidden) if np.ndim(hidden) else (int(hidden),)
    params = {**TRAIN_DEFAULTS, **options, "model": model}
    given = set(options) | {"model"}
    with tempfile.TemporaryDirectory(prefix="rbm-train-") as tmp:
        path = os.fspath(output) if output is not None else os.path.join(tmp, "model.h5")
        if os.path.exists(path) and not (resume or force):
            raise InputError("exists; pass resume=True to continue it or force=True to "
                             "overwrite it", path)
        if resume and not os.path.exists(path):
            raise InputError("no checkpoint to resume", path)
        say = log or (lambda line: None)
        run = start_run(model, params, given, data=_data(data, image_shape), output=path,
                        resume=resume, validate=_data(validate, image_shape), log=say)
        run.on_epoch = callback
        with blas_threads(configure_threads(threads, log=say)):
            run.run_epochs()
        if pictures:
            run.write_pictures()
        return load(path)


def load(path):
    """The model in the model file ``path`` (any kind), checked; it carries its
    ``image_shape``, ``binarization``, training mean and options."""
    mf = load_model(path)
    problem = mf.model.unfinished(mf)
    if problem:
        raise InputError(problem, os.fspath(path))
    return mf.model


def save(model, path, force=False):
    """Write ``model`` to the model file ``path`` (atomically), in the format the commands
    read; an existing file is kept unless ``force``."""
    path = os.fspath(path)
    if os.path.exists(path) and not force:
        raise InputError("exists; pass force=True to overwrite it", path)
    fmt = FORMATS[model.kind]
    fmt.save(path, fmt.record(model))
