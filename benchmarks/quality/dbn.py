"""Deep belief networks on an RBM-500 of ``rbm500``, each against its own first layer.

Layer 0 is an RBM-500 of ``rbm500.py`` (``--first-layer``; by default ``pcd1-xl``:
stochastic binarisation, centered PCD-1, 400 epochs), so every DBN and that RBM share
their first layer and differ only in the prior over its hidden units: the RBM's own, or
the upper layers'. A layer stacked on an RBM with at least as many hidden units as that
RBM has visible units starts as that RBM turned upside down (``rbm train`` does this), so
the bound starts at the first layer's log-likelihood; the upper layers then train on
samples of the layer below with the recipe of the first layer (centered PCD-1, lr 0.01
decayed to 0, momentum 0.9, L2 1e-4).

* ``dbn2``: 784-500-2000, the two-hidden-layer DBN of Salakhutdinov & Murray (2008),
  published bound -86.22;
* ``dbn3``: 784-500-500-2000, the network of Hinton, Osindero & Teh (2006), unlabelled.

Score: the variational lower bound of Salakhutdinov & Murray (2008) with AIS (100 runs,
14,500 distributions, base rates of the test set's up pass) for the top RBM, on the same
stochastically binarised test set; layer 0 is scored again (AIS and reverse AIS, the
``rbm500`` protocol) as the model file on disk, so the two rows describe the same RBM.

Run: ``python benchmarks/quality/dbn.py [--epochs N] [--first KEY] [--only dbn2]
[--upper-lr R] [--threads T]`` (a rate other than 0.01 adds ``-lrR`` to the key).
"""

import json

from common import (AIS, DATA, FIGURES, OUT, Results, ensure_data, parse_args, rel,
                    run_rbm, command_text, train_and_score)

PUBLISHED = {"dbn2": -86.22, "dbn3": None}
HIDDEN = {"dbn2": "500,2000", "dbn3": "500,500,2000"}
def recipe(lr):
    """The upper layers' options (in the order the recorded commands have them)."""
    return ["--binarize", "stochastic", "--pcd", 1, "--centering", "--lr", lr, "--lr-final", 0,
            "--momentum", 0.9, "--momentum-warmup", 5, "--l2", 0.0001]


LR = 0.01
"""The first layer's learning rate: the upper layers' default (``--upper-lr``)."""


def score_first_layer(results, first, key, threads):
    """Score the RBM file ``first`` as the rbm500 protocol does (AIS, reverse AIS, base
    rates of the training set); recorded under ``key``, skipped when recorded."""
    cmd = ["score", f"{rel(DATA)}:test", "-m", rel(first), "--mser", "--ll", "--bracket",
           "--base", f"{rel(DATA)}:train", *AIS, "--json", "--no-cache"]
    old = results.find(key)
    if old and old["score_command"] == command_text(cmd):
        print(f"{key}: recorded, skipped")
        return old
    print(f"{key}: {command_text(cmd)}", flush=True)
    out, seconds = run_rbm(cmd, threads)
    trained = json.loads((first.parent / f"{first.name}.trained.json").read_text()) \
        if (first.parent / f"{first.name}.trained.json").exists() else {}
    record = {"key": key, "score_command": command_text(cmd),
              "score_seconds": round(seconds, 1), "scores": json.loads(out),
              "train_command": trained.get("train_command"),
              "train_seconds": trained.get("train_seconds")}
    print(f"{key}: ll {record['scores']['ll']:.2f} reverse "
          f"{record['scores']['ll_reverse']:.2f}", flush=True)
    results.put(record)
    return record


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--epochs", type=int, default=50, help="epochs per upper layer"),
        p.add_argument("--first", default="pcd1-xl", help="rbm500 key of layer 0"),
        p.add_argument("--upper-lr", type=float, default=LR,
                       help="learning rate of the upper layers (decayed to 0)"),
        p.add_argument("--only", choices=sorted(HIDDEN), action="append")))
    ensure_data()
    first = OUT / f"rbm500-{args.first}.h5"
    if not first.exists():
        print(f"skipped: {first} is missing (run rbm500.py --only {args.first} first)")
        return
    results = Results("dbn", args.fresh)
    score_first_layer(results, first, f"layer0-{args.first}", args.threads)
    for name in args.only or sorted(HIDDEN):
        key = f"{name}-on-{args.first}" + ("" if args.upper_lr == LR else f"-lr{args.upper_lr:g}")
        train_args = ["--model", "dbn", "--hidden", HIDDEN[name], "--first-layer", rel(first),
                      *recipe(args.upper_lr), "--epochs", args.epochs]
        train_and_score(results, key, train_args, OUT / f"{key}.h5", args.threads,
                        bracket=False, base=False,
                        extra={"first_layer": args.first, "first_key": f"layer0-{args.first}",
                               "published": PUBLISHED[name], "hidden": HIDDEN[name]})
        # rbm train's own picture: 64 chains, 1,000 Gibbs sweeps of the top RBM, a down pass
        (FIGURES / f"{key}-samples.png").write_bytes((OUT / f"{key}-samples.png").read_bytes())


if __name__ == "__main__":
    main()
