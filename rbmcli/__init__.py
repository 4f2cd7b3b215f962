"""rbm: Restricted Boltzmann Machines, deep belief networks and normalizing flows on the
CPU, with Numba kernels.

The public API is :data:`__all__`: the models, :func:`train`, :func:`load` and
:func:`save` (see README.md, "Python"). The package is organised by layer: ``models``,
``sampling``, ``training``, ``scoring``, ``flows``, ``io``, ``cli`` and the Numba
``kernels``.

The names below are imported on first use (PEP 562), the one lazy import of the package
besides the command modules of :mod:`rbmcli.cli.main`: ``rbm --help`` imports this module
and must not load NumPy or Numba.
"""

import importlib
import os

__version__ = "0.1.0"

# OpenBLAS's threads spin for ~2^28 cycles after each product before they sleep; between
# products run the Numba kernels, whose OpenMP threads then share the cores with them. On
# 2 cores a class RBM's epoch (NumPy products beside Numba kernels) took 3.7 s at 2
# threads against 1.4 s at 1; sleeping at once (2^4 cycles) made it 1.1 s. Read when
# OpenBLAS loads, so this must come before NumPy; a value the user set is kept.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__all__ = ["BernoulliRBM", "DBN", "FlowModel", "GaussianRBM", "Model", "NotSupported",
           "InputError", "load", "save", "train", "as_dataset", "__version__"]

_EXPORTS = {
    "BernoulliRBM": "rbmcli.models.rbm",
    "GaussianRBM": "rbmcli.models.grbm",
    "DBN": "rbmcli.models.dbn",
    "FlowModel": "rbmcli.flows.model",
    "Model": "rbmcli.models.base",
    "NotSupported": "rbmcli.errors",
    "InputError": "rbmcli.errors",
    "load": "rbmcli.api",
    "save": "rbmcli.api",
    "train": "rbmcli.api",
    "as_dataset": "rbmcli.api",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rbmcli' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
