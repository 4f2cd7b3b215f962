"""Which training improvements pay, measured one at a time on PCD-1 RBM-500.

Every row adds one change to the row above it and reports the test log-likelihood
(AIS and reverse AIS, the `rbm500` protocol), MSER and training time:

1. baseline: PCD-1, learning rate 0.05, momentum 0.5, 100 persistent chains, 30 epochs;
2. + learning rate decayed linearly to 0 (Tieleman 2008);
3. + momentum 0.9 after 5 epochs at 0.5 (Hinton's practical guide), learning rate / 5
   so that the step size lr / (1 - momentum) stays the same;
4. + weight decay (L2 1e-4);

and the report adds two rows from the `rbm500` experiment, which runs the same settings
longer: ``pcd1`` (+ 100 epochs instead of 30) and ``pt10`` (parallel tempering with 10
temperatures instead of PCD-1).

Run: ``python benchmarks/quality/improvements.py [--only KEY] [--threads T]``.
"""

from common import OUT, Results, ensure_data, parse_args, train_and_score

STEPS = [
    ("baseline", ["--pcd", 1, "--lr", 0.05, "--momentum", 0.5, "--epochs", 30]),
    ("lr-decay", ["--pcd", 1, "--lr", 0.05, "--lr-final", 0, "--momentum", 0.5,
                  "--epochs", 30]),
    ("momentum", ["--pcd", 1, "--lr", 0.01, "--lr-final", 0, "--momentum", 0.9,
                  "--momentum-warmup", 5, "--epochs", 30]),
    ("weight-decay", ["--pcd", 1, "--lr", 0.01, "--lr-final", 0, "--momentum", 0.9,
                      "--momentum-warmup", 5, "--l2", 1e-4, "--epochs", 30]),
]


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--only", action="append"))
    ensure_data()
    results = Results("improvements", args.fresh)
    for key, train_args in STEPS:
        if args.only and key not in args.only:
            continue
        train_and_score(results, key, ["--hidden", 500, "--binarize", "stochastic",
                                       *train_args],
                        OUT / f"improve-{key}.h5", args.threads)


if __name__ == "__main__":
    main()
