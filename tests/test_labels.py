"""Class RBMs (rbmcli.models.labels, rbmcli.training.labels) against exact enumeration and
plain NumPy: a 4-visible, 3-hidden, 3-class model is small enough to enumerate every
state (x, y, h): 16 x 3 x 8."""

import itertools

import numpy as np
import pytest

from kernel_uniforms import step_uniforms
from rbmcli.errors import InputError, NotSupported
from rbmcli.kernels.rbm.gradients import apply_update
from rbmcli.models.dbn import DBN
from rbmcli.models.labels import LabelledRBM, LabelUnits
from rbmcli.models.rbm import BernoulliRBM
from rbmcli.training.labels import apply_labelled_update
from rbmcli.models.rbm import transposed_tiles
from rbmcli.training.dbn import DBNTrainOptions
from rbmcli.training.labels import LabelledData
from rbmcli.training.rbm import Binarizer
from rbmcli.sampling.keys import draw_keys
from rbmcli.training.updown import (UpDownTrainer, all_layers, cd_steps, parameters,
                                    up_down_update)

NV, NH, C = 4, 3, 3

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def tiny(seed=0, scale=1.0, dtype=np.float64, classes=None):
    """A class RBM with random parameters of the given scale (large enough that the
    conditionals are far from uniform)."""
    rng = np.random.default_rng(seed)
    labels = LabelUnits(scale * rng.standard_normal((C, NH)).astype(dtype),
                        scale * rng.standard_normal(C).astype(dtype), classes)
    return LabelledRBM(scale * rng.standard_normal((NV, NH)).astype(dtype),
                       scale * rng.standard_normal(NV).astype(dtype),
                       scale * rng.standard_normal(NH).astype(dtype), labels)


def states(n):
    return np.array(list(itertools.product((0, 1), repeat=n)), np.uint8)


X, H = states(NV), states(NH)


def joint(m):
    """exp(-E(x, y, h)) normalised: (16, C, 8) array of probabilities."""
    W, b, c = m.weights, m.visible_bias, m.hidden_bias
    U, d = m.labels.weights, m.labels.bias
    E = np.empty((len(X), C, len(H)))
    for i, x in enumerate(X):
        for y in range(C):
            for j, h in enumerate(H):
                E[i, y, j] = -(b @ x + d[y] + c @ h + x @ W @ h + U[y] @ h)
    p = np.exp(-(E - E.min()))
    return p / p.sum(), E


def test_free_energies_and_class_probabilities_are_exact():
    m = tiny()
    _, E = joint(m)
    F = -np.log(np.exp(-E).sum(axis=2))                          # F(x, y)
    np.testing.assert_allclose(m.class_free_energies(X), F, rtol=1e-12)
    P = np.exp(-F) / np.exp(-F).sum(axis=1, keepdims=True)       # P(y | x)
    np.testing.assert_allclose(m.class_probabilities(X), P, rtol=1e-10)
    np.testing.assert_allclose(m.free_energy(X), -np.log(np.exp(-F).sum(axis=1)), rtol=1e-12)
    # a DBN's classifier is the same numbers
    m.binarization = "threshold"
    labels, probs = m.classify(X.astype(np.float32))
    np.testing.assert_allclose(probs, P, rtol=1e-10)
    np.testing.assert_array_equal(labels, P.argmax(axis=1))


def test_remembered_class_free_energies_are_computed_once_per_array(monkeypatch):
    """Inside the block the class error, free energy and reconstruction of the same rows
    share one computation of the C free energies, with the same results as outside it."""
    model = tiny(4)
    X = np.random.default_rng(1).integers(0, 2, (50, NV)).astype(np.uint8)
    plain = (model.class_probabilities(X), model.free_energy(X),
             model.reconstruction_error(X, np.random.default_rng(2)))
    calls = []
    real = model._class_free_energies
    monkeypatch.setattr(model, "_class_free_energies", lambda rows: calls.append(1) or real(rows))
    with model.remembering_class_free_energies():
        remembered = (model.class_probabilities(X), model.free_energy(X),
                      model.reconstruction_error(X, np.random.default_rng(2)))
        assert len(calls) == 1
        model.class_free_energies(X.copy())     # another array: computed again
        assert len(calls) == 2
    for a, b in zip(plain, remembered):
        np.testing.assert_array_equal(a, b)
    model.class_free_energies(X)
    model.class_free_energies(X)
    assert len(calls) == 4                      # forgotten after the block


