"""rbmcli.estimators.BernoulliRBM against scikit-learn's BernoulliRBM on MNIST.

    python benchmarks/bench_estimator.py            # ~6-8 minutes on the shared 2-core box
    python benchmarks/bench_estimator.py --quick    # ~1 minute: fewer rows, one round

1. ``fit`` speed, like for like: both estimators with the same parameters
   (n_components=500, batch_size=100, learning_rate=0.1, random_state=0) on the same
   binarised MNIST rows (pixel >= 128 -> 1.0, float64, as a scikit-learn user passes
   them). n_iter=1 on all 60,000 rows in ``--rounds`` rounds, the two taking turns (who
   goes first alternates, with a 0.5 s pause before each fit so busy-waiting threads
   settle); n_iter=10 on the first ``--rows-10`` rows, one round. Printed: each fit's
   seconds, the medians, and the median over rounds of the per-round ratio sklearn /
   ours (target >= 5).
2. The scikit-learn example "Restricted Boltzmann Machine features for digit
   classification", scaled up: ``Pipeline(BernoulliRBM(500 components, n_iter=10,
   learning_rate=0.06, batch_size=100), LogisticRegression(C=100, max_iter=100))`` on the 60,000 grey
   training images (pixels / 255, float32: the dense path), its accuracy on the 10,000
   test images, next to LogisticRegression(C=100) on the raw pixels.

The data come from the MNIST idx files in ``../shared/data/mnist`` beside the project
root (``--mnist-dir``); when they are absent the script prints ``skipped: ...`` and
exits 0. Threads: ``--threads N`` is the estimator's ``n_jobs`` (default: None, i.e.
``$RBM_THREADS`` or the cores the load average leaves free, see rbmcli/threads.py);
scikit-learn's BLAS uses its own default.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def timed(fit):
    time.sleep(0.5)
    t0 = time.perf_counter()
    result = fit()
    return time.perf_counter() - t0, result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist-dir", default=str(DEFAULT_MNIST))
    ap.add_argument("--quick", action="store_true",
                    help="6,000 rows for n_iter=1, 2,000 for n_iter=10, one round, "
                         "10,000 training rows and n_iter=5 for the pipeline")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the n_iter=1 race")
    ap.add_argument("--rows-10", type=int, default=10000, help="rows of the n_iter=10 race")
    ap.add_argument("--threads", type=int, default=None, help="n_jobs of ours")
    ap.add_argument("--no-pipeline", action="store_true")
    args = ap.parse_args(argv)

    try:
        import sklearn
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import BernoulliRBM as SklearnRBM
        from sklearn.pipeline import Pipeline
    except ImportError:
        print("skipped: scikit-learn is not installed (pip install -e .[bench])")
        return 0
    from rbmcli.errors import InputError
    from rbmcli.estimators import BernoulliRBM
    from rbmcli.io.mnist import load_mnist
    from rbmcli.threads import choose_threads

    try:
        mnist = load_mnist(args.mnist_dir)
    except InputError as err:
        print(f"skipped: MNIST not found ({err})")
        return 0
    train_images, train_labels = mnist["train"]
    test_images, test_labels = mnist["test"]
    rows_1 = 6000 if args.quick else len(train_images)
    rows_10 = 2000 if args.quick else args.rows_10
    rounds = 1 if args.quick else args.rounds

    import numba
    threads, reason = choose_threads(args.threads)
    print(f"# python {platform.python_version()}, numpy {np.__version__}, numba "
          f"{numba.__version__}, scikit-learn {sklearn.__version__}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    print(f"# ours: n_jobs={args.threads} -> {threads} thread(s)"
          + (f" ({reason})" if reason else "") + "; sklearn: its BLAS default")

    X = (train_images >= 128).astype(np.float64)  # binarised MNIST, as sklearn users pass it
    params = dict(n_components=500, batch_size=100, learning_rate=0.1, random_state=0)
    BernoulliRBM(**params, n_iter=1, n_jobs=args.threads).fit(X[:500])  # compile / load kernels

    def race(n_iter, rows, n_rounds):
        data = X[:rows]
        ours_t, theirs_t, ratios = [], [], []
        for r in range(n_rounds):
            fits = {
                "ours": lambda: BernoulliRBM(**params, n_iter=n_iter, n_jobs=args.threads)
                .fit(data),
                "sklearn": lambda: SklearnRBM(**params, n_iter=n_iter).fit(data),
            }
            order = ["sklearn", "ours"] if r % 2 == 0 else ["ours", "sklearn"]
            got = {}
            for name in order:
                got[name], _ = timed(fits[name])
            ours_t.append(got["ours"])
            theirs_t.append(got["sklearn"])
            ratios.append(got["sklearn"] / got["ours"])
            print(f"  n_iter={n_iter} rows={rows} round {r + 1}: sklearn "
                  f"{got['sklearn']:.2f} s, ours {got['ours']:.2f} s, ratio "
                  f"{ratios[-1]:.1f}", flush=True)
        ratio = statistics.median(ratios)
        print(f"fit n_iter={n_iter:<2} rows={rows:<5} sklearn {statistics.median(theirs_t):7.2f} s"
              f"  ours {statistics.median(ours_t):6.2f} s  sklearn/ours {ratio:5.1f}x  "
              f"(target >= 5: {'met' if ratio >= 5 else 'MISSED'})", flush=True)

    print("== fit speed, binarised MNIST, 500 components, batch 100, lr 0.1, float64 ==")
    race(1, rows_1, rounds)
    race(10, rows_10, 1)

    if args.no_pipeline:
        return 0
    print("== Pipeline(BernoulliRBM, LogisticRegression) on grey MNIST (sklearn's RBM "
          "features example, scaled up) ==")
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    n_train = 10000 if args.quick else len(train_images)
    n_iter = 5 if args.quick else 10
    Xtr = (train_images[:n_train] / 255.0).astype(np.float32)
    Xte = (test_images / 255.0).astype(np.float32)
    ytr = train_labels[:n_train]
    rbm = BernoulliRBM(n_components=500, learning_rate=0.06, batch_size=100, n_iter=n_iter,
                       random_state=0, n_jobs=args.threads)
    pipe = Pipeline([("rbm", rbm), ("logistic", LogisticRegression(C=100.0, max_iter=100))])
    t0 = time.perf_counter()
    pipe.fit(Xtr, ytr)
    t_pipe = time.perf_counter() - t0
    acc_pipe = float(np.mean(pipe.predict(Xte) == test_labels))
    raw = LogisticRegression(C=100.0, max_iter=100)
    t0 = time.perf_counter()
    raw.fit(Xtr, ytr)
    t_raw = time.perf_counter() - t0
    acc_raw = float(np.mean(raw.predict(Xte) == test_labels))
    print(f"train {n_train} rows, test {len(Xte)}; RBM n_iter={n_iter}; LogisticRegression "
          "max_iter=100 (lbfgs stops there: ConvergenceWarnings silenced)")
    print(f"  RBM features + LogisticRegression(C=100): accuracy {acc_pipe:.4f}  "
          f"(fit {t_pipe:.1f} s)")
    print(f"  raw pixels + LogisticRegression(C=100):   accuracy {acc_raw:.4f}  "
          f"(fit {t_raw:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
