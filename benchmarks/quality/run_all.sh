#!/usr/bin/env bash
# Every quality experiment end to end, then REPORT.md. Each script skips what
# results/*.json already holds for the same command; pass --fresh to redo everything.
# The recorded runs add up to about 8 hours of one-thread wall clock on a busy 2-core
# machine for the scripts up to figures.py, and about 12 more for the labelled DBN's
# (up-down is 70 min a run; run two scripts side by side to use both cores).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python}
"$python" rbm500.py "$@"
"$python" improvements.py "$@"
"$python" grid.py "$@"
"$python" dbn.py "$@"
"$python" grbm.py "$@"
"$python" figures.py "$@"
"$python" dbn_classify.py "$@"
"$python" dbn_start_spread.py --seeds 0,1,2,3,4 --stack-start flipped "$@"
"$python" dbn_start_spread.py --seeds 0,1,2,3,4 --stack-start random "$@"
"$python" updown_runs.py --input binary "$@"
"$python" updown_runs.py --input grey "$@"
for seed in 0 1 2 3; do
    "$python" updown_runs.py --input grey --start random --seed "$seed" "$@"
done
"$python" updown_runs.py --input grey --start random --seed 0 --continue-to 450 "$@"
"$python" backprop_runs.py --seed 0 "$@"
"$python" report.py
