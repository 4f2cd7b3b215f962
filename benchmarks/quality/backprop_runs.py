"""Backprop fine-tuning of the labelled DBN from the top start ``rbm train`` now takes with
``--labels`` (the top RBM from small random weights): ``dbn_classify.py``'s backprop step
(50 epochs at lr 0.1, ``--validate`` on the validation digits), from a copy of the
pretrained DBN ``dbn_start_spread.py --stack-start random`` trained with ``--seed S``
(``out/dbn-labels-random-seedS.h5``) instead of ``dbn_classify.py``'s flipped start.
Scored by ``rbm score --accuracy`` on validation and test. Published: 1.2% (Hinton &
Salakhutdinov 2006), 1.15% in Hinton's later talks.

Recorded in ``results/dbn-backprop-runs.json`` (a step is skipped when recorded with the
same command; an interrupted run continues from its checkpoint). Run: ``python
benchmarks/quality/backprop_runs.py --seed S [--threads T]``.
"""

from common import OUT, Results, parse_args, rel
from dbn_classify import SPLIT, step
from updown_runs import copied, pretrained

EPOCHS, LR = 50, 0.1


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--seed", type=int, default=0))
    start, suffix = pretrained("random", args.seed)
    if not (start.exists() and SPLIT.exists()):
        print(f"skipped: {start.name} or {SPLIT.name} is missing from {OUT} (run "
              f"dbn_classify.py and dbn_start_spread.py --stack-start random first)")
        return
    results = Results("dbn-backprop-runs", args.fresh)
    key = f"backprop{suffix}"
    model = OUT / f"dbn-{key}.h5"
    if not results.find(key):
        copied(start, model)
    step(results, key, ["train", rel(SPLIT), "-o", rel(model), "--resume", "--epochs", 30,
                        "--fine-tune", "backprop", "--fine-tune-epochs", EPOCHS,
                        "--fine-tune-lr", LR, "--validate", f"{rel(SPLIT)}:valid",
                        "--no-pictures"], args.threads, output=model)
    for split in ("valid", "test"):
        step(results, f"{key}-{split}", ["score", f"{rel(SPLIT)}:{split}", "-m", rel(model),
                                         "--accuracy", "--json"], args.threads)


if __name__ == "__main__":
    main()