def test_conditionals_are_exact():
    m = tiny(1)
    p, _ = joint(m)
    # P(h_j = 1 | x, y)
    p_h_given_xy = p / p.sum(axis=2, keepdims=True)
    rows = [(i, y) for i in range(len(X)) for y in range(C)]
    expected = np.array([p_h_given_xy[i, y] @ H for i, y in rows])
    got = m.hidden_probs_given(X[[i for i, _ in rows]], np.array([y for _, y in rows]))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # P(y | h)
    p_y_given_h = p.sum(axis=0) / p.sum(axis=(0, 1))          # (C, 8)
    np.testing.assert_allclose(m.labels.probs(H), p_y_given_h.T, rtol=1e-10)
    # E[h | x], the label summed out
    p_xh = p.sum(axis=1)
    np.testing.assert_allclose(m.hidden_probs(X), (p_xh / p_xh.sum(axis=1, keepdims=True)) @ H,
                               rtol=1e-10)


def test_the_clamped_label_is_a_plain_rbm_with_shifted_hidden_biases():
    m = tiny(2)
    for k in range(C):
        plain = m.given_label(k)
        assert type(plain) is BernoulliRBM
        # F_k(x) = F(x, k) + d_k: the same distribution of x given y = k
        np.testing.assert_allclose(plain.free_energy(X) - m.class_free_energies(X)[:, k],
                                   m.labels.bias[k], rtol=1e-12)


def test_gibbs_with_the_label_drawn_samples_the_marginal_of_x():
    """8000 chains x 30 sweeps of LabelledRBM.gibbs from noise against the exact P(x):
    the expected total variation distance of 16 cells from 8000 draws is about 0.015
    (and < 0.05 with a wide margin); a sampler that kept any one label is off by 0.1 or
    more on this model (the labels pull the pixels different ways)."""
    rng = np.random.default_rng(0)
    m = LabelledRBM(2 * rng.standard_normal((NV, NH)), np.zeros(NV), np.full(NH, -1.5),
                    LabelUnits(3 * np.eye(C), np.zeros(C)))
    p, _ = joint(m)
    exact = p.sum(axis=(1, 2))
    V, _ = m.gibbs(rng.integers(0, 2, (8000, NV)).astype(np.uint8), 30, rng)
    counts = np.bincount(V @ (1 << np.arange(NV)[::-1]), minlength=16) / len(V)
    assert 0.5 * np.abs(counts - exact).sum() < 0.05
    for k in range(C):  # the test can tell
        frozen = m.given_label(k).free_energy(X)
        wrong = np.exp(-frozen) / np.exp(-frozen).sum()
        assert 0.5 * np.abs(wrong - exact).sum() > 0.1


