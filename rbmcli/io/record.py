"""What a model file holds besides the parameters: :class:`ModelFile` (the model with its
training options, history and resumable state) and the groups ``/history`` and ``/state``
that every model type writes the same way (see :mod:`rbmcli.io.modelfile`)."""

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from rbmcli.models.base import Model

FORMAT = "rbm-model"
FORMAT_VERSION = 1
SHARED = ("image_shape", "binarization", "data_mean", "hyperparameters", "epoch")
"""Fields of a :class:`ModelFile` that its model also carries, so that a model describes
itself (its image shape, how it reads pixels, its training mean, options and epochs)
wherever it goes; :class:`ModelFile` keeps the two in step."""


@dataclass
class ModelFile:
    """Everything a model file holds.

    Attributes
    ----------
    model : rbmcli.models.base.Model
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
    data_checksum : str or None
        SHA-256 (hex) of the training images of the last run on this file (None in files
        that predate it): ``--resume`` on other data warns (:meth:`check_training_data`).
    """

    model: Model
    hyperparameters: dict
    image_shape: tuple
    binarization: str
    history: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)
    epoch: int = 0
    rng_state: dict = None
    interrupted: bool = False
    data_mean: np.ndarray = None
    data_checksum: str = None

    SHARED = SHARED

    def check_training_data(self, images, source, log):
        """Record the checksum of the training ``images`` (N, D) about to be used; when
        the file was trained on other images, say so through ``log`` (a warning: the
        same pixel count on other data is allowed, but rarely meant, on ``--resume``).
        ``source`` names the data in the message."""
        checksum = hashlib.sha256(np.ascontiguousarray(images).data).hexdigest()
        if self.data_checksum and self.data_checksum != checksum:
            log(f"warning: {source} is not the data this checkpoint was trained on "
                f"(its SHA-256 differs); training goes on with it")
        self.data_checksum = checksum

    def __setattr__(self, name, value):
        """Keep the model's own copy of what describes it (:data:`SHARED`) in step."""
        object.__setattr__(self, name, value)
        model = self.__dict__.get("model")
        if model is not None and (name in self.SHARED or name == "model"):
            for key in self.SHARED:
                if key in self.__dict__:
                    setattr(model, key, self.__dict__[key])


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
    if mf.data_checksum:
        group.attrs["data_checksum"] = mf.data_checksum
    for name, values in state.items():
        group[name] = values


def read_history_and_state(f):
    """The :class:`ModelFile` fields ``history``, ``state``, ``epoch``, ``rng_state``,
    ``interrupted`` and ``data_checksum`` (a dict) from an open model file ``f``."""
    fields = dict(history={k: v[()] for k, v in f["history"].items()} if "history" in f
                  else {}, state={}, epoch=0, rng_state=None, interrupted=False,
                  data_checksum=None)
    if "state" in f:
        g = f["state"]
        text = g.attrs.get("rng_state", "")
        fields.update(state={k: v[()] for k, v in g.items()},
                      epoch=int(g.attrs.get("epoch", 0)),
                      interrupted=bool(g.attrs.get("interrupted", False)),
                      rng_state=json.loads(text) if text else None,
                      data_checksum=str(g.attrs["data_checksum"])
                      if "data_checksum" in g.attrs else None)
    return fields
