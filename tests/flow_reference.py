"""Plain NumPy (float64) references for the flow kernels and transforms."""

import numpy as np


def scale_shift(x, shift, logscale):
    return (x + shift) * np.exp(logscale)


def affine_coupling(xb, h, scale):
    d = xb.shape[1]
    s = scale * np.tanh(h[:, :d])
    return xb * np.exp(s) + h[:, d:], s.sum(axis=1)


def logit(u, lam):
    v = lam + (1 - 2 * lam) * u
    y = np.log(v / (1 - v))
    return y, np.sum(np.log((1 - 2 * lam) / (v * (1 - v))), axis=1)


def sigmoid_inverse(y, lam):
    v = 1 / (1 + np.exp(-y))
    return (v - lam) / (1 - 2 * lam), np.sum(np.log(v * (1 - v) / (1 - 2 * lam)), axis=1)


def mlp(x, params, n_layers):
    h = x
    for k in range(n_layers):
        h = h @ params[f"w{k}"] + params[f"b{k}"]
        if k < n_layers - 1:
            h = np.maximum(h, 0)
    return h


def adam(param, grad, m, v, lr, b1, b2, eps, step, clip, decay):
    g = clip * grad + decay * param
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mh, vh = m / (1 - b1 ** step), v / (1 - b2 ** step)
    return param - lr * mh / (np.sqrt(vh) + eps), m, v


def jacobian(f, x, eps=1e-6):
    """Central-difference Jacobian (D, D) of f: (D,) -> (D,) at x."""
    d = len(x)
    jac = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = eps
        jac[:, j] = (f(x + e) - f(x - e)) / (2 * eps)
    return jac


def numerical_gradient(f, a, eps=1e-6):
    """Central-difference gradient of the scalar f() w.r.t. the array a (changed in
    place and restored)."""
    g = np.zeros(a.shape)
    flat, gflat = a.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g
