"""rbm: Restricted Boltzmann Machines on the CPU, with Numba kernels.

The package is split by job: ``datasets`` (HDF5 data), ``mnist`` (the MNIST idx
files), ``synthetic`` (the embedded default data set), ``images`` (PNG in and
out), ``model`` (the Bernoulli RBM and its file format), ``train`` (CD-k, PCD-k,
parallel tempering) and ``cli`` (the ``rbm`` command). Heavy modules (Numba
kernels) are imported lazily so that ``rbm --help`` starts instantly.
"""

__version__ = "0.1.0"
