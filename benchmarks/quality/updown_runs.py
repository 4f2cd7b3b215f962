"""Up-down fine-tuning of the labelled DBN by the paper's exact protocol, one run per input:
binarised images (``rbm train``'s default) or the grey levels (``--fine-tune-input grey``,
the paper's ``data``).

Each run starts from a copy of a pretrained DBN: ``dbn_classify.py``'s
(``out/dbn-labels.h5``, whose top RBM started as the layer below turned upside down), or
with ``--start random --seed S`` the one ``dbn_start_spread.py --stack-start random``
trained with that seed (``out/dbn-labels-random-seedS.h5``, the top RBM from random
weights, ``rbm train``'s default with ``--labels``). A run is ``dbn_classify.py``'s
up-down step (300 epochs at lr 0.001, momentum 0.9, weight decay 0.0002, ``--validate`` on
the validation digits) run from start to end, so that its CD schedule is the paper's:
CD-3, CD-6 and CD-10 for 100 epochs each (the run of ``dbn_classify.py`` was extended from
200 to 300 epochs on resume, and ran 67, 67 and 166). Then the paper's last phase, as
``dbn_classify.py``: a copy trains 59 more epochs on all 60,000 training digits. With
``--continue-to N``, a copy of the finished 300-epoch run of that start goes on to N
epochs (keys ``...-toN``; CD-10 for N up to 450, as the schedule's thirds are of N), then
takes the same last phase. Each model is scored by ``rbm score --accuracy`` (validation
and test; test only after the last phase), and ``rbm sample --label all`` draws a row per
class from the fine-tuned DBN before and after the last phase, by Gibbs sampling and by
parallel tempering.

Recorded in ``results/dbn-updown-runs.json`` (a step is skipped when recorded with the
same command; an interrupted run continues from its checkpoint). Run: ``python
benchmarks/quality/updown_runs.py --input binary|grey [--start random --seed S]
[--continue-to N] [--threads T]``; the two inputs can run side by side at one thread each
(that is how they were measured: the step is mostly BLAS products that do not scale past
one thread).
"""

import shutil

from common import FIGURES, OUT, Results, parse_args, rel
from dbn_classify import ALL, PRETRAINED, SPLIT, step

EPOCHS, LR, MOMENTUM, L2, ALL_DATA_EPOCHS = 300, 0.001, 0.9, 0.0002, 59


def pretrained(start, seed):
    """The pretrained DBN a run starts from, and the suffix of its keys."""
    if start == "flipped":
        return PRETRAINED, ""
    return OUT / f"dbn-labels-random-seed{seed}.h5", f"-random-seed{seed}"


def copied(source, model):
    """``model``, a copy of ``source`` made once (a later call continues its checkpoint)."""
    if not model.exists():
        shutil.copyfile(source, model)
    return model


def up_down_step(kind, suffix="", epochs=EPOCHS):
    """``(key, model file, extra options, rbm arguments)`` of the up-down run on input
    ``kind`` ("binary" or "grey") from the start named by ``suffix``, to ``epochs``."""
    extra = ["--fine-tune-input", "grey"] if kind == "grey" else []
    key = f"up-down-{kind}{suffix}" + ("" if epochs == EPOCHS else f"-to{epochs}")
    model = OUT / f"dbn-{key}.h5"
    train = ["train", rel(SPLIT), "-o", rel(model), "--resume", "--epochs", 30,
             "--fine-tune", "up-down", "--fine-tune-epochs", epochs, "--fine-tune-lr", LR,
             "--fine-tune-momentum", MOMENTUM, "--fine-tune-l2", L2, *extra,
             "--validate", f"{rel(SPLIT)}:valid", "--no-pictures"]
    return key, model, extra, train


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--input", choices=["binary", "grey"], required=True),
        p.add_argument("--start", choices=["flipped", "random"], default="flipped"),
        p.add_argument("--seed", type=int, default=0),
        p.add_argument("--continue-to", type=int, default=EPOCHS, metavar="N")))
    start, suffix = pretrained(args.start, args.seed)
    if args.continue_to != EPOCHS:  # a copy of the finished EPOCHS-epoch run goes on
        start = up_down_step(args.input, suffix)[1]
    if not (start.exists() and SPLIT.exists() and ALL.exists()):
        print(f"skipped: {start.name}, {SPLIT.name} or {ALL.name} is missing from {OUT} "
              f"(run dbn_classify.py and, for --start random, dbn_start_spread.py "
              f"--stack-start random first)")
        return
    results = Results("dbn-updown-runs", args.fresh)
    key, model, extra, train = up_down_step(args.input, suffix, args.continue_to)
    if not results.find(key):
        copied(start, model)
    step(results, key, train, args.threads, output=model)
    for split in ("valid", "test"):
        step(results, f"{key}-{split}", ["score", f"{rel(SPLIT)}:{split}", "-m", rel(model),
                                         "--accuracy", "--json"], args.threads)
    every = OUT / f"dbn-{key}-all.h5"
    if not results.find(f"{key}-all"):
        copied(model, every)
    step(results, f"{key}-all", ["train", rel(ALL), "-o", rel(every), "--resume", "--epochs",
                                 30, "--fine-tune", "up-down", "--fine-tune-epochs",
                                 args.continue_to + ALL_DATA_EPOCHS, *extra, "--no-pictures"],
         args.threads, output=every)
    step(results, f"{key}-all-test", ["score", f"{rel(SPLIT)}:test", "-m", rel(every),
                                      "--accuracy", "--json"], args.threads)
    for name, dbn in ((key, model), (f"{key}-all", every)):
        for method in ("gibbs", "pt"):
            picture = FIGURES / f"dbn-{name}-labels-{method}.png"
            step(results, f"{name}-sample-{method}", ["sample", "-m", rel(dbn), "--label",
                                                      "all", "-n", 100, "--method", method,
                                                      "-o", rel(picture), "--force"],
                 args.threads)


if __name__ == "__main__":
    main()
