"""Random keys for the counter-based kernels (:mod:`rbmcli.kernels.rng`)."""

import numpy as np


def draw_keys(rng, n):
    """(n,) uint64 random keys for the counter-based kernels, from a numpy Generator."""
    return rng.bit_generator.random_raw(n).astype(np.uint64)
