"""The bound of the untrained upside-down start, against its first layer.

A 784-500-2000 DBN whose top RBM is the first layer turned upside down
(``rbmcli.training.dbn.layer_above``, exactly what ``rbm train --model dbn`` starts layer 1
from) has, in exact arithmetic, a variational bound equal to the first layer's
log-likelihood. This scores that start by the DBN protocol of ``dbn.py`` (bound, 100 AIS
runs of 14,500 distributions for the top RBM, stochastically binarised test set, seed 0),
so what the upper layers' training adds or loses can be told from what the estimate
itself costs.

Run: ``python benchmarks/quality/dbn_start.py [--first KEY]`` (after ``dbn.py`` has
scored layer 0).
"""

import argparse
import json
import time

import numpy as np

from common import DATA, OUT, RESULTS
from rbmcli.io.datasets import load_dataset
from rbmcli.io.modelfile import load_model
from rbmcli.models.dbn import DBN
from rbmcli.training.dbn import layer_above


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", default="pcd1-xl")
    args = parser.parse_args()
    first = load_model(OUT / f"rbm500-{args.first}.h5").model
    dbn = DBN([first, layer_above(first, 2000, np.random.default_rng([0, 3, 1]))])
    dbn.binarization = "stochastic"
    test = load_dataset(f"{DATA}:test").images
    start = time.perf_counter()
    s = dbn.score(test, ll=True, ais_runs=100, ais_steps=14500, seed=0).summary
    record = {"first": args.first, "seconds": round(time.perf_counter() - start, 1),
              "scores": {k: v for k, v in s.items() if isinstance(v, (int, float, str))}}
    (RESULTS / "dbn-start.json").write_text(json.dumps(record, indent=1, sort_keys=True))
    print(f"untrained upside-down start on {args.first}: bound {s['ll_bound']:.2f}, sd of "
          f"the top's log Z {s['log_z_sd_top']:.2f} ({record['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
