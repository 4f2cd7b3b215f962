"""Units of rbmcli.training.rbm: Binarizer, TrainOptions, new_model, Trainer (seeds, dtypes, PT).

Numba runs single-threaded here (the ``one_numba_thread`` fixture), except in the test that
checks that the thread count does not change the result.
"""

import math

import numpy as np
import pytest

from rbmcli.errors import InputError
from rbmcli.models.rbm import untiled
from rbmcli.training.rbm import (Binarizer, Trainer, TrainingDiverged, TrainOptions, format_metrics,
                          new_model)


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def prototype_images(n=400, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((4, 64)) < 0.5
    idx = rng.integers(0, 4, n)
    return ((protos[idx] ^ (rng.random((n, 64)) < 0.03)) * 255).astype(np.uint8)


IMAGES = prototype_images()


def run(method="cd", steps=1, seed=0, dtype="float32", epochs=1, binarize="threshold",
        images=IMAGES, valid=None, **kw):
    """Train from scratch as ``rbm train`` does; returns (model, trainer, metrics list)."""
    opts = TrainOptions(n_hidden=16, method=method, steps=steps, epochs=epochs, batch_size=20,
                        lr=0.1, seed=seed, dtype=dtype, binarize=binarize, **kw)
    train = Binarizer(images, binarize)
    model = new_model(opts, train)
    trainer = Trainer(model, opts, train, Binarizer(valid, binarize) if valid is not None
                      else None, np.random.default_rng([seed, 1]))
    metrics = [trainer.run_epoch(epoch) for epoch in range(epochs)]
    return model, trainer, metrics


# ------------------------------------------------------------------ Binarizer


def test_threshold_binarizer_uint8_is_pixel_at_least_128():
    pixels = np.arange(256, dtype=np.uint8)[None, :]
    b = Binarizer(pixels, "threshold")
    rows = b.rows(np.array([0]), None)
    assert rows.dtype == np.uint8
    np.testing.assert_array_equal(rows[0], (np.arange(256) >= 128).astype(np.uint8))
    np.testing.assert_array_equal(b.mean(), rows[0])
    assert len(b) == 1


def test_threshold_binarizer_floats_and_bools():
    for dtype in (np.float32, np.float64):
        below = np.nextafter(dtype(0.5), dtype(0))
        x = np.array([[0.0, below, 0.5, 1.0]], dtype)
        b = Binarizer(x, "threshold")
        np.testing.assert_array_equal(b.rows(np.array([0]), None), [[0, 0, 1, 1]])
    b = Binarizer(np.array([[True, False, True]]), "threshold")
    np.testing.assert_array_equal(b.rows(np.array([0]), None), [[1, 0, 1]])


def test_threshold_binarizer_is_fixed_and_indexed():
    images = np.array([[0, 200], [255, 10], [128, 127]], np.uint8)
    b = Binarizer(images, "threshold")
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(b.rows(np.array([2, 0, 2]), rng), [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(b.rows(np.array([1]), rng), b.rows(np.array([1]), rng))
    np.testing.assert_allclose(b.mean(), [2 / 3, 1 / 3])


def _assert_bernoulli_means(rows, p, n):
    """Each column of ``rows`` (n draws) has mean p within 5 standard errors."""
    mean = rows.mean(axis=0)
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-12
    assert (np.abs(mean - p) <= tol).all(), np.max(np.abs(mean - p) / tol)


def test_stochastic_binarizer_uint8_means_are_pixel_over_255():
    n = 20000
    b = Binarizer(np.arange(256, dtype=np.uint8)[None, :], "stochastic")
    rows = b.rows(np.zeros(n, np.int64), np.random.default_rng(5))
    assert rows.shape == (n, 256) and rows.dtype == np.uint8
    assert set(np.unique(rows)) <= {0, 1}
    p = np.arange(256) / 255
    _assert_bernoulli_means(rows, p, n)
    assert rows[:, 0].sum() == 0 and rows[:, 255].all()
    np.testing.assert_allclose(b.mean(), p)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stochastic_binarizer_floats(dtype):
    n = 20000
    p = np.linspace(0, 1, 11)
    b = Binarizer(p[None, :].astype(dtype), "stochastic")
    rows = b.rows(np.zeros(n, np.int64), np.random.default_rng(6))
    _assert_bernoulli_means(rows, p, n)


def test_stochastic_binarizer_redraws_and_is_seeded():
    images = np.full((50, 64), 128, np.uint8)
    b = Binarizer(images, "stochastic")
    index = np.arange(50)
    first = b.rows(index, np.random.default_rng(1))
    again = b.rows(index, np.random.default_rng(1))
    other = b.rows(index, np.random.default_rng(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    rng = np.random.default_rng(3)
    assert not np.array_equal(b.rows(index, rng), b.rows(index, rng))
    # rows of the same image differ from each other (independent draws)
    assert len({r.tobytes() for r in first}) == 50


# ------------------------------------------------------------------ options and init


def test_train_options_round_trip():
    opts = TrainOptions(n_hidden=7, method="pt", steps=4, lr=0.01, chains=0, batch_size=30)
    d = opts.to_dict()
    assert TrainOptions.from_dict({**d, "unknown_key": 1}) == opts
    assert opts.n_chains == 30
    assert TrainOptions(chains=12).n_chains == 12


def test_centering_trains_and_tracks_the_hidden_mean():
    plain, _, m_plain = run(epochs=3)
    model, trainer, metrics = run(epochs=3, centering=True)
    again, _, _ = run(epochs=3, centering=True)
    np.testing.assert_array_equal(model.weights, again.weights)       # seeded
    assert not np.allclose(model.weights, plain.weights)
    assert model.is_finite()
    assert metrics[-1]["mser_train"] < metrics[0]["mser_train"]
    st = trainer.state
    np.testing.assert_allclose(st["offset_visible"], trainer.train.mean(), rtol=1e-6)
    # the running mean has moved from 0.5 towards the mean of P(h | data)
    hp = model.hidden_probs(trainer.eval_train).mean(axis=0)
    assert np.abs(st["offset_hidden"] - hp).mean() < np.abs(0.5 - hp).mean()


def test_schedule_linear_learning_rate_and_momentum_warmup():
    opts = TrainOptions(epochs=5, lr=0.1, lr_final=0.02, momentum=0.9, momentum_warmup=2)
    got = [opts.schedule(e) for e in range(6)]
    np.testing.assert_allclose([lr for lr, _ in got], [0.1, 0.08, 0.06, 0.04, 0.02, 0.02])
    assert [m for _, m in got] == [0.5, 0.5, 0.9, 0.9, 0.9, 0.9]
    assert TrainOptions(lr=0.1, momentum=0.3, momentum_warmup=3).schedule(0) == (0.1, 0.3)
    assert TrainOptions(epochs=1, lr=0.1, lr_final=0.0).schedule(0) == (0.1, 0.5)


def test_schedule_is_what_the_update_uses():
    """Epoch metrics record the schedule, and a run with a schedule is the run that
    uses those values: a warm-up epoch at momentum 0.5 equals a plain 0.5 epoch."""
    _, _, metrics = run(epochs=3, lr_final=0.05, momentum=0.9, momentum_warmup=1)
    np.testing.assert_allclose([m["lr"] for m in metrics], [0.1, 0.075, 0.05])
    assert [m["momentum"] for m in metrics] == [0.5, 0.9, 0.9]
    warm, _, _ = run(epochs=1, momentum=0.9, momentum_warmup=1)
    plain, _, _ = run(epochs=1, momentum=0.5)
    other, _, _ = run(epochs=1, momentum=0.9)
    np.testing.assert_array_equal(warm.weights, plain.weights)
    assert not np.array_equal(warm.weights, other.weights)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_new_model_initialisation(dtype):
    images = np.zeros((100, 400), np.uint8)
    images[:50, :200] = 255          # pixel means 0.5 then 0
    opts = TrainOptions(n_hidden=300, dtype=dtype, seed=4)
    m = new_model(opts, Binarizer(images, "threshold"))
    assert m.weights.shape == (400, 300) and m.dtype == np.dtype(dtype)
    assert m.visible_bias.dtype == m.hidden_bias.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(m.hidden_bias, 0)
    np.testing.assert_allclose(m.visible_bias[:200], 0, atol=1e-6)
    np.testing.assert_allclose(m.visible_bias[200:], math.log(1e-3 / (1 - 1e-3)), rtol=1e-5)
    assert abs(m.weights.std() - 0.01) < 0.001 and abs(m.weights.mean()) < 0.001
    # the seed decides the weights
    np.testing.assert_array_equal(m.weights, new_model(opts, Binarizer(images, "threshold")).weights)


# ------------------------------------------------------------------ Trainer


@pytest.mark.parametrize("method, steps", [("cd", 1), ("pcd", 2), ("pt", 3)])
def test_a_seed_reproduces_a_run_exactly(method, steps):
    a, ta, ma = run(method, steps, seed=3, epochs=2)
    b, tb, mb = run(method, steps, seed=3, epochs=2)
    for x, y in ((a.weights, b.weights), (a.visible_bias, b.visible_bias),
                 (a.hidden_bias, b.hidden_bias), (a._weights_tiles, b._weights_tiles)):
        np.testing.assert_array_equal(x, y)
    for key in ta.state:
        np.testing.assert_array_equal(ta.state[key], tb.state[key])
    for x, y in zip(ma, mb):
        assert x.keys() == y.keys()
        for key in x:
            if key != "seconds":
                np.testing.assert_array_equal(x[key], y[key])
    c, _, _ = run(method, steps, seed=4, epochs=2)
    assert not np.array_equal(a.weights, c.weights)


def test_stochastic_binarization_run_is_reproducible():
    a, _, _ = run(binarize="stochastic", seed=1)
    b, _, _ = run(binarize="stochastic", seed=1)
    np.testing.assert_array_equal(a.weights, b.weights)


@pytest.mark.parametrize("method, steps", [("cd", 1), ("pcd", 1), ("pt", 3)])
def test_float32_and_float64_agree_after_one_epoch(method, steps):
    m32, _, met32 = run(method, steps, dtype="float32")
    m64, _, met64 = run(method, steps, dtype="float64")
    assert m32.dtype == np.float32 and m64.dtype == np.float64
    # Same random keys; probabilities differ only by rounding, so (almost) every sample
    # is the same bit and the parameters agree to float32 precision.
    np.testing.assert_allclose(m32.weights, m64.weights, rtol=0, atol=1e-4)
    np.testing.assert_allclose(m32.visible_bias, m64.visible_bias, rtol=0, atol=1e-4)
    np.testing.assert_allclose(m32.hidden_bias, m64.hidden_bias, rtol=0, atol=1e-4)
    assert abs(met32[0]["mser_train"] - met64[0]["mser_train"]) < 1e-3
    # and training did something
    assert np.abs(m64.weights).max() > 0.05


def test_weights_transpose_stays_in_sync():
    for method, steps in (("cd", 1), ("pcd", 1), ("pt", 3)):
        m, _, _ = run(method, steps)
        np.testing.assert_array_equal(untiled(m._weights_tiles, m.n_visible), m.weights)


def test_result_does_not_depend_on_the_thread_count():
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("Numba has a single thread")
    one, _, _ = run("pcd", 1, epochs=1)
    numba.set_num_threads(2)
    two, _, _ = run("pcd", 1, epochs=1)
    np.testing.assert_array_equal(one.weights, two.weights)


def test_metrics_and_validation():
    model, trainer, metrics = run(valid=IMAGES[:100], epochs=2)
    for met in metrics:
        assert met["seconds"] >= 0
        assert 0 <= met["mser_train"] <= 1 and 0 <= met["mser_valid"] <= 1
        assert np.isfinite(met["free_energy_gap"])
        assert "swap_acceptance" not in met
    gap = model.free_energy(trainer.eval_valid).mean() - model.free_energy(trainer.eval_train).mean()
    assert metrics[-1]["free_energy_gap"] == pytest.approx(gap)
    assert metrics[-1]["mser_train"] < metrics[0]["mser_train"]
    _, _, plain = run()
    assert np.isnan(plain[0]["mser_valid"]) and np.isnan(plain[0]["free_energy_gap"])


def test_parallel_tempering_state_and_swap_rates():
    model, trainer, metrics = run("pt", 4, epochs=2)
    np.testing.assert_allclose(trainer.betas, [1, 2 / 3, 1 / 3, 0], rtol=1e-6)
    assert trainer.state["replica_visible"].shape == (4 * 20, 64)
    assert trainer.state["replica_hidden"].shape == (4 * 20, 16)
    for met in metrics:
        rates = met["swap_acceptance"]
        assert rates.shape == (3,)
        assert ((rates >= 0) & (rates <= 1)).all()
        assert rates.max() > 0


def test_persistent_chains_state():
    _, trainer, _ = run("pcd", 1, chains=7)
    chains = trainer.state["chains"]
    assert chains.shape == (7, 64) and chains.dtype == np.uint8
    assert set(np.unique(chains)) <= {0, 1}


def test_divergence_raises():
    opts = TrainOptions(n_hidden=16, batch_size=20, lr=1e30, l2=1.0)
    train = Binarizer(IMAGES, "threshold")
    model = new_model(opts, train)
    trainer = Trainer(model, opts, train, None, np.random.default_rng(0))
    with pytest.raises(TrainingDiverged, match="NaN or infinite"):
        trainer.run_epoch()
    assert not model.is_finite()


def test_huge_learning_rate_alone_stays_finite():
    """Documents why the NaN guard needs more than a huge --lr: the units saturate and
    the CD gradient vanishes, so the weights stay finite (about 1e30)."""
    opts = TrainOptions(n_hidden=16, batch_size=20, lr=1e30)
    train = Binarizer(IMAGES, "threshold")
    model = new_model(opts, train)
    Trainer(model, opts, train, None, np.random.default_rng(0)).run_epoch()
    assert model.is_finite() and np.abs(model.weights).max() > 1e20


def test_format_metrics():
    line = format_metrics(3, 10, {"seconds": 4.06, "mser_train": 0.03123,
                                  "mser_valid": np.nan, "free_energy_gap": np.nan})
    assert line == "epoch 3/10  4.1s  mser train 0.0312"
    line = format_metrics(1, 2, {"seconds": 1, "mser_train": 0.5, "mser_valid": 0.25,
                                 "free_energy_gap": -1.234,
                                 "swap_acceptance": np.array([0.5, 0.125])})
    assert line == "epoch 1/2  1.0s  mser train 0.5000  valid 0.2500  F gap -1.23  swaps 0.50 0.12"


@pytest.mark.parametrize("cd_from", ["noise", "data"])
def test_cd_from_noise_chains_do_not_see_the_batch(cd_from):
    """With cd_from = "noise" the negative chains start from white noise, so two updates
    from the same RNG state on different batches differ by the positive statistics only;
    from the data they differ in the negative statistics too."""
    from rbmcli.models.rbm import BernoulliRBM

    opts = TrainOptions(n_hidden=16, method="cd", steps=3, batch_size=20, lr=1.0,
                        momentum=0.0, dtype="float64", cd_from=cd_from)
    train = Binarizer(IMAGES, "threshold")
    base = new_model(opts, train)
    rng = np.random.default_rng(4)
    base.weights = rng.normal(0, 0.5, base.weights.shape)
    deltas = []
    batches = [train.rows(np.arange(20), None), train.rows(np.arange(20, 40), None)]
    for v in batches:
        model = BernoulliRBM(base.weights.copy(), base.visible_bias.copy(),
                             base.hidden_bias.copy())
        trainer = Trainer(model, opts, train, None, np.random.default_rng(9))
        trainer.lr, trainer.momentum = 1.0, 0.0
        trainer.update(v)
        deltas.append(model.weights - base.weights)
    positive = [v.T.astype(np.float64) @ base.hidden_probs(v) / len(v) for v in batches]
    same_negatives = np.allclose(deltas[0] - deltas[1], positive[0] - positive[1],
                                 rtol=0, atol=1e-12)
    assert same_negatives == (cd_from == "noise")


def test_weights_are_read_only_and_assigning_them_keeps_the_tiles_in_step():
    """The tiled transpose the kernels read is private: changing a weight in place is
    refused, and assigning new weights rewrites the transpose too."""
    m, _, _ = run("cd", 1)
    with pytest.raises(ValueError):
        m.weights[0, 0] = 1.0
    new = np.random.default_rng(5).normal(size=m.weights.shape).astype(m.dtype)
    m.weights = new
    np.testing.assert_array_equal(m.weights, new)
    np.testing.assert_array_equal(untiled(m._weights_tiles, m.n_visible), new)
    with pytest.raises(InputError):
        m.weights = new[:, :1]
