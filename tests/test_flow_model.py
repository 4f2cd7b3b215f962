"""Flow models: a normalised density, the loss gradient, the model file round trip,
the trainer (Adam, early stopping, resume, NaN guard) and the data space."""

import math

import h5py
import numpy as np
import pytest

import flow_reference as ref
from rbmcli.flows.data import bits_per_pixel, to_logit_space, to_unit
from rbmcli.flows.model import FlowModel
from rbmcli.io.flowfile import FlowFile, save_flow
from rbmcli.flows.train import FlowOptions, FlowTrainer, TrainingDiverged
from rbmcli.io.modelfile import load_model
from test_flow_layers import randomize


def tiny(flow_type="glow", dim=4, dtype=np.float64, seed=0, layers=2):
    m = FlowModel.create(flow_type, dim, layers, 5, 1, None, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    for t in m.flow.transforms:
        randomize(t, rng)
        t.load(t.params, t.buffers)  # MAF re-applies its masks
    return m


@pytest.mark.parametrize("flow_type", ["nice", "realnvp", "glow", "maf"])
def test_two_dimensional_density_integrates_to_one(flow_type):
    m = tiny(flow_type, dim=2)
    for t in m.flow.transforms:  # keep the density inside the grid
        for name in ("logscale", "logdiag"):
            if name in t.params:
                t.params[name][...] = np.clip(t.params[name], -0.3, 0.3)
    h = 0.05
    g = np.arange(-30, 30, h) + h / 2  # holds all but ~1e-6 of the mass (checked)
    xx, yy = np.meshgrid(g, g)
    pts = np.column_stack([xx.ravel(), yy.ravel()])
    total = np.exp(m.log_prob(pts, batch=500000)).sum() * h * h
    assert abs(total - 1) < 1e-4, total


def test_one_dimensional_logit_density_integrates_to_one():
    from rbmcli.flows.layers import Logit

    # p(y) of u ~ U(0, 1) mapped by the logit flow: exp(log|du/dy|) on its range
    lg = Logit(1, 1e-2)
    edge = math.log(0.99 / 0.01)
    y = np.linspace(-edge, edge, 200001)[:, None]
    _, ld_inv = lg.inverse(y)
    total = np.exp(ld_inv).sum() * (y[1, 0] - y[0, 0])
    assert abs(total - 1) < 1e-4


@pytest.mark.parametrize("flow_type", ["nice", "realnvp", "glow", "maf"])
def test_loss_gradient_matches_finite_differences(flow_type):
    m = tiny(flow_type)
    y = np.random.default_rng(2).normal(0, 1, (7, 4))
    loss, grads = m.loss_and_grads(y)
    assert loss == pytest.approx(-m.log_prob(y).mean(), rel=1e-12)
    free = m.flow.free_entries()
    for name, p in m.params.items():
        num = ref.numerical_gradient(lambda: -m.log_prob(y).mean(), p)
        keep = free.get(name, np.ones(p.shape, bool))
        np.testing.assert_allclose(grads[name][keep], num[keep], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    lp, gy = m.grad_log_prob(y)
    num = ref.numerical_gradient(lambda: m.log_prob(y).sum(), y)
    np.testing.assert_allclose(gy, num, rtol=1e-5, atol=1e-6)


def test_sampling_inverts_the_flow():
    m = tiny("glow", dim=6)
    rng = np.random.default_rng(0)
    y = m.sample_space(50, rng, temperature=0.7)
    z, _ = m.flow.forward(y)
    z_ref = np.random.default_rng(0).standard_normal((50, 6)) * 0.7
    np.testing.assert_allclose(z, z_ref, rtol=1e-8, atol=1e-8)


def test_reloaded_model_is_identical(tmp_path):
    m = FlowModel.create("glow", 6, 2, 5, 1, (2, 3), np.float32, 0)
    y = np.random.default_rng(1).normal(-3, 2, (20, 6)).astype(np.float32)
    m.initialize(y)  # actnorm's data-dependent initialisation
    path = tmp_path / "f.h5"
    save_flow(path, FlowFile(model=m, hyperparameters={"model": "glow"}, image_shape=(2, 3)))
    ff = load_model(path)
    m2 = ff.model
    assert m2.flow_type == "glow" and m2.dtype == np.float32
    np.testing.assert_array_equal(m2.log_prob(y), m.log_prob(y))
    np.testing.assert_array_equal(m2.sample_space(5, np.random.default_rng(3)),
                                  m.sample_space(5, np.random.default_rng(3)))
    for t in m2.flow.transforms:
        if t.kind == "actnorm":
            assert t.initialized
    # the initialisation is not redone on the reloaded model
    m2.initialize(y * 3)
    np.testing.assert_array_equal(m2.log_prob(y), m.log_prob(y))
    with h5py.File(path) as f:
        assert f.attrs["model_type"] == "flow" and f.attrs["data_space"] == "logit"


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_adam_kernel_matches_reference(dtype, rtol):
    from rbmcli.kernels.flows.adam import adam_scalars, adam_step

    rng = np.random.default_rng(0)
    p, g, m, v = (rng.standard_normal(11) for _ in range(4))
    v = np.abs(v)
    p[0] = g[0] = m[0] = v[0] = 0  # a zero entry with zero gradient stays 0 (MAF masks)
    want = ref.adam(p, g, m, v, 0.01, 0.9, 0.99, 1e-8, 3, 0.5, 0.1)
    p, g, m, v = (a.astype(dtype) for a in (p, g, m, v))
    step_size, eps_hat = adam_scalars(0.01, 0.9, 0.99, 1e-8, 3)
    t = np.dtype(dtype).type
    adam_step(p, g, m, v, t(step_size), t(0.9), t(0.99), t(eps_hat), t(0.5), t(0.1))
    for got, w in zip((p, m, v), want):
        np.testing.assert_allclose(got, w, rtol=rtol, atol=1e-12)
    assert p.dtype == dtype and p[0] == 0


def test_dequantization_and_bits_per_pixel():
    pixels = np.array([[0, 255, 128]], np.uint8)
    y, ld = to_logit_space(pixels, np.random.default_rng(0), dtype=np.float64)
    u = (pixels + np.random.default_rng(0).random(pixels.shape)) / 256
    y_ref, ld_ref = ref.logit(u, 1e-6)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12)
    np.testing.assert_allclose(ld, ld_ref, rtol=1e-12)
    np.testing.assert_allclose(to_unit(y), u, atol=1e-9)
    # a uniform density on [0, 256)^D is 8 bits per pixel
    ll_uniform_u = 0.0
    assert bits_per_pixel(ll_uniform_u - ld, ld, 3) == pytest.approx(8.0)
    # a density of 2 per unit of u (half the range) saves one bit per pixel
    assert bits_per_pixel(3 * math.log(2) - ld_ref, ld_ref, 3) == pytest.approx(7.0)


# ---------------------------------------------------------------------------- trainer
def blobs(n=240, seed=0):
    """Tiny 3x3 'images': a bright bar at one of three rows, noisy 8-bit grey."""
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 3, 3))
    img[np.arange(n), rng.integers(0, 3, n)] = 200
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8).reshape(n, 9)


