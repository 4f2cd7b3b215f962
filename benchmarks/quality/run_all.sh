#!/usr/bin/env bash
# Every quality experiment end to end, then REPORT.md. Each script skips what
# results/*.json already holds for the same command; pass --fresh to redo everything.
# The recorded runs add up to about 8 hours of one-thread wall clock on a busy 2-core
# machine (run two scripts side by side to use both cores).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python}
"$python" rbm500.py "$@"
"$python" improvements.py "$@"
"$python" grid.py "$@"
"$python" dbn.py "$@"
"$python" grbm.py "$@"
"$python" figures.py "$@"
"$python" report.py
