#!/usr/bin/env bash
# Every quality experiment end to end, then REPORT.md. Each script skips what
# results/*.json already holds for the same command; pass --fresh to redo everything.
# About 2-3 hours on 2 quiet cores.
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
