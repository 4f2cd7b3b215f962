"""The model file: an HDF5 file that holds an RBM, its training history and the state
needed to resume training. Schema (documented in README.md):

    /                      attrs: format="rbm-model", format_version=1, rbm_version,
                                  model_type, hyperparameters (JSON),
                                  image_shape (rows, cols), binarization, dtype
    model_type "bernoulli-rbm":
    /weights               (n_visible, n_hidden)
    /visible_bias          (n_visible,)
    /hidden_bias           (n_hidden,)
    model_type "gaussian-rbm": the same plus
    /log_sigma             (n_visible,)  standard deviations exp(log_sigma), standardised units
    /standardize_mean      (n_visible,) float64  pixel = standardised * std + mean
    /standardize_std       (n_visible,) float64
    model_type "dbn":
    /layers/<k>            k = 0, 1, ...: attr model_type and the datasets of that type
    /history/<metric>      (n_epochs,) or (n_epochs, k): one row per epoch
    /state                 attrs: epoch, rng_state (JSON), interrupted
    /state/<buffer>        persistent chains, PT replicas, momentum buffers
    /data_mean             (n_visible,) optional: mean of the binarised training data
                           (the inpainting start and baseline)

Files are written to a temporary file and renamed into place (:mod:`rbmcli.io.atomic`).
"""

import json
import os
from dataclasses import dataclass, field

import numpy as np

from rbmcli import __version__
from rbmcli.io.atomic import atomic_path
from rbmcli.errors import InputError
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.models.grbm import GaussianRBM, Standardizer
from rbmcli.models.dbn import DBN

FORMAT = "rbm-model"
FORMAT_VERSION = 1


@dataclass
class ModelFile:
    """Everything a model file holds.

    Attributes
    ----------
    model : BernoulliRBM, GaussianRBM or DBN
    hyperparameters : dict
        The training options (JSON-serialisable).
    image_shape : tuple of int
        (rows, cols) of one image, rows * cols == n_visible.
    binarization : str
        ``"threshold"`` or ``"stochastic"``: how grey data become binary; ``"none"`` for
        Gaussian models (the data are standardised instead).
    history : dict of str to ndarray
        Per-epoch metrics, one row per epoch.
    state : dict of str to ndarray
        Training buffers (chains, momentum).
    epoch : int
        Completed epochs.
    rng_state : dict or None
        The numpy bit-generator state after ``epoch`` epochs.
    interrupted : bool
        True for a checkpoint written on Ctrl-C.
    data_mean : (n_visible,) float64 or None
        Mean of the binarised training images (None in files that predate it).
    """

    model: BernoulliRBM
    hyperparameters: dict
    image_shape: tuple
    binarization: str
    history: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    epoch: int = 0
    rng_state: dict = None
    interrupted: bool = False
    data_mean: np.ndarray = None


def save_model(path, mf):
    """Write ``mf`` (:class:`ModelFile`) to ``path`` atomically."""
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["rbm_version"] = __version__
            f.attrs["model_type"] = mf.model.model_type
            f.attrs["hyperparameters"] = json.dumps(mf.hyperparameters, sort_keys=True)
            f.attrs["image_shape"] = np.asarray(mf.image_shape, np.int64)
            f.attrs["binarization"] = mf.binarization
            f.attrs["dtype"] = str(mf.model.dtype)
            _write_params(f, mf.model)
            if mf.data_mean is not None:
                f["data_mean"] = np.asarray(mf.data_mean, np.float64)
            write_history_and_state(f, mf, mf.state)


def write_history_and_state(f, mf, state):
    """Write ``/history`` and ``/state`` (the arrays ``state``, a dict, and the epoch,
    interrupted and RNG attributes of ``mf``) into the open h5py file ``f``."""
    hist = f.create_group("history")
    for name, values in mf.history.items():
        hist[name] = np.asarray(values)
    group = f.create_group("state")
    group.attrs["epoch"] = int(mf.epoch)
    group.attrs["interrupted"] = bool(mf.interrupted)
    group.attrs["rng_state"] = json.dumps(mf.rng_state) if mf.rng_state else ""
    for name, values in state.items():
        group[name] = values


def _write_params(g, model):
    """The datasets of ``model`` into the h5py group ``g`` (the schema above)."""
    if isinstance(model, DBN):
        layers = g.create_group("layers")
        for k, layer in enumerate(model.layers):
            sub = layers.create_group(str(k))
            sub.attrs["model_type"] = layer.model_type
            _write_params(sub, layer)
        return
    for name, array in model_arrays(model).items():
        g[name] = array


