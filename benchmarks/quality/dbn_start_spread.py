"""How much does one greedy start of the labelled DBN vary from seed to seed, and with
how its upper layers start? The 784-500-500-2000 DBN with 10 label units of
``dbn_classify.py``, pretrained by ``rbm train``'s recipe (``dbn_classify.GREEDY``,
binarised digits) with ``--seed S`` and ``--stack-start flipped|random`` (the top RBM
starts as the layer below turned upside down, or from small random weights), and its
validation error by ``rbm score --accuracy``; the grey-level recipe of
``dbn_grey_start.py`` takes ``--seed`` itself.

Each seed is recorded in ``results/dbn-start-spread.json`` (skipped when recorded with
the same command); the flipped starts are deleted after scoring, the random ones kept as
``out/dbn-labels-random-seedS.h5`` for ``updown_runs.py --start random``. Run: ``python
benchmarks/quality/dbn_start_spread.py --seeds 0,1,2,3 [--stack-start random]
[--threads T]`` (needs ``out/mnist-split.h5`` from ``dbn_classify.py``).
"""

import json

from common import OUT, Results, command_text, parse_args, rel, run_rbm
from dbn_classify import GREEDY, SPLIT


def main():
    args = parse_args(__doc__, lambda p: (
        p.add_argument("--seeds", default="0,1,2,3"),
        p.add_argument("--stack-start", choices=["flipped", "random"], default="flipped")))
    if not SPLIT.exists():
        print(f"skipped: {SPLIT} is missing (run dbn_classify.py first)")
        return
    results = Results("dbn-start-spread", fresh=args.fresh)
    for seed in (int(s) for s in args.seeds.split(",")):
        model = OUT / f"dbn-labels-{args.stack_start}-seed{seed}.h5"
        train = ["train", rel(SPLIT), *GREEDY, "--stack-start", args.stack_start, "--seed",
                 seed, "-o", rel(model), "--force", "--no-pictures"]
        key = f"{args.stack_start}-seed{seed}"
        old = results.find(key)
        if old and old["command"] == command_text(train):
            print(f"{key}: recorded, skipped")
            continue
        print(f"{key}: {command_text(train)}", flush=True)
        _, seconds = run_rbm(train, args.threads)
        out, _ = run_rbm(["score", f"{rel(SPLIT)}:valid", "-m", rel(model), "--accuracy",
                          "--json"], args.threads)
        error = 1 - json.loads(out)["accuracy"]
        results.put({"key": key, "command": command_text(train), "seconds": round(seconds, 1),
                     "valid_error": round(error, 4)})
        if args.stack_start == "flipped":  # the random starts are kept for updown_runs.py
            model.unlink()
        print(f"{key}: validation error {error:.4f}, {seconds / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
