"""A Gaussian-Bernoulli RBM on grey MNIST: short-run training from noise, samples,
inpainting and scores.

The GRBM (500 hidden units, sigma fixed at 0.5 in standardised units) learns by CD-50
from white noise (``--cd 50 --cd-from noise``, lr 0.002 decayed to 0, 3 epochs): each
update runs 50 Gibbs sweeps from noise, the start of ``rbm sample``, so the model learns
to turn noise into digits in 50 sweeps (short-run MCMC, Nijkamp et al. 2019). The
pictures: 64 samples at the 50 sweeps the model was trained for, the same chains run for
1,000 sweeps (they drift to a few modes), a GIF of the chains, and the bottom halves of
test digits filled in. Scores on the test set: MSER, and the log-likelihood by AIS (nats
of the standardised data, and of the pixel values).

Run: ``python benchmarks/quality/grbm.py [--threads T]``.
"""

from common import (AIS, FIGURES, OUT, Results, command_text, ensure_data, parse_args, rel,
                    run_rbm)

RECIPE = ["--model", "grbm", "--hidden", 500, "--cd", 50, "--cd-from", "noise", "--sigma",
          "fixed", "--sigma-init", 0.5, "--lr", 0.002, "--lr-final", 0, "--epochs", 3]


def main():
    import json

    args = parse_args(__doc__)
    data = ensure_data()
    FIGURES.mkdir(exist_ok=True)
    results = Results("grbm", args.fresh)
    model = OUT / "grbm.h5"
    train = ["train", rel(data), *RECIPE, "--validate", f"{rel(data)}:test", "-o", rel(model),
             "--force"]
    old = results.find("grbm")
    if old and old["commands"][0]["command"] == command_text(train):
        print("grbm: recorded, skipped")
        return
    record = {"key": "grbm", "commands": []}

    def run(cmd):
        out, seconds = run_rbm(cmd, args.threads)
        record["commands"].append({"command": command_text(cmd), "seconds": round(seconds, 1)})
        print(f"{seconds:7.1f} s  {command_text(cmd)}", flush=True)
        return out

    run(train)
    run(["sample", "-m", rel(model), "-n", 64, "--gif", rel(FIGURES / "grbm-chains.gif"),
         "-o", rel(FIGURES / "grbm-samples.png")])
    run(["sample", "-m", rel(model), "-n", 64, "--steps", 1000,
         "-o", rel(FIGURES / "grbm-samples-1000.png")])
    out = run(["inpaint", f"{rel(data)}:test", "-n", 1000, "--keep", "top", "-m", rel(model),
               "--steps", 50, "--samples", 4, "-o", rel(FIGURES / "grbm-inpaint.png")])
    record["inpaint_1000"] = {k: float(v) for k, v in
                              (line.split("\t") for line in out.splitlines())}
    record["scores"] = json.loads(run(["score", f"{rel(data)}:test", "-m", rel(model),
                                       "--mser", "--ll", *AIS, "--json", "--no-cache"]))
    results.put(record)
    s = record["scores"]
    print(f"grbm: mser {s['mser']:.4f}, ll {s['ll']:.2f} (standardised), "
          f"{s.get('ll_pixels', float('nan')):.2f} (pixels)")


if __name__ == "__main__":
    main()
