"""One fused Adam step with an L2 weight-decay term and a gradient scale factor
(global-norm clipping), for one parameter array flattened to 1-D."""

import numba
import numpy as np

from rbmcli.kernels._config import JIT


@numba.njit(**JIT)
def adam_step(param, grad, m, v, step_size, beta1, beta2, eps_hat, clip_factor, decay):
    """In place, for every element ``i`` (all arrays (P,), scalars of their dtype so the
    loop stays in float32 for float32 parameters):

    ``g = clip_factor * grad + decay * param``;
    ``m = beta1 m + (1 - beta1) g``; ``v = beta2 v + (1 - beta2) g^2``;
    ``param -= step_size * m / (sqrt(v) + eps_hat)``.

    With ``step_size = lr sqrt(1 - beta2^t) / (1 - beta1^t)`` and
    ``eps_hat = eps sqrt(1 - beta2^t)`` this is exactly Adam's bias-corrected update
    ``lr m_hat / (sqrt(v_hat) + eps)`` at step t (see :func:`adam_scalars`).
    """
    one = beta1 / beta1
    a1 = one - beta1
    a2 = one - beta2
    for i in range(param.shape[0]):
        g = clip_factor * grad[i] + decay * param[i]
        mi = beta1 * m[i] + a1 * g
        vi = beta2 * v[i] + a2 * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= step_size * mi / (np.sqrt(vi) + eps_hat)


def adam_scalars(lr, beta1, beta2, eps, step):
    """(step_size, eps_hat) of :func:`adam_step` for Adam's step ``step`` (from 1)."""
    c1 = 1.0 - beta1 ** step
    c2 = 1.0 - beta2 ** step
    return lr * np.sqrt(c2) / c1, eps * np.sqrt(c2)
