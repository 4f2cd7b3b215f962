"""Is the greedy start the gap to the paper? The labelled DBN pretrained in plain NumPy the
way Hinton, Osindero & Teh (2006) describe it, against ``rbm train``'s binarised recipe.

The paper's greedy phase differs from ``dbn_classify.py``'s in the data each RBM sees:
the first RBM's visible units take the *grey levels* as real values in [0, 1] (not a
stochastic binarisation), and each RBM above trains on the *probabilities* of the hidden
units below (a mean-field up pass, not samples). The kernels of ``rbm train`` take binary
rows only, so this script trains the same 784-500-500-2000 DBN with 10 label units in
NumPy: CD-1 as in Hinton's ``rbm.m`` (hidden states sampled in the positive phase,
visible probabilities in the reconstruction, label probabilities by softmax), 30 epochs
a layer, batches of 100, lr 0.1, momentum 0.5 for 5 epochs then 0.9, weight decay
0.0002, weights drawn as 0.1 N(0, 1). It then classifies the validation digits by the lowest
free energy of the top RBM after a deterministic up pass, as ``rbm score --accuracy``
does, and records the error in ``results/dbn-grey-start.json``.

Run: ``python benchmarks/quality/dbn_grey_start.py [--epochs N] [--seed S] [--threads T]``
(needs ``out/mnist-split.h5`` from ``dbn_classify.py``).
"""

import time

import h5py
import numpy as np
from threadpoolctl import threadpool_limits

from common import OUT, Results, parse_args
from rbmcli.models.labels import logistic, softmax

SPLIT = OUT / "mnist-split.h5"


def train_rbm(data, n_hidden, epochs, rng, labels=None, n_classes=10):
    """CD-1 on real-valued ``data`` (N, nv) in [0, 1], with a softmax label group when
    ``labels`` (N,) is given; returns ``(W, b, c)`` or ``(W, b, c, U, d)``."""
    n, nv = data.shape
    params = [(0.1 * rng.standard_normal((nv, n_hidden))).astype(np.float32),
              np.zeros(nv, np.float32), np.zeros(n_hidden, np.float32)]
    if labels is not None:
        params += [(0.1 * rng.standard_normal((n_classes, n_hidden))).astype(np.float32),
                   np.zeros(n_classes, np.float32)]
        one_hot = np.eye(n_classes, dtype=np.float32)
    velocity = [np.zeros_like(p) for p in params]
    lr, decay = 0.1, 0.0002
    for epoch in range(epochs):
        momentum = 0.5 if epoch < 5 else 0.9
        start = time.perf_counter()
        order = rng.permutation(n)
        for k in range(0, n, 100):
            index = order[k:k + 100]
            v = data[index]
            W, b, c = params[:3]
            a = v @ W + c
            if labels is not None:
                U, d = params[3:]
                y = one_hot[labels[index]]
                a += y @ U
            hp = logistic(a)
            h = (rng.random(hp.shape, dtype=np.float32) < hp).astype(np.float32)
            v_neg = logistic(h @ W.T + b)
            a_neg = v_neg @ W + c
            if labels is not None:
                y_neg = softmax(h @ U.T + d).astype(np.float32)
                a_neg += y_neg @ U
            hp_neg = logistic(a_neg)
            m = len(index)
            grads = [(v.T @ hp - v_neg.T @ hp_neg) / m - decay * W,
                     (v - v_neg).mean(axis=0), (hp - hp_neg).mean(axis=0)]
            if labels is not None:
                grads += [(y.T @ hp - y_neg.T @ hp_neg) / m - decay * U,
                          (y - y_neg).mean(axis=0)]
            for p, vel, g in zip(params, velocity, grads):
                vel *= momentum
                vel += lr * g
                p += vel
        print(f"  {n_hidden} hidden, epoch {epoch + 1}/{epochs}: "
              f"{time.perf_counter() - start:.1f} s, reconstruction error "
              f"{float(np.mean((v_neg - v) ** 2)):.4f}", flush=True)
    return params


def class_errors(x, labels, W, b, c, U, d):
    """Error rate of the label with the lowest free energy of the top RBM given ``x``."""
    a = x @ W + c
    scores = np.stack([d[y] + np.logaddexp(0, a + U[y]).sum(axis=1)
                       for y in range(len(d))], axis=1)
    return float(np.mean(scores.argmax(axis=1) != labels))


def main():
    def options(parser):
        parser.add_argument("--epochs", type=int, default=30)
        parser.add_argument("--seed", type=int, default=0)

    args = parse_args(__doc__, options)
    if not SPLIT.exists():
        print(f"skipped: {SPLIT} is missing (run dbn_classify.py first)")
        return
    with h5py.File(SPLIT) as f:
        x, y = (f["train/images"][()].reshape(-1, 784).astype(np.float32) / 255,
                f["train/labels"][()].astype(np.int64))
        xv, yv = (f["valid/images"][()].reshape(-1, 784).astype(np.float32) / 255,
                  f["valid/labels"][()].astype(np.int64))
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        for n_hidden in (500, 500):
            W, b, c = train_rbm(x, n_hidden, args.epochs, rng)
            x, xv = logistic(x @ W + c), logistic(xv @ W + c)   # mean-field up pass
        top = train_rbm(x, 2000, args.epochs, rng, labels=y)
    seconds = time.perf_counter() - start
    record = {"key": f"grey-start-{args.epochs}-seed{args.seed}",
              "command": "python benchmarks/quality/dbn_grey_start.py "
                         f"--epochs {args.epochs} --seed {args.seed}",
              "seconds": round(seconds, 1), "valid_error": class_errors(xv, yv, *top),
              "train_error_first_10000": class_errors(x[:10000], y[:10000], *top)}
    Results("dbn-grey-start").put(record)
    print(f"validation error {record['valid_error']:.4f}, training error (first 10,000) "
          f"{record['train_error_first_10000']:.4f}, {seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
