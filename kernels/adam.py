"""One fused Adam step with an L2 weight-decay term and a gradient scale factor
(global-norm clipping), for one parameter array flattened to 1-D."""

import numba
import numpy as np

from ._config import JIT


@numba.njit(**JIT)
def adam_step(param, grad, m, v, lr, beta1, beta2, eps, step, clip_factor, decay):
    """In place, for every element ``i`` (all arrays (P,)):

    ``g = clip_factor * grad + decay * param``;
    ``m = beta1 m + (1 - beta1) g``; ``v = beta2 v + (1 - beta2) g^2``;
    ``param -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)``.
    ``step`` counts from 1.
    """
    c1 = 1.0 / (1.0 - beta1 ** step)
    c2 = 1.0 / (1.0 - beta2 ** step)
    for i in range(param.shape[0]):
        g = clip_factor * grad[i] + decay * param[i]
        mi = beta1 * m[i] + (1.0 - beta1) * g
        vi = beta2 * v[i] + (1.0 - beta2) * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= lr * (mi * c1) / (np.sqrt(vi * c2) + eps)
