"""Invertible transforms for normalizing flows, all with one contract:

* ``forward(x) -> (y, logabsdet)``: data towards the base distribution;
* ``inverse(y) -> (x, logabsdet)``: back (``logabsdet`` of the inverse map);
* ``forward_train(x) -> (y, logabsdet, cache)`` and ``backward(cache, gy, gld) ->
  (gx, grads)``: the hand-written backward pass. For the scalar
  ``S = sum(gy * y) + sum(gld * logabsdet)``, ``gx = dS/dx`` and ``grads[name] =
  dS/dparams[name]``.

Arrays are rows: x, y (B, D); logabsdet (B,) float64. Parameters (``params``, trained)
and buffers (``buffers``, saved but not trained: permutations, masks, actnorm's
initialisation flag) are dicts of arrays, so a model is saved and loaded by name.
Matrix products use NumPy (BLAS); the elementwise work runs in the Numba kernels of
``kernels/``.
"""

import numpy as np

from rbmcli.kernels.flows.actnorm import (scale_shift_backward, scale_shift_forward,
                                          scale_shift_inverse)
from rbmcli.kernels.flows.coupling import (additive_coupling_forward, additive_coupling_inverse,
                                           affine_coupling_backward, affine_coupling_forward,
                                           affine_coupling_inverse)
from rbmcli.kernels.flows.logit import logit_backward, logit_forward, sigmoid_inverse
from rbmcli.kernels.flows.mlp import add_bias, bias_relu, column_sums, relu_backward


