"""Numba kernels of the flows: coupling passes, actnorm, logit, MLP parts, Adam."""