@pytest.mark.parametrize("centered", [False, True], ids=["plain", "centered"])
def test_one_update_equals_the_joint_rbm_update(centered):
    """The class RBM step (the fused kernel for W, b, c and NumPy for U, d) equals the
    kernel's step of the RBM over [x, e_y] with weights [W; U], biases [b; d]."""
    rng = np.random.default_rng(4)
    m = tiny(4, scale=0.3)
    B = 7
    v_pos, v_neg = (rng.integers(0, 2, (B, NV)).astype(np.uint8) for _ in range(2))
    y_pos, y_neg = rng.integers(0, C, B), rng.integers(0, C, B)
    hp_pos = m.hidden_probs_given(v_pos, y_pos)
    hp_neg = m.hidden_probs_given(v_neg, y_neg)
    state = {name: rng.standard_normal(shape) * 0.01 for name, shape in (
        ("velocity_weights", (NV, NH)), ("velocity_visible_bias", NV),
        ("velocity_hidden_bias", NH), ("velocity_label_weights", (C, NH)),
        ("velocity_label_bias", C))}
    state["offset_label"] = np.array([0.2, 0.5, 0.3])
    mu, lam = rng.random(NV), rng.random(NH)
    scalars = (0.1, 0.5, 0.01, 0.002)  # lr, momentum, l2, l1

    one_hot = np.eye(C)
    big = BernoulliRBM(np.vstack([m.weights, m.labels.weights]),
                       np.concatenate([m.visible_bias, m.labels.bias]), m.hidden_bias)
    vel = {"W": np.vstack([state["velocity_weights"], state["velocity_label_weights"]]),
           "b": np.concatenate([state["velocity_visible_bias"], state["velocity_label_bias"]]),
           "c": state["velocity_hidden_bias"].copy()}
    big_offsets = (np.concatenate([mu, state["offset_label"]]), lam) if centered else \
        (np.zeros(0), np.zeros(0))
    apply_update(big._weights, big._weights_tiles, big.visible_bias, big.hidden_bias,
                 vel["W"], vel["b"], vel["c"],
                 np.hstack([v_pos, one_hot[y_pos].astype(np.uint8)]), hp_pos,
                 np.hstack([v_neg, one_hot[y_neg].astype(np.uint8)]), hp_neg,
                 *scalars, *big_offsets)

    apply_labelled_update(m, state, v_pos, y_pos, hp_pos, v_neg, y_neg, hp_neg, scalars,
                          (mu, lam) if centered else None)
    np.testing.assert_allclose(m.weights, big.weights[:NV], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.labels.weights, big.weights[NV:], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.visible_bias, big.visible_bias[:NV], rtol=1e-12)
    np.testing.assert_allclose(m.labels.bias, big.visible_bias[NV:], rtol=1e-12)
    np.testing.assert_allclose(m.hidden_bias, big.hidden_bias, rtol=1e-12)
    np.testing.assert_allclose(state["velocity_hidden_bias"], vel["c"], rtol=1e-10,
                               atol=1e-15)
    np.testing.assert_allclose(state["velocity_label_weights"], vel["W"][NV:], rtol=1e-10,
                               atol=1e-15)


def test_label_values_and_their_errors():
    m = tiny(classes=np.array([3, 5, 9]))
    np.testing.assert_array_equal(m.labels.index([9, 3, 5]), [2, 0, 1])
    with pytest.raises(InputError, match="labels: 4 is not a class of the model"):
        m.labels.index([3, 4])
    with pytest.raises(InputError, match="classes must be increasing"):
        LabelUnits(np.zeros((3, NH)), np.zeros(3), [1, 1, 2])
    m.binarization = "threshold"
    predicted, _ = m.classify(X)
    assert set(predicted) <= {3, 5, 9}
    with pytest.raises(NotSupported) as err:
        m.sample(2, np.random.default_rng(0), label=4)
    assert err.value.option == "label"
    assert err.value.reason == "4: not a class of the model (3, 5, 9, or all)"


def test_models_without_labels_refuse_label_operations():
    rbm = BernoulliRBM(np.zeros((NV, NH)), np.zeros(NV), np.zeros(NH))
    assert rbm.classes is None
    with pytest.raises(NotSupported, match="has no label units"):
        rbm.classify(X)
    with pytest.raises(NotSupported, match="needs a model trained with --labels"):
        rbm.sample(2, np.random.default_rng(0), label=1)
    with pytest.raises(InputError, match="only the top one may"):
        DBN([tiny(), BernoulliRBM(np.zeros((NH, 2)), np.zeros(NH), np.zeros(2))])
    dbn = DBN([BernoulliRBM(np.zeros((NV, NV)), np.zeros(NV), np.zeros(NV)), tiny()])
    np.testing.assert_array_equal(dbn.classes, [0, 1, 2])


# ------------------------------------------------------------------ up-down fine-tuning


