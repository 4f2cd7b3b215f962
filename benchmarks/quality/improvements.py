"""Which training improvements pay, measured one at a time on PCD-1 RBM-500.

Each row changes one thing and reports the test log-likelihood (AIS and reverse AIS,
the `rbm500` protocol), MSER and training time, all after 30 epochs with 100
persistent chains:

1. baseline: PCD-1, learning rate 0.05, momentum 0.5;
2. lr-decay: + learning rate decayed linearly to 0 (Tieleman 2008);
3. momentum: lr-decay with momentum 0.9 after 5 epochs at 0.5 (Hinton's practical
   guide) and the learning rate / 5, so that the step size lr / (1 - momentum) stays
   the same;
4. weight-decay: lr-decay + L2 1e-4;
5. centering: lr-decay + the centered gradient (Melchior, Fischer & Wiskott 2016).

The report adds the rows of the `rbm500` experiment, which trains longer (100 epochs)
with PCD-1 and with parallel tempering.

Run: ``python benchmarks/quality/improvements.py [--only KEY] [--threads T]``.
"""

from common import OUT, Results, ensure_data, parse_args, train_and_score

STEPS = [
    ("baseline", ["--pcd", 1, "--lr", 0.05, "--momentum", 0.5, "--epochs", 30]),
    ("lr-decay", ["--pcd", 1, "--lr", 0.05, "--lr-final", 0, "--momentum", 0.5,
                  "--epochs", 30]),
    ("momentum", ["--pcd", 1, "--lr", 0.01, "--lr-final", 0, "--momentum", 0.9,
                  "--momentum-warmup", 5, "--epochs", 30]),
    ("weight-decay", ["--pcd", 1, "--lr", 0.05, "--lr-final", 0, "--momentum", 0.5,
                      "--l2", 1e-4, "--epochs", 30]),
    ("centering", ["--pcd", 1, "--lr", 0.05, "--lr-final", 0, "--momentum", 0.5,
                   "--centering", "--epochs", 30]),
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
