"""Pictures and inpainting figures from one model (default: the best RBM-500 of the
`rbm500` experiment).

* a six from the test set with its bottom half cut away (``out/half-six.png``,
  transparent bottom), completed by Gibbs, PT and mean-field (``figures/six-*.png``);
* 1,000 test digits with the bottom half missing: per-pixel squared error of the
  posterior-mean fill for Gibbs (4 chains), PT (2 chains x 10 replicas) and mean-field
  (16 starts) against filling with the training mean image;
* new digits from white noise: Gibbs and PT sample grids and a PT chain animation.

Run: ``python benchmarks/quality/figures.py [--model FILE] [--threads T]``.
"""

import json

import numpy as np

from common import FIGURES, HERE, OUT, Results, command_text, ensure_data, parse_args, rel, run_rbm

INPAINT = {"gibbs": ["--steps", 200], "pt": ["--steps", 200, "--replicas", 10],
           "mf": ["--steps", 200]}
CHAINS_1000 = {"gibbs": 4, "pt": 2, "mf": 16}
"""Completions per digit for the 1,000-digit errors: PT runs 10 replicas per chain, and
mean-field needs many starts to average over modes."""


def best_model():
    records = json.loads((HERE / "results" / "rbm500.json").read_text())
    best = max(records, key=lambda r: r["scores"]["ll"])
    return best["train_command"].split(" -o ")[1].split()[0], best["key"]


def half_six(data):
    """Write out/half-six.png: the first test six, bottom half transparent."""
    from PIL import Image

    from rbmcli.io.datasets import load_dataset
    ds = load_dataset(f"{data}:test")
    index = int(np.flatnonzero(ds.labels == 6)[0])
    grey = ds.images[index].reshape(28, 28).astype(np.uint8)
    alpha = np.full((28, 28), 255, np.uint8)
    alpha[14:] = 0
    path = OUT / "half-six.png"
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)
    return path, index


def main():
    args = parse_args(__doc__, lambda p: p.add_argument("--model", default=None))
    data = ensure_data()
    FIGURES.mkdir(exist_ok=True)
    model, source = (args.model, "given") if args.model else best_model()
    results = Results("figures", args.fresh)
    six, index = half_six(data)
    record = {"key": "figures", "model": model, "model_from": source, "six_index": index,
              "commands": [], "inpaint_1000": {}}

    def run(cmd, **extra):
        out, seconds = run_rbm(cmd, args.threads)
        record["commands"].append({"command": command_text(cmd), "seconds": round(seconds, 1),
                                   **extra})
        print(f"{seconds:6.1f} s  {command_text(cmd)}", flush=True)
        return out

    for method, opts in INPAINT.items():
        run(["inpaint", rel(six), "-m", model, "--method", method, *opts, "--samples", 6,
             "-o", rel(FIGURES / f"six-{method}.png")])
    for method, opts in INPAINT.items():
        out = run(["inpaint", f"{rel(data)}:test", "-n", 1000, "--keep", "top", "-m", model,
                   "--method", method, *opts, "--samples", CHAINS_1000[method],
                   "-o", rel(FIGURES / f"inpaint-1000-{method}.png")])
        values = dict(line.split("\t") for line in out.splitlines())
        record["inpaint_1000"][method] = {k: float(v) for k, v in values.items()}
    run(["sample", "-m", model, "-n", 64, "--method", "gibbs", "--steps", 1000,
         "-o", rel(FIGURES / "samples-gibbs.png")])
    run(["sample", "-m", model, "-n", 64, "--method", "pt", "--steps", 1000,
         "--gif", rel(FIGURES / "chains-pt.gif"), "-o", rel(FIGURES / "samples-pt.png")])
    results.put(record)


if __name__ == "__main__":
    main()