def hinton_up_down(p, data, targets, rng, r, cd_iters):
    """Appendix B of Hinton, Osindero & Teh (2006) for a DBN v-hid-pen-top with labels,
    in its own variable names (vishid: recognition v->hid, hidvis: generative hid->v,
    ...), batch sums divided by the batch size; ``p`` maps names to float64 arrays and is
    updated in place."""
    logistic = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    sample = lambda probs: (rng.random(probs.shape) < probs).astype(float)  # noqa: E731
    n = len(data)
    wakehidstates = sample(logistic(data @ p["vishid"] + p["hidrecbiases"]))
    wakepenstates = sample(logistic(wakehidstates @ p["hidpen"] + p["penrecbiases"]))
    # the top RBM's half-steps (k = 0, 1, ...) draw the kernels' counter-based uniforms
    keys = draw_keys(rng, n)
    half_step = iter(range(2 * cd_iters + 1))

    def sample_top(probs):
        return (step_uniforms(keys, next(half_step), probs.shape[1]) < probs).astype(float)

    postopstates = sample_top(logistic(wakepenstates @ p["pentop"] + targets @ p["labtop"]
                                       + p["topbiases"]))
    poslabtopstatistics = targets.T @ postopstates
    pospentopstatistics = wakepenstates.T @ postopstates
    negtopstates = postopstates
    for _ in range(cd_iters):
        negpenstates = sample_top(logistic(negtopstates @ p["pentop"].T
                                           + p["pengenbiases"]))
        e = np.exp(negtopstates @ p["labtop"].T + p["labgenbiases"])
        neglabprobs = e / e.sum(axis=1, keepdims=True)
        negtopstates = sample_top(logistic(negpenstates @ p["pentop"]
                                           + neglabprobs @ p["labtop"] + p["topbiases"]))
    negpentopstatistics = negpenstates.T @ negtopstates
    neglabtopstatistics = neglabprobs.T @ negtopstates
    sleeppenstates = negpenstates
    sleephidstates = sample(logistic(sleeppenstates @ p["penhid"] + p["hidgenbiases"]))
    sleepvisprobs = logistic(sleephidstates @ p["hidvis"] + p["visgenbiases"])
    psleeppenstates = logistic(sleephidstates @ p["hidpen"] + p["penrecbiases"])
    psleephidstates = logistic(sleepvisprobs @ p["vishid"] + p["hidrecbiases"])
    pvisprobs = logistic(wakehidstates @ p["hidvis"] + p["visgenbiases"])
    phidprobs = logistic(wakepenstates @ p["penhid"] + p["hidgenbiases"])
    p["hidvis"] += r * wakehidstates.T @ (data - pvisprobs) / n
    p["visgenbiases"] += r * (data - pvisprobs).mean(axis=0)
    p["penhid"] += r * wakepenstates.T @ (wakehidstates - phidprobs) / n
    p["hidgenbiases"] += r * (wakehidstates - phidprobs).mean(axis=0)
    p["labtop"] += r * (poslabtopstatistics - neglabtopstatistics) / n
    p["labgenbiases"] += r * (targets - neglabprobs).mean(axis=0)
    p["pentop"] += r * (pospentopstatistics - negpentopstatistics) / n
    p["pengenbiases"] += r * (wakepenstates - negpenstates).mean(axis=0)
    p["topbiases"] += r * (postopstates - negtopstates).mean(axis=0)
    p["hidpen"] += r * sleephidstates.T @ (sleeppenstates - psleeppenstates) / n
    p["penrecbiases"] += r * (sleeppenstates - psleeppenstates).mean(axis=0)
    p["vishid"] += r * sleepvisprobs.T @ (sleephidstates - psleephidstates) / n
    p["hidrecbiases"] += r * (sleephidstates - psleephidstates).mean(axis=0)


def tiny_untied_dbn(rng):
    """A DBN v(6)-hid(5)-pen(4)-top(7) with C label units, untied: its generative
    weights differ from the recognition ones."""
    normal = lambda *shape: 0.5 * rng.standard_normal(shape)  # noqa: E731
    layers = [BernoulliRBM(normal(6, 5), normal(6), normal(5)),
              BernoulliRBM(normal(5, 4), normal(5), normal(4)),
              LabelledRBM(normal(4, 7), normal(4), normal(7),
                          LabelUnits(normal(C, 7), normal(C)))]
    return DBN(layers, [normal(6, 5), normal(5, 4)])


