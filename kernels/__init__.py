"""Numba kernels for rbm: plain functions over contiguous arrays and scalars.

No I/O, no classes, no argument checking: the Python layer in ``rbmcli`` checks
dtypes, C order, shapes and values before calling a kernel. Binary states are
``uint8`` arrays of 0/1; real values are float32 or float64 (one dtype per call).
"""