def _c(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


class Transform:
    """Base class: ``params``, ``buffers``, ``config`` (JSON, enough to rebuild it)."""

    kind = "transform"

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.params = {}
        self.buffers = {}
        self.config = {}

    def forward_train(self, x):
        y, ld = self.forward(x)
        return y, ld, x

    def free_entries(self):
        """dict name -> bool array of the parameter entries that are free (trained);
        only for parameters with structurally fixed entries (MAF's masked weights)."""
        return {}

    def load(self, params, buffers):
        """Copy arrays (by name) into this transform's parameters and buffers;
        KeyError/ValueError on a missing name or a wrong shape."""
        for store, given in ((self.params, params), (self.buffers, buffers)):
            for name, arr in store.items():
                value = np.asarray(given[name])
                if value.shape != arr.shape:
                    raise ValueError(f"{self.kind} {name}: expected shape {arr.shape}, "
                                     f"found {value.shape}")
                arr[...] = value


# ---------------------------------------------------------------- elementwise affine
class ActNorm(Transform):
    """``y = (x + shift) * exp(logscale)`` per dimension, initialised from data: the
    first :meth:`forward_train` sets ``shift = -mean(x)``, ``logscale = -log std(x)``
    (Kingma & Dhariwal 2018) and records it in the buffer ``initialized``."""

    kind = "actnorm"

    def __init__(self, dim, dtype=np.float32):
        super().__init__(dtype)
        self.config = {"dim": int(dim)}
        self.params = {"shift": np.zeros(dim, self.dtype),
                       "logscale": np.zeros(dim, self.dtype)}
        self.buffers = {"initialized": np.zeros(1, np.int8)}

    @property
    def initialized(self):
        return bool(self.buffers["initialized"][0])

    def initialize(self, x):
        """Set shift and logscale so that the output of ``x`` has zero mean and unit
        variance per dimension."""
        x = np.asarray(x, np.float64)
        self.params["shift"][...] = -x.mean(axis=0)
        self.params["logscale"][...] = -np.log(x.std(axis=0) + 1e-6)
        self.buffers["initialized"][0] = 1

    def _shift(self):
        return self.params["shift"]

    def forward(self, x):
        x = _c(x, self.dtype)
        y = np.empty_like(x)
        scale_shift_forward(x, self._shift(), self.params["logscale"], y)
        return y, np.full(len(x), self.params["logscale"].sum(dtype=np.float64))

    def forward_train(self, x):
        if "initialized" in self.buffers and not self.initialized:
            self.initialize(x)
        y, ld = self.forward(x)
        return y, ld, y

    def inverse(self, y):
        y = _c(y, self.dtype)
        x = np.empty_like(y)
        scale_shift_inverse(y, self._shift(), self.params["logscale"], x)
        return x, np.full(len(y), -self.params["logscale"].sum(dtype=np.float64))

    def backward(self, y, gy, gld):
        gy = _c(gy, self.dtype)
        gx = np.empty_like(gy)
        gshift = np.empty_like(self.params["logscale"])
        glog = np.empty_like(gshift)
        scale_shift_backward(gy, y, self.params["logscale"], gx, gshift, glog)
        glog += self.dtype.type(np.sum(gld))
        grads = {"logscale": glog}
        if "shift" in self.params:
            grads["shift"] = gshift
        return gx, grads


class DiagonalScale(ActNorm):
    """NICE's last layer: ``y = x * exp(logscale)`` (Dinh et al. 2014), no shift and no
    data-dependent initialisation."""

    kind = "diagonal_scale"

    def __init__(self, dim, dtype=np.float32):
        Transform.__init__(self, dtype)
        self.config = {"dim": int(dim)}
        self.params = {"logscale": np.zeros(dim, self.dtype)}
        self._zero = np.zeros(dim, self.dtype)

    def _shift(self):
        return self._zero


# ------------------------------------------------------------------------ LU linear

def lu_decompose(a):
    """``a = P @ L @ U`` by Gaussian elimination with partial pivoting (the convention of
    ``scipy.linalg.lu``, without needing SciPy).

    a: (n, n). Returns P (n, n) permutation, L (n, n) unit lower triangular, U (n, n)
    upper triangular, float64.
    """
    u = np.array(a, dtype=np.float64)
    n = u.shape[0]
    lower = np.eye(n)
    rows = np.arange(n)
    for k in range(n - 1):
        i = k + int(np.argmax(np.abs(u[k:, k])))
        if i != k:
            u[[k, i], :] = u[[i, k], :]
            lower[[k, i], :k] = lower[[i, k], :k]
            rows[[k, i]] = rows[[i, k]]
        if u[k, k] != 0.0:
            lower[k + 1:, k] = u[k + 1:, k] / u[k, k]
            u[k + 1:, k:] -= np.outer(lower[k + 1:, k], u[k, k:])
    return np.eye(n)[rows].T, lower, np.triu(u)


class LULinear(Transform):
    """An invertible linear map ``y = x W^T`` with ``W = P L (U + diag(sign exp(logdiag)))``
    (the vector form of Glow's invertible 1x1 convolution): P a fixed permutation, L unit
    lower triangular, U strictly upper triangular. ``log|det W| = sum(logdiag)``.
    Initialised at a random rotation. Only the strict triangles of ``lower`` and
    ``upper`` are used (their gradients are masked), and they enter scaled by
    ``1 / sqrt(D)`` (L = I + tril(lower, -1) / sqrt(D)): Adam moves every entry by about
    the learning rate per step, which for a dense D x D matrix with D = 784 changed the
    map so fast that training diverged; the scale gives the map a step size that does
    not grow with D."""

    kind = "lu_linear"

    def __init__(self, dim, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.config = {"dim": int(dim)}
        self.factor_scale = 1.0 / np.sqrt(dim)
        rng = rng if rng is not None else np.random.default_rng(0)
        q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        p, lower, upper = lu_decompose(q)
        diag = np.diag(upper)
        self.buffers = {"perm": np.argmax(p, axis=1).astype(np.int64),
                        "sign": np.sign(diag).astype(self.dtype)}
        self.params = {"lower": _c(np.tril(lower, -1) / self.factor_scale, self.dtype),
                       "upper": _c(np.triu(upper, 1) / self.factor_scale, self.dtype),
                       "logdiag": _c(np.log(np.abs(diag)), self.dtype)}

    def _factors(self):
        p = self.params
        d = len(p["logdiag"])
        c = self.dtype.type(self.factor_scale)
        lower = np.tril(p["lower"] * c, -1) + np.eye(d, dtype=self.dtype)
        upper = np.triu(p["upper"] * c, 1)
        upper[np.diag_indices(d)] = self.buffers["sign"] * np.exp(p["logdiag"])
        return lower, upper

    def weight(self):
        """W (D, D) = P L U' as a dense matrix (for tests and inspection)."""
        lower, upper = self._factors()
        return (lower @ upper)[self.buffers["perm"]]  # (P M)[i] = M[perm[i]]

    def forward(self, x):
        y, ld, _ = self.forward_train(x)
        return y, ld

    def forward_train(self, x):
        x = _c(x, self.dtype)
        lower, upper = self._factors()
        a = x @ upper.T
        b = a @ lower.T
        y = _c(b[:, self.buffers["perm"]], self.dtype)
        ld = np.full(len(x), self.params["logdiag"].sum(dtype=np.float64))
        return y, ld, (x, a, lower, upper)

    def inverse(self, y):
        y = _c(y, self.dtype)
        lower, upper = self._factors()
        b = np.empty_like(y)
        b[:, self.buffers["perm"]] = y
        # triangular solves in float64 (LAPACK's general solver; D is at most a few thousand)
        a = np.linalg.solve(lower.astype(np.float64), b.T.astype(np.float64))
        x = np.linalg.solve(upper.astype(np.float64), a)
        return _c(x.T, self.dtype), np.full(len(y), -self.params["logdiag"].sum(dtype=np.float64))

    def backward(self, cache, gy, gld):
        x, a, lower, upper = cache
        gb = np.empty_like(a)
        gb[:, self.buffers["perm"]] = gy
        ga = gb @ lower
        c = self.dtype.type(self.factor_scale)
        glower = np.tril(gb.T @ a, -1) * c
        gx = ga @ upper
        gup = ga.T @ x
        gdiag = np.diag(gup) * np.diag(upper) + self.dtype.type(np.sum(gld))
        return gx, {"lower": glower, "upper": np.triu(gup, 1) * c,
                    "logdiag": _c(gdiag, self.dtype)}


# ------------------------------------------------------------------------- couplings
class MLP:
    """The conditioner of a coupling layer: ``sizes[0] -> ... -> sizes[-1]`` with ReLU
    hidden layers and a linear output layer initialised at zero (so a new coupling
    layer is the identity). He-normal hidden weights."""

    def __init__(self, sizes, dtype, rng):
        self.sizes = list(sizes)
        self.params = {}
        for k, (m, n) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = k == len(sizes) - 2
            w = np.zeros((m, n)) if last else rng.standard_normal((m, n)) * np.sqrt(2.0 / m)
            self.params[f"w{k}"] = _c(w, dtype)
            self.params[f"b{k}"] = np.zeros(n, dtype)

    def forward(self, x):
        """Output (B, sizes[-1]) and the cache of activations [x, h1, ..., h_last]."""
        acts = [x]
        n_layers = len(self.sizes) - 1
        h = x
        for k in range(n_layers):
            h = h @ self.params[f"w{k}"]
            (add_bias if k == n_layers - 1 else bias_relu)(h, self.params[f"b{k}"])
            acts.append(h)
        return h, acts

    def backward(self, acts, gout):
        """(gx, grads) for the loss gradient ``gout`` w.r.t. the output."""
        grads = {}
        g = gout
        n_layers = len(self.sizes) - 1
        for k in reversed(range(n_layers)):
            gb = np.empty(self.sizes[k + 1], g.dtype)
            if k == n_layers - 1:
                column_sums(g, gb)
            else:
                relu_backward(g, acts[k + 1], gb)
            grads[f"b{k}"] = gb
            grads[f"w{k}"] = acts[k].T @ g
            g = g @ self.params[f"w{k}"].T
        return g, grads


def coupling_split(dim, parity, image_shape=None):
    """(idx_a, idx_b): the conditioning and the transformed coordinates of an
    alternating mask. With an image shape the mask is a checkerboard ((row + col) % 2
    == parity is transformed), else the index parity. Both int64, sorted."""
    if image_shape is not None and image_shape[0] * image_shape[1] == dim:
        r, c = np.indices(image_shape)
        odd = ((r + c) % 2).ravel()
    else:
        odd = np.arange(dim) % 2
    idx_b = np.flatnonzero(odd == parity)
    idx_a = np.flatnonzero(odd != parity)
    return idx_a.astype(np.int64), idx_b.astype(np.int64)


class Coupling(Transform):
    """A coupling layer: ``y_a = x_a``; ``y_b = x_b * exp(s(x_a)) + t(x_a)`` (affine,
    RealNVP, Dinh et al. 2017) or ``y_b = x_b + t(x_a)`` (additive, NICE), with
    ``s = scale * tanh(raw)`` and ``[raw, t]`` (or ``t``) from an MLP of ``x_a``."""

    kind = "coupling"

    def __init__(self, dim, parity, hidden, hidden_layers=2, affine=True,
                 image_shape=None, dtype=np.float32, rng=None):
        super().__init__(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.affine = bool(affine)
        self.config = {"dim": int(dim), "parity": int(parity), "hidden": int(hidden),
                       "hidden_layers": int(hidden_layers), "affine": self.affine,
                       "image_shape": list(image_shape) if image_shape else None}
        idx_a, idx_b = coupling_split(dim, parity, image_shape)
        self.buffers = {"idx_a": idx_a, "idx_b": idx_b}
        n_out = len(idx_b) * (2 if affine else 1)
        self.mlp = MLP([len(idx_a)] + [hidden] * hidden_layers + [n_out], self.dtype, rng)
        self.params = dict(self.mlp.params)
        if affine:
            self.params["scale"] = np.ones(len(idx_b), self.dtype)

    def _halves(self, x):
        return (_c(x[:, self.buffers["idx_a"]], self.dtype),
                _c(x[:, self.buffers["idx_b"]], self.dtype))

    def _merge(self, a, b):
        out = np.empty((a.shape[0], a.shape[1] + b.shape[1]), self.dtype)
        out[:, self.buffers["idx_a"]] = a
        out[:, self.buffers["idx_b"]] = b
        return out

    def forward(self, x):
        y, ld, _ = self.forward_train(x)
        return y, ld

    def forward_train(self, x):
        xa, xb = self._halves(x)
        h, acts = self.mlp.forward(xa)
        yb = np.empty_like(xb)
        ld = np.zeros(len(x), np.float64)
        if self.affine:
            affine_coupling_forward(xb, h, self.params["scale"], yb, ld)
        else:
            additive_coupling_forward(xb, h, yb)
        return self._merge(xa, yb), ld, (xb, h, acts)

    def inverse(self, y):
        ya, yb = self._halves(y)
        h, _ = self.mlp.forward(ya)
        xb = np.empty_like(yb)
        ld = np.zeros(len(y), np.float64)
        if self.affine:
            affine_coupling_inverse(yb, h, self.params["scale"], xb, ld)
        else:
            additive_coupling_inverse(yb, h, xb)
        return self._merge(ya, xb), ld

    def backward(self, cache, gy, gld):
        xb, h, acts = cache
        gya, gyb = self._halves(gy)
        grads = {}
        if self.affine:
            gxb = np.empty_like(xb)
            gh = np.empty_like(h)
            gscale = np.empty_like(self.params["scale"])
            affine_coupling_backward(gyb, np.ascontiguousarray(gld, np.float64), xb, h,
                                     self.params["scale"], gxb, gh, gscale)
            grads["scale"] = gscale
        else:
            gxb, gh = gyb, gyb.copy()
        gxa, mlp_grads = self.mlp.backward(acts, gh)
        grads.update(mlp_grads)
        return self._merge(gya + gxa, gxb), grads


# ---------------------------------------------------------------------------- logit
class Logit(Transform):
    """The elementwise logit flow for data in [0, 1]: ``y = logit(lam + (1 - 2 lam) u)``;
    its inverse is the (rescaled) sigmoid. No parameters."""

    kind = "logit"

    def __init__(self, dim, lam=1e-6, dtype=np.float64):
        super().__init__(dtype)
        self.lam = float(lam)
        self.config = {"dim": int(dim), "lam": self.lam}

    def forward(self, u):
        u = _c(u, self.dtype)
        y = np.empty_like(u)
        ld = np.empty(len(u), np.float64)
        logit_forward(u, self.lam, y, ld)
        return y, ld

    def inverse(self, y):
        y = _c(y, self.dtype)
        u = np.empty_like(y)
        ld = np.empty(len(y), np.float64)
        sigmoid_inverse(y, self.lam, u, ld)
        return u, ld

    def backward(self, u, gy, gld):
        gu = np.empty_like(u)
        logit_backward(_c(gy, self.dtype), np.ascontiguousarray(gld, np.float64), u,
                       self.lam, gu)
        return gu, {}


# ------------------------------------------------------------------------ composite
class Composite(Transform):
    """A flow: transforms applied in order; logabsdets add up; the inverse runs the
    inverses in reverse order. Parameters are named ``"<index>.<name>"``."""

    kind = "composite"

    def __init__(self, transforms):
        super().__init__(transforms[0].dtype if transforms else np.float64)
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            for name, arr in t.params.items():
                self.params[f"{i:02d}.{name}"] = arr
            for name, arr in t.buffers.items():
                self.buffers[f"{i:02d}.{name}"] = arr

    def forward(self, x):
        total = np.zeros(len(x), np.float64)
        for t in self.transforms:
            x, ld = t.forward(x)
            total += ld
        return x, total

    def inverse(self, y):
        total = np.zeros(len(y), np.float64)
        for t in reversed(self.transforms):
            y, ld = t.inverse(y)
            total += ld
        return y, total

    def free_entries(self):
        return {f"{i:02d}.{name}": mask for i, t in enumerate(self.transforms)
                for name, mask in t.free_entries().items()}

    def forward_train(self, x):
        total = np.zeros(len(x), np.float64)
        caches = []
        for t in self.transforms:
            x, ld, cache = t.forward_train(x)
            caches.append(cache)
            total += ld
        return x, total, caches

    def backward(self, caches, gy, gld):
        grads = {}
        for i in reversed(range(len(self.transforms))):
            gy, g = self.transforms[i].backward(caches[i], gy, gld)
            for name, value in g.items():
                grads[f"{i:02d}.{name}"] = value
        return gy, grads


TRANSFORMS = {cls.kind: cls for cls in (ActNorm, DiagonalScale, LULinear, Coupling, Logit)}