def papers_names(dbn):
    """The parameters of :func:`tiny_untied_dbn` under the names of the paper's
    pseudo-code (copies, float64)."""
    rec, gen, top = dbn.layers, dbn.generative_layers, dbn.top
    p = {"vishid": rec[0].weights, "hidrecbiases": rec[0].hidden_bias,
         "hidvis": gen[0].weights.T, "visgenbiases": gen[0].visible_bias,
         "hidpen": rec[1].weights, "penrecbiases": rec[1].hidden_bias,
         "penhid": gen[1].weights.T, "hidgenbiases": gen[1].visible_bias,
         "pentop": top.weights, "pengenbiases": top.visible_bias, "topbiases": top.hidden_bias,
         "labtop": top.labels.weights, "labgenbiases": top.labels.bias}
    return {name: np.array(value, np.float64) for name, value in p.items()}


WEIGHTS = ("vishid", "hidvis", "hidpen", "penhid", "pentop", "labtop")


def test_one_up_down_step_equals_the_papers_pseudocode():
    rng = np.random.default_rng(5)
    dbn = tiny_untied_dbn(rng)
    gen = dbn.generative_layers
    p = papers_names(dbn)
    before = {name: value.copy() for name, value in p.items()}
    data = rng.integers(0, 2, (9, 6)).astype(np.uint8)
    y = rng.integers(0, C, 9)
    hinton_up_down(p, data.astype(float), np.eye(C)[y], np.random.default_rng(6), 0.3, 3)
    up_down_update(dbn, data, y, np.random.default_rng(6), 0.3, 3)
    got = papers_names(dbn)
    for name, value in p.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    # the step changed every parameter (so the comparison means something), and the
    # tiled transposes followed the weights
    for name, value in before.items():
        assert not np.allclose(got[name], value), name
    plain = BernoulliRBM(gen[0].weights, gen[0].visible_bias, np.zeros(5))
    np.testing.assert_array_equal(gen[0].visible_probs(np.eye(5)), plain.visible_probs(np.eye(5)))
    _, states = gen[0].sample_visible(np.eye(5, dtype=np.uint8), np.random.default_rng(0))
    np.testing.assert_array_equal(states, plain.sample_visible(np.eye(5, dtype=np.uint8),
                                                              np.random.default_rng(0))[1])
    assert gen[1].visible_bias is dbn.layers[1].visible_bias


def test_up_down_steps_with_momentum_and_weight_decay_follow_the_velocity_rule():
    """Three steps with momentum m and weight decay a against the pseudo-code's direction
    g (its step at r = 1): velocity = m velocity + r (g - a W) on the weights (g on the
    biases), and the parameter moves by the velocity."""
    rng = np.random.default_rng(8)
    dbn = tiny_untied_dbn(rng)
    data = rng.integers(0, 2, (9, 6)).astype(np.uint8)
    y = rng.integers(0, C, 9)
    r, m, a = 0.2, 0.7, 0.05
    p = papers_names(dbn)
    velocity = {name: np.zeros_like(value) for name, value in p.items()}
    buffers = [np.zeros_like(array) for array, _ in parameters(dbn)]
    for seed in (6, 7, 8):
        moved = {name: value.copy() for name, value in p.items()}
        hinton_up_down(moved, data.astype(float), np.eye(C)[y], np.random.default_rng(seed),
                       1.0, 3)
        for name in p:
            g = moved[name] - p[name] - (a * p[name] if name in WEIGHTS else 0)
            velocity[name] = m * velocity[name] + r * g
            p[name] = p[name] + velocity[name]
        up_down_update(dbn, data, y, np.random.default_rng(seed), r, 3, buffers, m, a)
    got = papers_names(dbn)
    for name, value in p.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-10, atol=1e-12, err_msg=name)
    # momentum and decay changed the result: the plain steps end elsewhere
    plain = tiny_untied_dbn(np.random.default_rng(8))
    for seed in (6, 7, 8):
        up_down_update(plain, data, y, np.random.default_rng(seed), r, 3)
    for name, value in papers_names(plain).items():
        assert not np.allclose(got[name], value), name


