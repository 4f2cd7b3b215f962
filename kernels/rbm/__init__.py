"""Numba kernels of the RBM family: conditionals, Gibbs half-steps and sweeps, parallel
tempering, AIS, free energies, the fused training update, binarisation."""
