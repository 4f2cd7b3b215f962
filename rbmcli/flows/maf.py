"""The masked autoregressive transform of MAF (Papamakarios, Pavlakou & Murray 2017),
built from the same pieces as the coupling layers: a MADE conditioner (Germain et al.
2015), an MLP whose weights are masked so that output ``i`` sees only the inputs that
come before ``i`` in the layer's order, and the affine kernels of
:mod:`rbmcli.kernels.flows.coupling` applied to all coordinates at once:

``y_i = x_i * exp(s_i(x_<i)) + t_i(x_<i)``, ``s = scale * tanh(raw)``,
``log|det J| = sum_i s_i`` (the Jacobian is triangular in the order).

Density evaluation and training take one pass; the inverse (sampling) takes D passes,
one coordinate at a time.
"""

import numpy as np

from rbmcli.flows.layers import MLP, Transform, _c
from rbmcli.kernels.flows.coupling import (affine_coupling_backward, affine_coupling_forward,
                                           affine_coupling_inverse)


def made_degrees(dim, hidden, hidden_layers, reverse):
    """Degrees of the inputs (1..D, the order; reversed with ``reverse``) and of each
    hidden layer (cycling through 1..D-1, as in MADE's deterministic variant)."""
    order = np.arange(1, dim + 1)
    if reverse:
        order = order[::-1].copy()
    hidden_deg = [(np.arange(hidden) % max(dim - 1, 1)) + 1 for _ in range(hidden_layers)]
    return order, hidden_deg


def made_masks(order, hidden_deg):
    """0/1 masks of the MLP's weight matrices: hidden unit of degree m sees inputs of
    degree <= m; output i (both halves [raw, t]) sees hidden units of degree < deg(i)."""
    masks = []
    prev = order
    for deg in hidden_deg:
        masks.append((deg[None, :] >= prev[:, None]).astype(np.float64))
        prev = deg
    out = (order[None, :] > prev[:, None]).astype(np.float64)
    masks.append(np.concatenate([out, out], axis=1))
    return masks


class MaskedAutoregressive(Transform):
    """One MAF layer (affine MADE); see the module docstring."""

    kind = "maf"

    def __init__(self, dim, hidden, hidden_layers=1, reverse=False, dtype=np.float32,
                 rng=None):
        super().__init__(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.config = {"dim": int(dim), "hidden": int(hidden),
                       "hidden_layers": int(hidden_layers), "reverse": bool(reverse)}
        self.order, hidden_deg = made_degrees(dim, hidden, hidden_layers, reverse)
        self.masks = [_c(m, self.dtype) for m in made_masks(self.order, hidden_deg)]
        self.mlp = MLP([dim] + [hidden] * hidden_layers + [2 * dim], self.dtype, rng)
        for k, mask in enumerate(self.masks):
            self.mlp.params[f"w{k}"] *= mask
        self.params = dict(self.mlp.params)
        self.params["scale"] = np.ones(dim, self.dtype)

    def _conditioner(self, x):
        # Masked entries of the weights are zero and stay zero: they are not free
        # parameters (their gradient is masked, so Adam never moves them, and
        # :meth:`load` re-applies the masks).
        return self.mlp.forward(x)

    def free_entries(self):
        return {f"w{k}": mask != 0 for k, mask in enumerate(self.masks)}

    def load(self, params, buffers):
        super().load(params, buffers)
        for k, mask in enumerate(self.masks):
            self.params[f"w{k}"] *= mask

    def forward(self, x):
        y, ld, _ = self.forward_train(x)
        return y, ld

    def forward_train(self, x):
        x = _c(x, self.dtype)
        h, acts = self._conditioner(x)
        y = np.empty_like(x)
        ld = np.zeros(len(x), np.float64)
        affine_coupling_forward(x, h, self.params["scale"], y, ld)
        return y, ld, (x, h, acts)

    def inverse(self, y):
        y = _c(y, self.dtype)
        x = np.zeros_like(y)
        xi = np.empty_like(y)
        ld = np.zeros(len(y), np.float64)
        for i in np.argsort(self.order):  # coordinates in increasing degree
            h, _ = self._conditioner(x)
            affine_coupling_inverse(y, h, self.params["scale"], xi, ld)
            x[:, i] = xi[:, i]
        h, _ = self._conditioner(x)
        affine_coupling_inverse(y, h, self.params["scale"], xi, ld)
        return x, ld

    def backward(self, cache, gy, gld):
        x, h, acts = cache
        gy = _c(gy, self.dtype)
        gx = np.empty_like(x)
        gh = np.empty_like(h)
        gscale = np.empty_like(self.params["scale"])
        affine_coupling_backward(gy, np.ascontiguousarray(gld, np.float64), x, h,
                                 self.params["scale"], gx, gh, gscale)
        gx_cond, grads = self.mlp.backward(acts, gh)
        for k, mask in enumerate(self.masks):
            grads[f"w{k}"] = grads[f"w{k}"] * mask
        grads["scale"] = gscale
        return gx + gx_cond, grads