def test_an_up_down_epoch_leaves_the_kernels_tiles_in_step_with_the_weights():
    """The trainer skips the tiled copies' rewrite at each step and rewrites them once at
    the end of the epoch: every layer's tiles then equal those of its weights (and
    differ from the tiles before the epoch)."""
    rng = np.random.default_rng(9)
    dbn = tiny_untied_dbn(rng)
    images = rng.integers(0, 2, (40, 6)).astype(np.uint8)
    train = LabelledData(Binarizer(images, "threshold"), rng.integers(0, C, 40))
    opts = DBNTrainOptions(hidden_sizes=[5, 4, 7], labels=True, fine_tune="up-down",
                           fine_tune_epochs=2, fine_tune_lr=0.5, batch_size=10)
    trainer = UpDownTrainer(dbn, opts, train, None, 0, np.random.default_rng(1))
    before = [layer._weights_tiles.copy() for layer in all_layers(dbn)]
    trainer.run_epoch(0)
    for layer, old in zip(all_layers(dbn), before):
        np.testing.assert_array_equal(layer._weights_tiles, transposed_tiles(layer._weights))
        assert not np.array_equal(layer._weights_tiles, old)


def test_cd_steps_grow_over_the_fine_tuning():
    assert [cd_steps(e, 9) for e in range(9)] == [3, 3, 3, 6, 6, 6, 10, 10, 10]
    assert [cd_steps(e, 2) for e in range(2)] == [3, 6]
    # --fine-tune-cd: its steps in turn, each for an equal part of the epochs
    assert [cd_steps(e, 5, [20]) for e in range(5)] == [20] * 5
    assert [cd_steps(e, 6, [1, 2]) for e in range(6)] == [1, 1, 1, 2, 2, 2]


# ------------------------------------------------------------------ log-likelihoods


def test_log_likelihood_sums_the_classes_exactly_and_by_ais():
    m = tiny(7)
    m.binarization = "threshold"
    p, _ = joint(m)
    exact = np.log(p.sum(axis=(1, 2)))                      # log p(x), all 16 x
    images = X * 255
    s = m.score(images, ll=True, exact=True)
    np.testing.assert_allclose(s.per_sample["ll"], exact, rtol=1e-10)
    assert s.summary["log_z_method"] == "exact" and s.summary["log_z_classes"] == C
    a = m.score(images, ais=True, ais_runs=200, ais_steps=300, seed=1).summary
    assert abs(a["log_z"] - s.summary["log_z"]) < 5 * a["log_z_sd"] + 0.02
    assert a["log_z_lo"] <= a["log_z"] <= a["log_z_hi"]


def test_dbn_bound_with_a_labelled_top_is_below_the_exact_log_likelihood():
    rng = np.random.default_rng(8)
    first = BernoulliRBM(rng.standard_normal((NV, NV)), rng.standard_normal(NV),
                         rng.standard_normal(NV))
    dbn = DBN([first, tiny(9)])
    dbn.binarization = "threshold"
    # exact: p(v) = sum_h1 p(v | h1) p_top(h1), p_top(h1) = exp(-F_top(h1)) / Z_top
    top_logp = -dbn.top.free_energy(X)
    top_logp -= np.logaddexp.reduce(top_logp)
    logits = X @ first.weights.T + first.visible_bias          # rows: h1, columns: v
    log_p_v_given_h = -np.logaddexp(0, -(2.0 * X[None, :, :] - 1) * logits[:, None, :]).sum(2)
    exact = np.logaddexp.reduce(log_p_v_given_h + top_logp[:, None], axis=0)
    s = dbn.score(X * 255, ll=True, exact=True)
    assert s.summary["log_z_classes_top"] == C
    log_z_top = s.summary["log_z_top"]
    np.testing.assert_allclose(log_z_top, np.logaddexp.reduce(-dbn.top.free_energy(X)),
                               rtol=1e-12)
    # the expected bound, exactly: sum_h1 q(h1 | v) (log p(v | h1) + log p_top(h1) - log q)
    q_on = 1 / (1 + np.exp(-(X @ first.weights + first.hidden_bias)))       # (v, units)
    log_q = (X[:, None, :] * np.log(q_on[None]) + (1 - X[:, None, :])
             * np.log(1 - q_on[None])).sum(axis=2)                         # rows: h1
    expected = (np.exp(log_q) * (log_p_v_given_h + top_logp[:, None] - log_q)).sum(axis=0)
    assert np.all(expected <= exact + 1e-12) and np.all(exact - expected > 1e-3)
    bound, mc_sd = dbn.log_likelihood_bound(X, log_z_top, np.random.default_rng(4), 4000)
    assert np.all(np.abs(bound - expected) < 4.5 * mc_sd + 1e-9)
