"""The seed lecture's grid: hidden units x prior on the weights.

Hidden units 50, 100, 300, 500; priors uniform (none), Gaussian (L2) and Laplace (L1)
with strengths 1e-3, 1e-4, 1e-5, 1e-6: 36 RBMs, each trained by PCD-1 for 20 epochs
with the recipe of `improvements` (centered gradient, lr 0.05 decayed linearly to 0,
momentum 0.5) on stochastically binarised MNIST, then scored on the test set: log-likelihood by AIS
(100 runs, 14,500 steps; forward only, to keep the grid affordable), MSER, and the
first 100 filters as a picture (``out/grid-<key>-filters.png``).

Run: ``python benchmarks/quality/grid.py [--epochs N] [--hidden H ...] [--threads T]``.
"""

from common import OUT, Results, ensure_data, parse_args, train_and_score

HIDDEN = (50, 100, 300, 500)
PRIORS = [("none", [])] + [(f"{kind}-{s:g}", [f"--{kind}", s])
                           for kind in ("l2", "l1") for s in (1e-3, 1e-4, 1e-5, 1e-6)]


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--epochs", type=int, default=20),
        p.add_argument("--hidden", type=int, nargs="*", default=list(HIDDEN))))
    ensure_data()
    results = Results("grid", args.fresh)
    for hidden in args.hidden:
        for prior, prior_args in PRIORS:
            key = f"h{hidden}-{prior}"
            train_and_score(results, key, [
                "--hidden", hidden, "--pcd", 1, "--centering", "--lr", 0.05, "--lr-final", 0,
                "--momentum", 0.5, "--binarize", "stochastic",
                "--epochs", args.epochs, *prior_args], OUT / f"grid-{key}.h5", args.threads,
                bracket=False, extra={"hidden": hidden, "prior": prior})


if __name__ == "__main__":
    main()