def model_arrays(model):
    """The parameter arrays of a single RBM by dataset name (and for a Gaussian one its
    standardisation)."""
    out = {"weights": model.weights, "visible_bias": model.visible_bias,
           "hidden_bias": model.hidden_bias}
    if isinstance(model, GaussianRBM):
        out.update(log_sigma=model.log_sigma, standardize_mean=model.standardizer.mean,
                   standardize_std=model.standardizer.std)
    return out


def is_model_file(path):
    """True when ``path`` is an HDF5 file whose root says ``format="rbm-model"``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def stored_model_type(path):
    """The ``model_type`` attribute of the model file ``path`` (None when unreadable)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("model_type")
            return value if isinstance(value, str) else None
    except OSError:
        return None


def load_model(path, **flow_options):
    """Read a :class:`ModelFile` (or, for ``model_type="flow"``, a
    :class:`rbmcli.io.flowfile.FlowFile`; ``flow_options`` go to its reader),
    checking format, version and shapes.

    Raises
    ------
    InputError
        Missing file, not HDF5, not a model file, unsupported version, or arrays
        whose shapes or values do not fit together.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("no such model file (train one with 'rbm train DATA')", path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError("not an HDF5 file, or corrupt", path) from None
    with f:
        try:
            return _read_open_file(f, path, **flow_options)
        except InputError as err:
            if err.path is None:
                raise InputError(str(err), path) from None
            raise
        except (ValueError, TypeError, IndexError, KeyError) as err:
            raise InputError(f"malformed model file: {err}", path) from None


def _read_open_file(f, path, **flow_options):
    """The body of :func:`load_model` for an open h5py file ``f``."""
    fmt = f.attrs.get("format")
    if fmt != FORMAT:
        hint = " (it looks like a data file)" if "images" in f or "train" in f else ""
        raise InputError(f"not an rbm model file: expected format {FORMAT!r}, found "
                         f"{fmt!r}{hint}", path)
    version = f.attrs.get("format_version")
    if not isinstance(version, (int, np.integer)) or int(version) != FORMAT_VERSION:
        shown = int(version) if isinstance(version, (int, np.integer)) else repr(version)
        raise InputError(f"expected model format version {FORMAT_VERSION}, found {shown}"
                         f" (written by rbm {f.attrs.get('rbm_version')}; "
                         "upgrade rbm to read it)", path)
    model_type = f.attrs.get("model_type")
    if model_type == "flow":
        from rbmcli.io.flowfile import read_flow
        return read_flow(f, path, **flow_options)
    model = _read_params(f, model_type, path)
    nv = model.n_visible
    image_shape = tuple(int(x) for x in np.ravel(f.attrs.get("image_shape", (1, nv))))
    if len(image_shape) != 2 or image_shape[0] * image_shape[1] != nv:
        raise InputError(f"image_shape {image_shape} does not match {nv} visible "
                         "units", path)
    data_mean = None
    if "data_mean" in f:
        data_mean = np.asarray(f["data_mean"][()], np.float64)
        if data_mean.shape != (nv,) or not (
                np.isfinite(data_mean).all() and data_mean.min() >= 0 and data_mean.max() <= 1):
            raise InputError(f"data_mean must be {nv} values in [0, 1]", path)
    history, state, epoch, rng_state, interrupted = read_history_and_state(f)
    hyperparameters = json.loads(f.attrs.get("hyperparameters", "{}"))
    if not isinstance(hyperparameters, dict):
        raise InputError("hyperparameters attribute is not a JSON object", path)
    return ModelFile(
        model=model, hyperparameters=hyperparameters, image_shape=image_shape,
        binarization=str(f.attrs.get("binarization", "threshold")),
        history=history, state=state, epoch=epoch, rng_state=rng_state,
        interrupted=interrupted, data_mean=data_mean,
    )


def read_history_and_state(f):
    """(history, state, epoch, rng_state, interrupted) from an open model file ``f``."""
    history = {k: v[()] for k, v in f["history"].items()} if "history" in f else {}
    state, epoch, rng_state, interrupted = {}, 0, None, False
    if "state" in f:
        g = f["state"]
        state = {k: v[()] for k, v in g.items()}
        epoch = int(g.attrs.get("epoch", 0))
        interrupted = bool(g.attrs.get("interrupted", False))
        text = g.attrs.get("rng_state", "")
        rng_state = json.loads(text) if text else None
    return history, state, epoch, rng_state, interrupted
MODEL_TYPES = ("bernoulli-rbm", "gaussian-rbm", "dbn")


def _read_params(g, model_type, path, where=""):
    """The model of type ``model_type`` stored in the h5py group ``g``; ``where`` names the
    group in messages (``"layer 1: "``)."""
    if model_type == DBN.model_type:
        layers = g.get("layers")
        if layers is None or "0" not in layers:
            raise InputError("dbn model file lacks group 'layers/0'", path)
        found = [_read_params(layers[str(k)], layers[str(k)].attrs.get("model_type"), path,
                              f"layer {k}: ") for k in range(len(layers))]
        try:
            return DBN(found)
        except InputError as err:
            raise InputError(str(err), path) from None
    if model_type not in MODEL_TYPES[:2]:
        raise InputError(f"{where}unsupported model type {model_type!r}", path)
    names = ["weights", "visible_bias", "hidden_bias"]
    if model_type == GaussianRBM.model_type:
        names += ["log_sigma", "standardize_mean", "standardize_std"]
    missing = [k for k in names if not isinstance(g.get(k), h5py_dataset())]
    if missing:
        raise InputError(f"{where}model file lacks dataset '{missing[0]}'", path)
    arrays = {k: g[k][()] for k in names}
    w = arrays["weights"]
    if w.ndim != 2 or any(arrays[k].shape != (w.shape[0],) for k in names[3:]) \
            or arrays["visible_bias"].shape != (w.shape[0],) \
            or arrays["hidden_bias"].shape != (w.shape[1],):
        extra = "".join(f", {k} {arrays[k].shape}" for k in names[3:])
        raise InputError(f"{where}inconsistent shapes: weights {w.shape}, visible_bias "
                         f"{arrays['visible_bias'].shape}, hidden_bias "
                         f"{arrays['hidden_bias'].shape}{extra}", path)
    if w.dtype.kind == "f" and not all(np.isfinite(a).all() for a in arrays.values()):
        raise InputError(f"{where}model parameters contain NaN or infinity", path)
    if model_type == BernoulliRBM.model_type:
        return BernoulliRBM(w, arrays["visible_bias"], arrays["hidden_bias"])
    if (arrays["standardize_std"] <= 0).any():
        raise InputError(f"{where}standardize_std must be positive", path)
    return GaussianRBM(w, arrays["visible_bias"], arrays["hidden_bias"], arrays["log_sigma"],
                       Standardizer(np.asarray(arrays["standardize_mean"], np.float64),
                                    np.asarray(arrays["standardize_std"], np.float64)))


def h5py_dataset():
    """The h5py Dataset class (h5py is imported lazily)."""
    import h5py
    return h5py.Dataset


# --------------------------------------------------------------------------- the log Z cache
# ``rbm score`` caches its estimate of log Z in the group ``/partition`` (attributes only,
# see rbmcli/scoring.py), keyed by :func:`parameter_checksum`. :func:`save_model` does not
# write the group, so retraining a model drops its (then stale) cache.

PARTITION_GROUP = "partition"


def parameter_checksum(model):
    """SHA-256 (hex) of the parameters: dtype, shapes and bytes of ``weights``,
    ``visible_bias`` and ``hidden_bias`` (then a GRBM's ``log_sigma`` and standardisation;
    a DBN's layers in order). Any change of a parameter changes it."""
    import hashlib

    digest = hashlib.sha256()
    layers = model.layers if isinstance(model, DBN) else [model]
    for array in (a for layer in layers for a in model_arrays(layer).values()):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def read_partition_cache(path):
    """The attributes of ``/partition`` in the model file ``path`` as a dict, plus its
    datasets as arrays (empty when there is no such group or the file cannot be read)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            g = f.get(PARTITION_GROUP)
            if not isinstance(g, h5py.Group):
                return {}
            out = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in g.attrs.items()}
            out.update({k: v[()] for k, v in g.items() if isinstance(v, h5py.Dataset)})
            return out
    except OSError:
        return {}


def write_partition_cache(path, attrs, checksum, datasets=None):
    """Replace ``/partition`` of the model file ``path`` by a group with ``attrs`` (and
    the arrays ``datasets``, a dict name -> array, if given), atomically: copy the file to a temporary file beside it, rewrite the group there,
    rename it over ``path``. Every other group and attribute is kept as it was.

    Returns False, writing nothing, when the parameters in the file no longer have
    ``checksum`` (the model changed while log Z was being estimated).

    Raises
    ------
    InputError
        The file cannot be copied or written.
    """
    import shutil

    import h5py

    class _Stale(Exception):
        pass

    try:
        with atomic_path(path) as tmp:
            shutil.copy2(path, tmp)
            with h5py.File(tmp, "r+") as f:
                stored = _read_params(f, f.attrs.get("model_type"), path)
                if parameter_checksum(stored) != checksum:
                    raise _Stale
                if PARTITION_GROUP in f:
                    del f[PARTITION_GROUP]
                g = f.create_group(PARTITION_GROUP)
                for key, value in attrs.items():
                    g.attrs[key] = value
                for key, value in (datasets or {}).items():
                    g[key] = value
    except _Stale:
        return False
    return True
