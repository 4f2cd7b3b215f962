"""RBM-500 on MNIST against the published anchors, under one protocol.

Protocol (Salakhutdinov & Murray 2008): training and test images binarised
stochastically (each pixel ~ Bernoulli(intensity), redrawn every epoch in training,
drawn once with seed 0 for the test set), 500 hidden units, test log-likelihood by AIS
with 100 runs and 14,500 intermediate distributions from a base-rate model of the
training set, and (our addition) reverse AIS from 100 Gibbs chains started at test
images, which tends to under-estimate where AIS over-estimates.

Methods: CD-1, CD-25, PCD-1 and parallel tempering with 10 temperatures, each with the
recipe that the `improvements` experiment and the runs below found best: the centered
gradient, learning rate 0.05 decayed linearly to 0, momentum 0.5, 100 epochs (CD-25: 50;
one of its epochs costs about 12 of PCD-1); plus
``pcd1-long``, PCD-1 for 200 epochs with momentum 0.9 (after 5 epochs at 0.5),
learning rate 0.01 decayed to 0 and L2 1e-4; ``pcd1-xl``, the same for 400 epochs; and
`rbm train`'s defaults.

Run: ``python benchmarks/quality/rbm500.py [--epochs N] [--only KEY] [--threads T]``.
"""

from common import OUT, Results, ensure_data, parse_args, train_and_score

ANCHORS = {"cd1": -125.53, "cd25": -86.34}   # S&M 2008, Table 1 (RBM-500)


def configs(epochs):
    common = ["--hidden", 500, "--binarize", "stochastic", "--centering", "--lr", 0.05,
              "--lr-final", 0, "--momentum", 0.5, "--epochs", epochs]
    long_recipe = ["--hidden", 500, "--binarize", "stochastic", "--centering", "--lr", 0.01,
                   "--lr-final", 0, "--momentum", 0.9, "--momentum-warmup", 5, "--l2", 1e-4]
    return {
        "cd1": ["--cd", 1, *common],
        "cd25": ["--cd", 25, *common[:-1], max(1, epochs // 2)],
        "pcd1": ["--pcd", 1, *common],
        "pcd1-long": ["--pcd", 1, *long_recipe, "--epochs", 2 * epochs],
        "pcd1-xl": ["--pcd", 1, *long_recipe, "--epochs", 4 * epochs],
        "pt10": ["--pt", 10, *common],
        "default": [],
    }


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--epochs", type=int, default=100),
        p.add_argument("--only", action="append", default=None)))
    ensure_data()
    results = Results("rbm500", args.fresh)
    for key, train_args in configs(args.epochs).items():
        if args.only and key not in args.only:
            continue
        train_and_score(results, key, train_args, OUT / f"rbm500-{key}.h5", args.threads,
                        extra={"anchor": ANCHORS.get(key)})


if __name__ == "__main__":
    main()
