"""The model file: an HDF5 file that holds an RBM, its training history and the state
needed to resume training. Schema (documented in README.md):

    /                      attrs: format="rbm-model", format_version=1, rbm_version,
                                  model_type, hyperparameters (JSON),
                                  image_shape (rows, cols), binarization, dtype
    model_type "bernoulli-rbm":
    /weights               (n_visible, n_hidden)
    /visible_bias          (n_visible,)
    /hidden_bias           (n_hidden,)
    /label_weights         (C, n_hidden)  optional, all three or none: label units
    /label_bias            (C,)           (a class RBM, rbmcli.models.labels; for a DBN
    /classes               (C,) int64     only in its top layer's group) and the class
                                          value of each unit
    model_type "gaussian-rbm": the same plus
    /log_sigma             (n_visible,)  standard deviations exp(log_sigma), standardised units
    /standardize_mean      (n_visible,) float64  pixel = standardised * std + mean
    /standardize_std       (n_visible,) float64
    model_type "dbn":
    /layers/<k>            k = 0, 1, ...: attr model_type and the datasets of that type
    /layers/<k>/generative_weights  (n_visible, n_hidden) optional, every layer below the
                           top after up-down fine-tuning: the untied generative weights
    /classifier            optional, after backprop fine-tuning (rbmcli.models.classifier):
    /classifier/weights/<k>, /classifier/biases/<k>   (n_in, n_out), (n_out,) per layer
    /classifier/output_weights (n_top_hidden, C), output_bias (C,), classes (C,) int64
    /history/<metric>      (n_epochs,) or (n_epochs, k): one row per epoch
    /state                 attrs: epoch, rng_state (JSON), interrupted
    /state/<buffer>        persistent chains, PT replicas, momentum buffers
    /data_mean             (n_visible,) optional: mean of the binarised training data
                           (the inpainting start and baseline)

Files are written to a temporary file and renamed into place (:mod:`rbmcli.io.atomic`).
"""

import json
import os
from dataclasses import dataclass
from typing import Callable

import h5py
import numpy as np

from rbmcli import __version__
from rbmcli.io.atomic import atomic_path, check_readable, open_error
from rbmcli.errors import InputError
from rbmcli.io.record import (FORMAT, FORMAT_VERSION, ModelFile,  # noqa: F401 (re-exported)
                               read_history_and_state, write_history_and_state)
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.models.grbm import GaussianRBM
from rbmcli.flows.model import FlowModel
from rbmcli.io.flowfile import FlowFile, read_flow, save_flow
from rbmcli.models.classifier import FeedForwardClassifier
from rbmcli.models.dbn import DBN
from rbmcli.models.labels import LABEL_ARRAYS, LabelledRBM, LabelUnits
from rbmcli.io.partition_cache import read_partition_cache, write_partition_cache  # noqa: F401 (re-exported)



def save_model(path, mf):
    """Write ``mf`` (:class:`ModelFile`) to ``path`` atomically, by the writer its model
    type registers in :data:`FORMATS`."""
    FORMATS[mf.model.kind].save(path, mf)


def _save_rbm_family(path, mf):
    """The writer of the RBM family (the schema above)."""
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


def _write_params(g, model):
    """The datasets of ``model`` into the h5py group ``g`` (the schema above)."""
    FORMATS[model.kind].write_params(g, model)


def _write_layer(g, model):
    for name, array in model.arrays().items():
        g[name] = array


def _write_dbn(g, model):
    layers = g.create_group("layers")
    generative = model.generative_weights() or []
    for k, layer in enumerate(model.layers):
        sub = layers.create_group(str(k))
        sub.attrs["model_type"] = layer.model_type
        _write_params(sub, layer)
        if k < len(generative):
            sub["generative_weights"] = generative[k]
    if model.classifier is not None:
        _write_classifier(g.create_group("classifier"), model.classifier)


def _write_classifier(g, net):
    for name, arrays in (("weights", net.weights), ("biases", net.biases)):
        sub = g.create_group(name)
        for k, array in enumerate(arrays):
            sub[str(k)] = array
    g["output_weights"], g["output_bias"] = net.output_weights, net.output_bias
    g["classes"] = net.classes


def _read_classifier(g, path):
    """The :class:`FeedForwardClassifier` of group ``g``, checked."""
    try:
        net = FeedForwardClassifier(
            [g["weights"][str(k)][()] for k in range(len(g["weights"]))],
            [g["biases"][str(k)][()] for k in range(len(g["biases"]))],
            g["output_weights"][()], g["output_bias"][()], g["classes"][()])
    except KeyError as err:
        raise InputError(f"classifier group lacks {err.args[0]}", path) from None
    except InputError as err:
        raise InputError(str(err), path) from None
    if not net.is_finite():
        raise InputError("classifier parameters contain NaN or infinity", path)
    return net


def is_model_file(path):
    """True when ``path`` is an HDF5 file whose root says ``format="rbm-model"``."""
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def stored_model_type(path):
    """The ``model_type`` attribute of the model file ``path`` (None when unreadable)."""
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get("model_type")
            return value if isinstance(value, str) else None
    except OSError:
        return None


