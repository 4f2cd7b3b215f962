"""Flow model files: the ``"flow"`` model type of the ``rbm-model`` format (v1).

Schema (documented in README.md)::

    /                      attrs: format="rbm-model", format_version=1, rbm_version,
                                  model_type="flow", flow_type (nice|realnvp|glow|maf),
                                  architecture (JSON list of {kind, config}),
                                  hyperparameters (JSON), image_shape, dtype,
                                  data_space="logit", logit_lambda, dequantization
    /parameters/<i>.<name> the parameters with the best validation likelihood
    /buffers/<i>.<name>    permutations, coupling masks, actnorm ``initialized`` flags
    /history/<metric>      one row per epoch
    /state                 attrs: epoch, interrupted, rng_state (JSON)
    /state/<name>          current parameters (``current.<p>``), Adam moments
                           (``adam_m.<p>``, ``adam_v.<p>``), ``step``, ``best_valid_ll``,
                           ``best_epoch``, ``bad_epochs``

Written atomically like every model file (:mod:`rbmcli.io.atomic`).
"""

import json
from dataclasses import dataclass

import h5py
import numpy as np

from rbmcli import __version__
from rbmcli.io.atomic import atomic_path
from rbmcli.errors import InputError
from rbmcli.flows.model import FLOW_TYPES, FlowModel
from rbmcli.io.record import SHARED, ModelFile, read_history_and_state, write_history_and_state

DATA_SPACE = "logit"
DEQUANTIZATION = "u = (x + U(0,1)) / 256 for 8-bit pixels x"


@dataclass
class FlowFile(ModelFile):
    """A :class:`~rbmcli.io.modelfile.ModelFile` whose ``model`` is a
    :class:`~rbmcli.flows.model.FlowModel`; ``lam`` is the logit map's lambda."""

    binarization: str = "none (dequantized, logit space)"
    lam: float = 1e-6

    SHARED = SHARED + ("lam",)


def save_flow(path, ff, best=None):
    """Write ``ff`` (:class:`FlowFile`) to ``path`` atomically. ``best`` (dict name ->
    array) goes to ``/parameters`` and the model's own parameters to
    ``/state/current.<name>``; without ``best`` the model's parameters are the model."""
    model = ff.model
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "rbm-model"
            f.attrs["format_version"] = 1
            f.attrs["rbm_version"] = __version__
            f.attrs["model_type"] = "flow"
            f.attrs["flow_type"] = model.flow_type
            f.attrs["architecture"] = json.dumps(model.architecture())
            f.attrs["hyperparameters"] = json.dumps(ff.hyperparameters, sort_keys=True)
            f.attrs["image_shape"] = np.asarray(ff.image_shape, np.int64)
            f.attrs["dtype"] = str(model.dtype)
            f.attrs["data_space"] = DATA_SPACE
            f.attrs["logit_lambda"] = float(ff.lam)
            f.attrs["dequantization"] = DEQUANTIZATION
            params = f.create_group("parameters")
            for name, value in (best if best is not None else model.params).items():
                params[name] = value
            buffers = f.create_group("buffers")
            for name, value in model.buffers.items():
                buffers[name] = value
            state = {k: v for k, v in ff.state.items() if not k.startswith("best.")}
            if best is not None:
                state.update({f"current.{k}": v for k, v in model.params.items()})
            write_history_and_state(f, ff, state)


def read_flow(f, path, current=False):
    """Read a flow model from the open h5py file ``f``; ``current=True`` loads the
    parameters of the last epoch (to resume training) instead of the best ones, and
    puts the best ones in ``state`` as ``best.<name>``. Raises InputError."""
    flow_type = f.attrs.get("flow_type")
    if flow_type not in FLOW_TYPES:
        raise InputError(f"unsupported flow type {flow_type!r}; expected one of "
                         f"{', '.join(FLOW_TYPES)}", path)
    if "parameters" not in f:
        raise InputError("model file lacks group 'parameters'", path)
    architecture = json.loads(f.attrs.get("architecture", "[]"))
    if not isinstance(architecture, list) or not architecture:
        raise InputError("model file has no architecture", path)
    dtype = np.dtype(str(f.attrs.get("dtype", "float32")))
    params = {k: v[()] for k, v in f["parameters"].items()}
    buffers = {k: v[()] for k, v in f["buffers"].items()} if "buffers" in f else {}
    if not all(np.isfinite(v).all() for v in params.values()):
        raise InputError("model parameters contain NaN or infinity", path)
    run = read_history_and_state(f)
    state = run["state"]
    if current:
        cur = {k[len("current."):]: state.pop(k) for k in list(state)
               if k.startswith("current.")}
        if cur:
            state.update({f"best.{k}": v for k, v in params.items()})
            params = cur
    try:
        model = FlowModel.from_architecture(str(flow_type), architecture, params, buffers,
                                            dtype)
    except KeyError as err:
        raise InputError(f"model file lacks parameter or buffer {err}", path) from None
    image_shape = tuple(int(x) for x in np.ravel(f.attrs.get("image_shape",
                                                             (1, model.n_visible))))
    if len(image_shape) != 2 or image_shape[0] * image_shape[1] != model.n_visible:
        raise InputError(f"image_shape {image_shape} does not match {model.n_visible} "
                         "dimensions", path)
    hyperparameters = json.loads(f.attrs.get("hyperparameters", "{}"))
    return FlowFile(model=model, hyperparameters=hyperparameters, image_shape=image_shape,
                    lam=float(f.attrs.get("logit_lambda", 1e-6)), **run)