def trainer(model="glow", seed=0, state=None, lr=1e-2, patience=10):
    opts = FlowOptions(model=model, layers=2, hidden_units=8, epochs=3, batch_size=20,
                       lr=lr, warmup=5, seed=seed, dtype="float64", patience=patience)
    m = FlowModel.create(model, 9, 2, 8, 1, (3, 3), np.float64, seed)
    data = blobs()
    t = FlowTrainer(m, opts, data[:200], data[200:], np.random.default_rng([seed, 1]), state)
    t.initialize()
    return t


@pytest.mark.parametrize("model", ["nice", "realnvp", "glow", "maf"])
def test_training_raises_the_validation_likelihood(model):
    t = trainer(model)
    before = t.model.log_prob(t.valid_y).mean()
    for epoch in range(1, 6):
        metrics = t.run_epoch()
        t.after_epoch(epoch, metrics)
    assert metrics["valid_ll"] > before + 3, (before, metrics)
    for name, free in t.model.flow.free_entries().items():  # MAF: masks survive Adam
        assert (t.model.params[name][~free] == 0).all()


def test_resume_at_an_epoch_boundary_gives_the_same_parameters():
    a = trainer()
    for epoch in (1, 2):
        a.after_epoch(epoch, a.run_epoch())
    b = trainer()
    b.after_epoch(1, b.run_epoch())
    snap = b.snapshot()
    c = trainer()
    c.restore(snap)
    c.after_epoch(2, c.run_epoch())
    for name in a.model.params:
        np.testing.assert_array_equal(a.model.params[name], c.model.params[name])


def test_early_stopping_keeps_the_best_parameters():
    t = trainer(patience=2)
    for epoch, ll in enumerate([-10.0, -5.0, -6.0, -7.0], start=1):
        best_before = {k: v.copy() for k, v in t.model.params.items()}
        improved = t.after_epoch(epoch, {"valid_ll": ll})
        assert improved == (epoch <= 2)
        if epoch == 2:
            kept = best_before
        next(iter(t.model.params.values()))[...] += 1.0  # parameters move on
    assert t.stopped and int(t.state["best_epoch"]) == 2
    for k, v in t.best_params().items():
        np.testing.assert_array_equal(v, kept[k])


def test_nan_guard():
    t = trainer()
    bad = t.valid_y[:20].copy()
    bad[0, 0] = np.nan
    with pytest.raises(TrainingDiverged):
        t.update(bad)


def test_mala_samples_the_conditional_density():
    """Final states of independent MALA chains with y_0 clamped against the exact
    conditional p(y_1 | y_0) of a 2-D flow, computed on a grid."""
    from rbmcli.flows.inpaint import mala

    m = tiny("glow", dim=2, seed=4)
    for t in m.flow.transforms:
        for name in ("logscale", "logdiag"):
            if name in t.params:
                t.params[name][...] = np.clip(t.params[name], -0.3, 0.3)
    y0 = 0.3
    grid = np.linspace(-40, 40, 80001)
    p = np.exp(m.log_prob(np.column_stack([np.full_like(grid, y0), grid]), batch=100000))
    p /= p.sum()
    mean = (grid * p).sum()
    sd = np.sqrt(((grid - mean) ** 2 * p).sum())
    n = 2000
    rng = np.random.default_rng(0)
    start = np.column_stack([np.full(n, y0), rng.normal(mean, 3 * sd, n)])
    known = np.zeros((n, 2), bool)
    known[:, 0] = True
    y, acceptance, _ = mala(m, start, known, 400, rng, eps0=0.5 * sd)
    assert (y[:, 0] == y0).all()
    assert 0.3 < np.median(acceptance) < 0.9
    # independent chains: the mean is within 4 standard errors, the sd within 10%
    assert abs(y[:, 1].mean() - mean) < 4 * sd / np.sqrt(n), (y[:, 1].mean(), mean, sd)
    assert abs(y[:, 1].std() / sd - 1) < 0.1, (y[:, 1].std(), sd)
    below = (grid < np.median(y[:, 1]))
    assert abs(p[below].sum() - 0.5) < 4 * 0.5 / np.sqrt(n)  # the median too
