"""Normalizing-flow density models (NICE, RealNVP, Glow) over vectors.

A :class:`FlowModel` is a :class:`~rbmcli.flows.layers.Composite` of transforms that
maps data ``y`` (B, D) to ``z`` with a standard normal base density, so
``log p(y) = log N(z; 0, I) + sum of the transforms' log|det J|``. Architectures
(``L`` = ``layers``; every coupling's conditioner is an MLP with ``hidden_layers``
ReLU layers of ``hidden`` units; alternating checkerboard masks):

* ``nice``: L additive couplings, then a diagonal scaling (Dinh et al. 2014);
* ``realnvp``: actnorm, then L x (affine coupling, actnorm) (Dinh et al. 2017; actnorm
  stands in for the batch normalisation that the MAF paper puts between layers);
* ``glow``: L x (actnorm, LU linear, affine coupling) (Kingma & Dhariwal 2018, with the
  1x1 convolution as a full D x D invertible linear map);
* ``maf``: actnorm, then L x (masked autoregressive affine layer, actnorm), the order
  reversed from one layer to the next (Papamakarios et al. 2017; actnorm in place of
  their batch normalisation).
"""

import math

import numpy as np

from rbmcli.flows.layers import TRANSFORMS, ActNorm, Composite, Coupling, DiagonalScale, LULinear
from rbmcli.flows.maf import MaskedAutoregressive

FLOW_TYPES = ("nice", "realnvp", "glow", "maf")
KINDS = dict(TRANSFORMS, maf=MaskedAutoregressive)


def build_transforms(flow_type, dim, layers, hidden, hidden_layers, image_shape, dtype, rng):
    """The list of transforms of an architecture (see the module docstring)."""
    def coupling(i, affine):
        return Coupling(dim, i % 2, hidden, hidden_layers, affine, image_shape, dtype, rng)

    if flow_type == "nice":
        return [coupling(i, False) for i in range(layers)] + [DiagonalScale(dim, dtype)]
    if flow_type == "realnvp":
        out = [ActNorm(dim, dtype)]
        for i in range(layers):
            out += [coupling(i, True), ActNorm(dim, dtype)]
        return out
    if flow_type == "glow":
        out = []
        for i in range(layers):
            out += [ActNorm(dim, dtype), LULinear(dim, dtype, rng), coupling(i, True)]
        return out
    if flow_type == "maf":
        out = [ActNorm(dim, dtype)]
        for i in range(layers):
            out += [MaskedAutoregressive(dim, hidden, hidden_layers, i % 2 == 1, dtype, rng),
                    ActNorm(dim, dtype)]
        return out
    raise ValueError(f"flow type must be one of {FLOW_TYPES}, found {flow_type!r}")


class FlowModel:
    """A flow with a standard normal base density.

    Parameters
    ----------
    flow_type : str
        ``"nice"``, ``"realnvp"`` or ``"glow"`` (a label; the transforms define it).
    transforms : list of Transform
    """

    model_type = "flow"

    def __init__(self, flow_type, transforms):
        self.flow_type = flow_type
        self.flow = Composite(transforms)
        self.n_visible = int(transforms[0].config["dim"])
        self.dtype = self.flow.dtype

    @classmethod
    def create(cls, flow_type, dim, layers=5, hidden=1024, hidden_layers=2,
               image_shape=None, dtype=np.float32, seed=0):
        """A new, randomly initialised model (couplings start as the identity)."""
        rng = np.random.default_rng(seed)
        return cls(flow_type, build_transforms(flow_type, dim, layers, hidden, hidden_layers,
                                               image_shape, np.dtype(dtype), rng))

    # -------------------------------------------------------------- (de)serialising
    @property
    def params(self):
        return self.flow.params

    @property
    def buffers(self):
        return self.flow.buffers

    def architecture(self):
        """JSON-able list of ``{"kind": ..., "config": ...}``, one per transform."""
        return [{"kind": t.kind, "config": t.config} for t in self.flow.transforms]

    @classmethod
    def from_architecture(cls, flow_type, architecture, params, buffers, dtype):
        """Rebuild a model from :meth:`architecture` and arrays named like
        :attr:`params` and :attr:`buffers`. KeyError/ValueError when they do not fit."""
        rng = np.random.default_rng(0)
        transforms = []
        for i, item in enumerate(architecture):
            kind, config = item["kind"], dict(item["config"])
            if kind not in KINDS:
                raise ValueError(f"unknown transform kind {kind!r}")
            extra = {"rng": rng} if kind in ("lu_linear", "coupling", "maf") else {}
            t = KINDS[kind](dtype=dtype, **config, **extra)
            prefix = f"{i:02d}."
            t.load({k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)},
                   {k[len(prefix):]: v for k, v in buffers.items() if k.startswith(prefix)})
            transforms.append(t)
        return cls(flow_type, transforms)

    def is_finite(self):
        return all(np.isfinite(a).all() for a in self.params.values())

    # ------------------------------------------------------------------ densities
    def _base_log_prob(self, z):
        z = np.asarray(z, np.float64)
        return -0.5 * np.einsum("ij,ij->i", z, z) - 0.5 * z.shape[1] * math.log(2 * math.pi)

    def log_prob(self, y, batch=1000):
        """log p(y) (B,) float64 in nats, for data ``y`` (B, D) in the model's space."""
        out = np.empty(len(y), np.float64)
        for s in range(0, len(y), batch):
            z, ld = self.flow.forward(y[s:s + batch])
            out[s:s + batch] = self._base_log_prob(z) + ld
        return out

    def loss_and_grads(self, y):
        """Mean negative log-likelihood of the batch ``y`` (B, D) and its gradient
        (dict name -> array like :attr:`params`). Uninitialised actnorms are
        initialised from this batch first."""
        z, ld, caches = self.flow.forward_train(y)
        lp = self._base_log_prob(z) + ld
        n = len(y)
        gz = (z / n).astype(self.dtype, copy=False)
        _, grads = self.flow.backward(caches, gz, np.full(n, -1.0 / n))
        return float(-lp.mean()), grads

    def grad_log_prob(self, y):
        """(log p(y) (B,), d log p / dy (B, D)) by the backward pass."""
        z, ld, caches = self.flow.forward_train(y)
        lp = self._base_log_prob(z) + ld
        gy, _ = self.flow.backward(caches, (-z).astype(self.dtype, copy=False),
                                   np.ones(len(y)))
        return lp, gy

    def initialize(self, y):
        """Data-dependent initialisation (actnorm) from the batch ``y``."""
        self.flow.forward_train(y)

    def sample(self, n, rng, temperature=1.0):
        """``n`` samples (n, D): ``z ~ N(0, temperature^2 I)`` mapped by the inverse."""
        z = (rng.standard_normal((n, self.n_visible)) * temperature).astype(self.dtype)
        y, _ = self.flow.inverse(z)
        return y