def load_model(path, **flow_options):
    """Read a :class:`ModelFile` by the reader its ``model_type`` registers in
    :data:`FORMATS` (for a flow a :class:`rbmcli.io.flowfile.FlowFile`; ``flow_options`` go
    to its reader), checking format, version and shapes.

    Raises
    ------
    InputError
        Missing file, not HDF5, not a model file, unsupported version, or arrays
        whose shapes or values do not fit together.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("no such model file (train one with 'rbm train DATA')", path)
    check_readable(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise open_error(err, path) from None
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
    if model_type not in FORMATS:
        raise InputError(f"unsupported model type {model_type!r}", path)
    return FORMATS[model_type].read(f, path, **flow_options)


def _read_rbm_family(f, path, **options):
    """The reader of the RBM family; ``options`` (the flows' ``current``) do not apply."""
    model = _read_params(f, f.attrs.get("model_type"), path)
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
    run = read_history_and_state(f)
    hyperparameters = json.loads(f.attrs.get("hyperparameters", "{}"))
    if not isinstance(hyperparameters, dict):
        raise InputError("hyperparameters attribute is not a JSON object", path)
    return ModelFile(
        model=model, hyperparameters=hyperparameters, image_shape=image_shape,
        binarization=_binarization(f, path), data_mean=data_mean, **run)


BINARIZATIONS = ("threshold", "stochastic", "none")


def _binarization(f, path):
    """The ``binarization`` attribute (default threshold); InputError when unknown, since
    sampling and inpainting would otherwise treat it as something else."""
    value = f.attrs.get("binarization", "threshold")
    value = value.decode() if isinstance(value, bytes) else str(value)
    if value not in BINARIZATIONS:
        raise InputError(f"expected binarization {'|'.join(BINARIZATIONS)}, found {value}",
                         path)
    return value


def _read_params(g, model_type, path, where=""):
    """The model of type ``model_type`` stored in the h5py group ``g``; ``where`` names the
    group in messages (``"layer 1: "``)."""
    fmt = FORMATS.get(model_type)
    if fmt is None or fmt.read_params is None:
        raise InputError(f"{where}unsupported model type {model_type!r}", path)
    return fmt.read_params(g, path, where)


def _read_dbn(g, path, where=""):
    layers = g.get("layers")
    if layers is None or "0" not in layers:
        raise InputError("dbn model file lacks group 'layers/0'", path)
    found = [_read_params(layers[str(k)], layers[str(k)].attrs.get("model_type"), path,
                          f"layer {k}: ") for k in range(len(layers))]
    generative = [layers[str(k)]["generative_weights"][()] for k in range(len(layers) - 1)
                  if "generative_weights" in layers[str(k)]]
    if generative and not all(np.isfinite(w).all() for w in generative):
        raise InputError("generative weights contain NaN or infinity", path)
    classifier = _read_classifier(g["classifier"], path) if "classifier" in g else None
    try:
        return DBN(found, generative or None, classifier)
    except InputError as err:
        raise InputError(str(err), path) from None


def _layer_reader(cls):
    """The reader of one RBM layer of class ``cls`` (its datasets: ``cls.ARRAYS``)."""
    def read(g, path, where=""):
        names = list(cls.ARRAYS)
        missing = [k for k in names if not isinstance(g.get(k), h5py.Dataset)]
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
        try:
            return cls.from_arrays(arrays)
        except InputError as err:
            raise InputError(f"{where}{err}", path) from None
    return read


def _read_bernoulli(g, path, where=""):
    """A Bernoulli RBM, with label units when the group has their datasets (files from
    before label units have none)."""
    model = _layer_reader(BernoulliRBM)(g, path, where)
    present = [name for name in LABEL_ARRAYS if name in g]
    if not present:
        return model
    if len(present) < len(LABEL_ARRAYS):
        missing = next(name for name in LABEL_ARRAYS if name not in present)
        raise InputError(f"{where}model file lacks dataset '{missing}'", path)
    arrays = [g[name][()] for name in LABEL_ARRAYS]
    if not all(np.isfinite(a).all() for a in arrays[:2]):
        raise InputError(f"{where}model parameters contain NaN or infinity", path)
    try:
        return LabelledRBM(model.weights, model.visible_bias, model.hidden_bias,
                           LabelUnits(*arrays))
    except InputError as err:
        raise InputError(f"{where}{err}", path) from None


@dataclass(frozen=True)
class Format:
    """How one model type is stored: ``read(f, path, **options) -> ModelFile`` and
    ``save(path, model_file)`` for a whole file; ``read_params(group, path, where)`` and
    ``write_params(group, model)`` for the parameters of a model that can also be a layer
    of another (None where that does not apply)."""

    read: Callable
    save: Callable
    read_params: Callable = None
    write_params: Callable = None
    record_type: type = ModelFile

    def record(self, model):
        """A new record (no history, no training state) of ``model`` to save."""
        extra = {"lam": model.lam} if "lam" in self.record_type.SHARED else {}
        return self.record_type(model=model, hyperparameters=dict(model.hyperparameters or {}),
                                image_shape=model.image_shape,
                                binarization=model.binarization, data_mean=model.data_mean,
                                epoch=model.epoch, **extra)


FORMATS = {
    BernoulliRBM.kind: Format(_read_rbm_family, _save_rbm_family, _read_bernoulli,
                              _write_layer),
    GaussianRBM.kind: Format(_read_rbm_family, _save_rbm_family, _layer_reader(GaussianRBM),
                             _write_layer),
    DBN.kind: Format(_read_rbm_family, _save_rbm_family, _read_dbn, _write_dbn),
    FlowModel.kind: Format(read_flow, lambda path, ff: save_flow(path, ff),
                           record_type=FlowFile),
}
"""The registry from a file's ``model_type`` to its reader and writer."""


# --------------------------------------------------------------------------- the log Z cache
# ``rbm score`` caches its estimate of log Z in the group ``/partition``: see
# :mod:`rbmcli.io.partition_cache`. :func:`save_model` does not write the group, so
# retraining a model drops its (then stale) cache.


def parameter_checksum(model):
    """SHA-256 (hex) of the model's parameters (:meth:`rbmcli.models.base.Model.checksum`)."""
    return model.checksum()
