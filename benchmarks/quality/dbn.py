"""A deep belief network 500-500-2000 on the RBM-500 of ``rbm500``, against that RBM.

Layer 0 is the RBM-500 of ``rbm500.py`` (``--first-layer``, the ``pcd1-long`` model by
default: stochastic binarisation, centered PCD-1), so the DBN and the RBM share their
first layer and differ only in the prior over its hidden units: the RBM's own, or the
upper layers'. Layers 1 (500-500) and 2 (500-2000) train on samples of the layer below
with the ``rbm500`` pcd1 recipe (centered PCD-1, lr 0.05 decayed to 0, momentum 0.5).
Score: the variational lower bound of Salakhutdinov & Murray (2008) with AIS (100 runs,
14,500 distributions, base rates of the test set's up pass) for the top RBM, on the same
stochastically binarised test set.
Published: DBN 500-500-2000 bound about -86.22 (S&M 2008, Table 2).

Run: ``python benchmarks/quality/dbn.py [--epochs N] [--first KEY] [--threads T]``.
"""

import shutil

from common import FIGURES, OUT, Results, ensure_data, parse_args, rel, train_and_score

PUBLISHED = -86.22


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--epochs", type=int, default=30, help="epochs per upper layer"),
        p.add_argument("--first", default="pcd1-long", help="rbm500 key of layer 0")))
    ensure_data()
    first = OUT / f"rbm500-{args.first}.h5"
    if not first.exists():
        print(f"skipped: {first} is missing (run rbm500.py --only {args.first} first)")
        return
    results = Results("dbn", args.fresh)
    train_args = ["--model", "dbn", "--hidden", "500,500,2000", "--first-layer", rel(first),
                  "--binarize", "stochastic", "--pcd", 1, "--centering", "--lr", 0.05,
                  "--lr-final", 0, "--momentum", 0.5, "--epochs", args.epochs]
    key = f"dbn-on-{args.first}"
    train_and_score(results, key, train_args, OUT / f"{key}.h5", args.threads, bracket=False,
                    base=False, extra={"first_layer": args.first, "published": PUBLISHED})
    # rbm train's own picture: 64 chains, 1,000 Gibbs sweeps of the top RBM, a down pass
    shutil.copy(OUT / f"{key}-samples.png", FIGURES / f"{key}-samples.png")


if __name__ == "__main__":
    main()
