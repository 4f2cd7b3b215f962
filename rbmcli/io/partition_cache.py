"""The log Z cache of a model file: the group ``/partition`` that ``rbm score`` writes.

Attributes only (see :mod:`rbmcli.scoring.bernoulli` for their names), plus the AIS base
model's visible biases, keyed by the SHA-256 of the parameters
(:meth:`rbmcli.models.base.Model.checksum`). A model file written again by training has
no such group, so a cache never outlives the parameters it was computed for.
"""

import shutil

import h5py
import numpy as np

from rbmcli.errors import InputError
from rbmcli.io.atomic import atomic_path
from rbmcli.models.base import parameter_checksum

PARTITION_GROUP = "partition"
PARAMETER_NAMES = ("weights", "visible_bias", "hidden_bias", "log_sigma", "standardize_mean",
                   "standardize_std")
"""The parameter datasets of a layer in the order the checksum reads them."""


def stored_parameter_arrays(group):
    """The parameter arrays stored in an open model file (or a DBN's ``layers/<k>``
    group), in the order of :meth:`rbmcli.models.base.Model.parameter_arrays`."""
    if "layers" in group:
        layers = group["layers"]
        return [a for k in range(len(layers)) for a in stored_parameter_arrays(layers[str(k)])]
    return [group[name][()] for name in PARAMETER_NAMES if name in group]


def read_partition_cache(path):
    """The attributes of ``/partition`` in the model file ``path`` as a dict, plus its
    datasets as arrays (empty when there is no such group or the file cannot be read)."""
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
    the arrays ``datasets``, a dict name -> array, if given), atomically: copy the file to
    a temporary file beside it, rewrite the group there, rename it over ``path``. Every
    other group and attribute is kept as it was.

    Returns False, writing nothing, when the parameters in the file no longer have
    ``checksum`` (the model changed while log Z was being estimated).

    Raises
    ------
    InputError
        The file cannot be copied or written.
    """
    class _Stale(Exception):
        pass

    try:
        with atomic_path(path) as tmp:
            shutil.copy2(path, tmp)
            with h5py.File(tmp, "r+") as f:
                if parameter_checksum(stored_parameter_arrays(f)) != checksum:
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
    except OSError as err:
        raise InputError(f"cannot write: {err}", path) from None
    return True
