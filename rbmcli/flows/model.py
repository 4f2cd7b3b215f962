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

from rbmcli.flows.data import LAMBDA, as_pixels, bits_per_pixel, to_logit_space, to_unit
from rbmcli.flows.inpaint import mala, start_states
from rbmcli.models.base import Inpainting, Model, NotSupported, pixel_rows, refuse
from rbmcli.sampling.bernoulli import SampleResult
from rbmcli.scoring.bernoulli import Scores

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


class FlowModel(Model):
    """A flow with a standard normal base density.

    Parameters
    ----------
    flow_type : str
        ``"nice"``, ``"realnvp"`` or ``"glow"`` (a label; the transforms define it).
    transforms : list of Transform
    """

    kind = "flow"
    binarization = "none (dequantized, logit space)"
    lam = LAMBDA
    """The logit map's lambda: pixels ``u`` in [0, 1] become ``logit(lam + (1 - 2 lam) u)``."""
    default_metrics = ("ll",)
    default_inpaint_count = 100

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

    def sample_space(self, n, rng, temperature=1.0):
        """``n`` samples (n, D) in the model's (logit) space: ``z ~ N(0, temperature^2 I)``
        mapped by the inverse."""
        z = (rng.standard_normal((n, self.n_visible)) * temperature).astype(self.dtype)
        y, _ = self.flow.inverse(z)
        return y

    # ------------------------------------------------ the interface of rbmcli.models.base
    def parameter_arrays(self):
        return [self.params[k] for k in sorted(self.params)]

    def sample(self, n, rng, *, method=None, steps=None, init=None, replicas=None,
               temperature=None, on_step=None, label=None):
        """``n`` exact samples, ``z ~ N(0, T^2 I)`` (``temperature`` T, default 1) through
        the inverse flow, as pixel intensities in [0, 1] (``on_step`` sees them once)."""
        for name, value in (("method", method), ("steps", steps), ("init", init),
                            ("replicas", replicas), ("label", label)):
            refuse(name, value, "is for RBMs, not flows")
        temperature = 1.0 if temperature is None else float(temperature)
        if not np.isfinite(temperature) or temperature < 0:
            raise NotSupported(f"must be a finite number >= 0, found {temperature}",
                               "temperature")
        images = to_unit(self.sample_space(n, rng, temperature), self.lam).astype(np.float32)
        if on_step:
            on_step(0, images)
        result = SampleResult(images=images, states=None, method="flow", steps=0)
        result.attrs = {"method": "flow", "temperature": temperature,
                        "images_are": "sigmoid-space intensities of flow samples"}
        result.label = f"{self.flow_type}, temperature {temperature:g}"
        return result

    def fill(self, observed, known, rng, *, method=None, steps=None, samples=8,
             replicas=None, on_step=None):
        """The unknown pixels sampled by MALA (Metropolis-adjusted Langevin) under the exact
        density in logit space (:mod:`rbmcli.flows.inpaint`), ``steps`` (default 1000)
        steps from a tempered sample; the posterior mean is the mean of the completions."""
        refuse("method", method, "is for RBMs; flows use MALA")
        refuse("replicas", replicas, "is for RBMs; flows use MALA")
        steps = self.fill_plan(method, steps)[1]
        grey = pixel_rows(observed, self.n_visible).astype(np.float64)
        known = np.broadcast_to(np.asarray(known, bool), grey.shape)
        n, d = grey.shape
        y_known, _ = to_logit_space(as_pixels(grey), rng, self.lam, self.dtype)
        rep_known = np.repeat(known, samples, axis=0)
        y0 = start_states(self, np.repeat(y_known, samples, axis=0), rep_known, rng)
        y, acceptance, eps = mala(self, y0, rep_known, steps, rng,
                                  on_step=(lambda t, y: on_step(t, to_unit(y, self.lam)))
                                  if on_step else None)
        completions = to_unit(y, self.lam).reshape(n, samples, d)
        notes = [f"MALA acceptance (second half) median {np.median(acceptance):.2f}, step "
                 f"size median {np.median(eps):.3g}"]
        return Inpainting(completions, completions.mean(axis=1), grey, notes)

    def score(self, images, *, seed=0, log=None, progress=None, ll=None, **rbm_only):
        """Exact log-likelihoods of the dequantized images (noise seed ``seed``) in logit
        space: ``ll`` (nats), its standard error ``ll_sd``, and bits per pixel ``bpp`` on the
        0..256 scale. The RBMs' metrics and log Z options raise NotSupported."""
        for name in ("cache", "source", "base_source"):
            rbm_only.pop(name, None)
        for name, value in rbm_only.items():
            if value not in (None, False):
                raise NotSupported("is for RBMs; flows have --ll (exact)", name)
        pixels = as_pixels(pixel_rows(images, self.n_visible))
        y, logdet = to_logit_space(pixels, np.random.default_rng([seed, 17]), self.lam,
                                   self.dtype)
        ll = self.log_prob(y)
        bpp = bits_per_pixel(ll, logdet, self.n_visible)
        n = len(ll)
        if log:
            log(f"ll: nats of the dequantized data in logit space (lambda {self.lam:g}, "
                f"dequantization noise seed {seed}); bpp: bits per pixel on the 0..256 scale")
        summary = {"n": n, "ll": float(ll.mean()), "ll_sd": float(ll.std() / np.sqrt(n)),
                   "bpp": float(bpp.mean()), "bpp_sd": float(bpp.std() / np.sqrt(n))}
        return Scores(summary, {"ll": ll, "bpp": bpp})

    def fill_plan(self, method=None, steps=None):
        steps = steps or 1000
        return f"MALA, {steps} steps", steps

    def filters(self):
        raise NotSupported("is for RBMs; a flow has no filters", "filters")

    def describe(self, file):
        """Lines of ``rbm info``: architecture, data space, training, best validation."""
        hp = file.hyperparameters
        lines = [f"model\tflow ({self.flow_type})",
                 f"dimensions\t{self.n_visible} ({self.image_shape[0]}x{self.image_shape[1]} "
                 "images)",
                 f"transforms\t{', '.join(t.kind for t in self.flow.transforms)}",
                 f"parameters\t{sum(p.size for p in self.params.values()):,} ({self.dtype})",
                 f"data space\tdequantized pixels in logit space, lambda {self.lam:g}",
                 f"training\tlayers {hp.get('layers')}, hidden {hp.get('hidden_layers')} x "
                 f"{hp.get('hidden_units')}, lr {hp.get('lr')}, warm-up {hp.get('warmup')}, "
                 f"clip {hp.get('clip')}, weight decay {hp.get('weight_decay')}, batch "
                 f"{hp.get('batch_size')}, seed {hp.get('seed')}",
                 f"epochs\t{file.epoch}" + (" (interrupted; resume with --resume)"
                                            if file.interrupted else "")]
        hist = file.history
        if "valid_ll" in hist and len(hist["valid_ll"]):
            best = int(file.state.get("best_epoch", len(hist["valid_ll"])))
            lines.append(f"valid ll\tbest "
                         f"{float(file.state.get('best_valid_ll', float('nan'))):.2f}"
                         f" at epoch {best} (the saved parameters)")
            lines.append(f"train time\t{hist['seconds'].sum():.1f} s")
        return lines
