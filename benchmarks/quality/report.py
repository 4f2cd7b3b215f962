"""Write ``REPORT.md`` from ``results/*.json`` (what the experiment scripts recorded).

Every table row and figure comes with the command that made it and its wall-clock time;
an experiment that has not been run yet shows up as "not run". Nothing here measures
anything: run the experiments first (see ``run_all.sh``).

Run: ``python benchmarks/quality/report.py``.
"""

import json
import os
import platform
import shutil
from datetime import datetime, timezone

from common import HERE, RESULTS


def load(name):
    path = RESULTS / f"{name}.json"
    return {r["key"]: r for r in json.loads(path.read_text())} if path.exists() else {}


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def minutes(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def ll_row(key, r, anchor=True):
    s = r["scores"]
    rev = s.get("ll_reverse")
    gap = None if rev is None else s["ll"] - rev
    cells = [key, fmt(s["ll"]), fmt(s.get("log_z_sd"), ".2f"), fmt(rev), fmt(gap),
             fmt(s["mser"], ".4f"), minutes(r["train_seconds"]), minutes(r["score_seconds"])]
    if anchor:
        cells.append(fmt(r.get("anchor")))
    return "| " + " | ".join(cells) + " |"


def commands(records):
    lines = ["<details><summary>commands</summary>", "", "```"]
    for key, r in records.items():
        lines += [f"# {key}", r["train_command"], r["score_command"]]
    return lines + ["```", "", "</details>", ""]


def section_rbm500(out):
    rec = load("rbm500")
    out += ["## RBM-500 against the published figures", "",
            "Protocol: stochastic binarisation (training: redrawn each epoch; test: drawn "
            "once, seed 0), test log-likelihood in nats by AIS (100 runs, 14,500 "
            "intermediate distributions, base rates of the training set) and by reverse "
            "AIS from 100 Gibbs chains started at test images (10,000 burn-in sweeps). "
            "`sd` is the standard error of log Z over the AIS runs; `gap` = AIS - reverse "
            "(a large gap means the estimate is not to be trusted). Anchors: Salakhutdinov "
            "& Murray (2008), Table 1.", "",
            "Command: `python benchmarks/quality/rbm500.py`.", ""]
    if not rec:
        return out + ["*not run*", ""]
    out += ["| method | AIS ll | sd(log Z) | reverse ll | gap | test MSER | training | "
            "scoring | published |", "|---|---|---|---|---|---|---|---|---|"]
    out += [ll_row(k, r) for k, r in rec.items()]
    best_key = max(rec, key=lambda k: rec[k]["scores"]["ll"])
    best = rec[best_key]["scores"]
    target = -85.0
    verdict = (f"`{best_key}` reaches it" if best["ll"] >= target else
               f"the best, `{best_key}`, falls short of it by {target - best['ll']:.2f} nats")
    summary = (f"Target {target} nats by AIS with reverse AIS within 1.5 nats: {verdict} "
               f"(AIS {best['ll']:.2f}, reverse {best['ll_reverse']:.2f}), trained by the "
               f"`rbm train` command below in {minutes(rec[best_key]['train_seconds'])}.")
    if "default" in rec:
        d = rec["default"]
        summary += (f" The default `rbm train mnist.h5` (row `default`) is "
                    f"{best['ll'] - d['scores']['ll']:.2f} nats below it and trained in "
                    f"{minutes(d['train_seconds'])}.")
    summary += (" Tried on the way: the learning-rate schedule, momentum, weight decay and "
                "centering (next table, each measured), longer training of the centered "
                "PCD-1 recipes (100, 200 and 400 epochs), the other methods of this table, "
                "and a DBN on top of an RBM of this table (below). Not tried: PT with a "
                "ladder whose hot end connects (with 10 temperatures linear from 1 to 0 no "
                "swap is accepted below beta ~ 0.4), more persistent chains, parameter "
                "averaging.")
    from rbm500 import ANCHORS, configs
    missing = [k for k in configs(100) if k not in rec]
    out += [f"| {k} | not run yet | | | | | | | {fmt(ANCHORS.get(k))} |" for k in missing]
    return out + ["", summary, ""] + commands(rec)


def section_improvements(out):
    rec = load("improvements")
    out += ["## What each training improvement buys (PCD-1, RBM-500)", "",
            "Each row changes one thing (see the script's docstring): baseline = lr 0.05, "
            "momentum 0.5, 30 epochs; the others start from lr-decay (lr 0.05 decayed "
            "linearly to 0). Same protocol as above.", "",
            "Command: `python benchmarks/quality/improvements.py`.", ""]
    if not rec:
        return out + ["*not run*", ""]
    out += ["| step | AIS ll | sd(log Z) | reverse ll | gap | test MSER | training | "
            "scoring |", "|---|---|---|---|---|---|---|---|"]
    out += [ll_row(k, r, anchor=False) for k, r in rec.items()]
    longer = load("rbm500")
    for key, label in (("pcd1", "100 epochs (rbm500 pcd1)"),
                       ("pt10", "PT-10, 100 epochs (rbm500 pt10)")):
        if key in longer:
            out.append(ll_row(label, longer[key], anchor=False))
    return out + [""] + commands(rec)


GRID_SWEEP = "grid-sweep"
"""The seed grid's `rbm sweep` folder under out/ (benchmarks/quality/grid.toml)."""
SEQUENTIAL_GRID_MINUTES = 73.9
"""Wall time of the one-seed grid (36 runs, one after another at 2 threads, grid.py) in
the stop that ran it (results/grid.json): the baseline of the sweep's speed-up."""


def collect_grid_sweep():
    """Copy the sweep's summary.md, heat map, curves and filters from out/ (not committed)
    into results/ and figures/ (committed), when the sweep folder is there."""
    folder = HERE / "out" / GRID_SWEEP
    if not (folder / "summary.md").exists():
        return
    shutil.copyfile(folder / "summary.md", RESULTS / f"{GRID_SWEEP}-summary.md")
    for name in ("heatmap.png", "curves.png"):
        shutil.copyfile(folder / name, HERE / "figures" / f"{GRID_SWEEP}-{name}")
    for png in sorted((folder / "filters").glob("*.png")):
        shutil.copyfile(png, HERE / "figures" / f"{GRID_SWEEP}-filters-{png.name}")


def section_grid(out):
    collect_grid_sweep()
    summary = RESULTS / f"{GRID_SWEEP}-summary.md"
    out += ["## Hidden units x prior on W", "",
            "Centered PCD-1, 20 epochs, lr 0.05 decayed linearly to 0, momentum 0.5, "
            "stochastic binarisation (the default recipe), 3 seeds per cell; test "
            "log-likelihood by forward AIS (100 runs, 14,500 steps) and test MSER. Priors: "
            "none, Gaussian (`l2`, gradient -A W) and Laplace (`l1`, gradient -A sign(W)) of "
            "strength A (`default`: not given, i.e. 0).", "",
            "Command: `rbm sweep benchmarks/quality/out/mnist.h5 -f benchmarks/quality/grid.toml "
            "-o benchmarks/quality/out/grid-sweep` (a local Dask cluster of 2 single-threaded "
            "workers), then `python benchmarks/quality/report.py`.", ""]
    if not summary.exists():
        return out + ["*not run*", ""]
    text = summary.read_text().splitlines()
    wall = next((line for line in text if line.startswith("Wall time ")), "")
    seconds = float(wall.split()[2]) if wall else float("nan")
    out += [f"The 108 runs took {minutes(seconds)} of wall time on this 2-core machine, "
            f"shared with other work for part of it. The one-seed grid before it (36 of the "
            f"same runs one after another at 2 threads, `grid.py`) took "
            f"{SEQUENTIAL_GRID_MINUTES} min: {3 * SEQUENTIAL_GRID_MINUTES * 60 / seconds:.2f}x "
            "the runs per hour (measured in different stops, not side by side).", "",
            f"![mean test log-likelihood](figures/{GRID_SWEEP}-heatmap.png)", "",
            f"![log-likelihood against hidden units](figures/{GRID_SWEEP}-curves.png)", ""]
    out += [line for line in text[1:] if not line.startswith("Wall time ")] + [""]
    cells = sorted(p.name[len(f"{GRID_SWEEP}-filters-"):-4]
                   for p in (HERE / "figures").glob(f"{GRID_SWEEP}-filters-*.png"))
    out += ["<details><summary>the filters of every cell (its first seed)</summary>", ""]
    out += [f"{cell}: ![{cell}](figures/{GRID_SWEEP}-filters-{cell}.png)" for cell in cells]
    return out + ["", "</details>", ""]


def section_dbn(out):
    rec = load("dbn")
    out += ["## Deep belief network 500-500-2000", "",
            "Layer 0 is an RBM-500 of the first table, unchanged (`--first-layer`); layers 1 "
            "and 2 train on samples of the layer below (centered PCD-1, lr 0.05 decayed to "
            "0). The DBN's score is the variational lower bound on the test "
            "log-likelihood (Salakhutdinov & Murray 2008) with AIS for the top RBM, on the "
            "same stochastically binarised test set, so the RBM next to it is its own first "
            "layer. Published: DBN bound about -86.22 (S&M 2008).", "",
            "Command: `python benchmarks/quality/dbn.py`.", ""]
    if not rec:
        return out + ["*not run*", ""]
    rbms = load("rbm500")
    out += ["| model | test log-likelihood | sd | test MSER | training | scoring | "
            "published |", "|---|---|---|---|---|---|---|"]
    for key, r in rec.items():
        s, first = r["scores"], rbms.get(r["first_layer"])
        if first:
            f = first["scores"]
            out.append(f"| RBM-500 `{r['first_layer']}` (layer 0) | {f['ll']:.2f} (AIS) | "
                       f"{fmt(f.get('log_z_sd'))} | {f['mser']:.4f} | "
                       f"{minutes(first['train_seconds'])} | {minutes(first['score_seconds'])} "
                       "| -86.34 (CD-25) |")
        out.append(f"| DBN `{key}` | {s['ll_bound']:.2f} (bound) | "
                   f"{fmt(s.get('ll_bound_sd'))} | {s['mser']:.4f} | "
                   f"{minutes(r['train_seconds'])} (layers 1-2) | "
                   f"{minutes(r['score_seconds'])} | {fmt(r['published'])} |")
    out.append("")
    for key, r in rec.items():
        first = rbms.get(r["first_layer"])
        if first and r["scores"]["ll_bound"] < first["scores"]["ll"]:
            out += [f"The bound of `{key}` is "
                    f"{first['scores']['ll'] - r['scores']['ll_bound']:.2f} nats below the "
                    "log-likelihood of its own first layer: the upper layers model the first "
                    "layer's hidden units worse than that RBM's own prior does (a bound can "
                    "only exceed the RBM when they model them better; Salakhutdinov & Murray "
                    "gained 0.1 nats). Longer training of the upper layers is the next thing "
                    "to try.", ""]
    for key in rec:
        if (HERE / "figures" / f"{key}-samples.png").exists():
            out += [f"Samples of `{key}` (64 chains, 1,000 Gibbs sweeps of the top RBM from an "
                    f"up pass of noise, then a down pass): ![{key}](figures/{key}-samples.png)",
                    ""]
    return out + commands(rec)


def section_grbm(out):
    rec = load("grbm").get("grbm")
    out += ["## Gaussian-Bernoulli RBM on grey MNIST", "",
            "500 hidden units, sigma fixed at 0.5 (standardised units), trained by CD-50 "
            "from white noise (`--cd 50 --cd-from noise`, the start of `rbm sample`), lr "
            "0.002 decayed to 0 over 3 epochs: `rbm train --model grbm`'s defaults. "
            "Command: `python benchmarks/quality/grbm.py`.", ""]
    if not rec:
        return out + ["*not run*", ""]
    s, inp = rec["scores"], rec["inpaint_1000"]
    out += ["| test MSER (standardised) | MSER (pixels) | AIS ll (standardised, nats) | "
            "ll of the pixel values | sd(log Z) | inpainting error (1,000 digits) | "
            "mean image |", "|---|---|---|---|---|---|---|",
            f"| {s['mser']:.4f} | {fmt(s.get('mser_pixels'), '.4f')} | {s['ll']:.2f} | "
            f"{fmt(s.get('ll_pixels'))} | {fmt(s.get('log_z_sd'))} | "
            f"{inp['error_unknown']:.4f} | {inp['error_mean_image']:.4f} |", "",
            "64 samples from noise at the 50 sweeps the model was trained for "
            "![grbm samples](figures/grbm-samples.png), the same chains at 1,000 sweeps "
            "(they drift to a few modes) ![grbm 1000](figures/grbm-samples-1000.png), the "
            "chains as they run: [grbm-chains.gif](figures/grbm-chains.gif). Bottom halves "
            "of test digits filled in (observed half, 4 completions, truth): "
            "![grbm inpaint](figures/grbm-inpaint.png)", "", "```"]
    out += [f"{c['seconds']:7.1f} s  {c['command']}" for c in rec["commands"]]
    return out + ["```", ""]


def section_figures(out):
    rec = load("figures").get("figures")
    out += ["## Inpainting and generation", ""]
    if not rec:
        return out + ["Command: `python benchmarks/quality/figures.py`.", "", "*not run*", ""]
    source = ("the best AIS of `rbm500`" if rec["model_from"] != "given" else
              "given with `--model`")
    out += [f"Model: `{rec['model']}` ({source}). Command: "
            f"`python benchmarks/quality/figures.py"
            + (f" --model {rec['model']}`." if rec["model_from"] == "given" else "`."), "",
            f"A six cut in half (test image {rec['six_index']}, bottom half transparent): "
            "each row is the observed half, 6 completions, and the posterior mean.", ""]
    for m in ("gibbs", "pt", "mf"):
        out.append(f"{m}: ![six {m}](figures/six-{m}.png)")
        out.append("")
    out += ["1,000 test digits, bottom half unknown: mean squared error per unknown pixel "
            "of the posterior mean against the binarised truth, and of the training mean "
            "image. Gibbs: 4 chains x 200 sweeps, P(v|h) averaged after 50; PT: 2 chains "
            "x 10 replicas, the same; mean-field: the average of 16 fixed points reached "
            "from random starts.", "",
            "| method | error | mean image |", "|---|---|---|"]
    for m, v in rec["inpaint_1000"].items():
        out.append(f"| {m} | {v['error_unknown']:.4f} | {v['error_mean_image']:.4f} |")
    out += ["", "New digits from white noise (64 chains, 1,000 sweeps): Gibbs "
            "![gibbs](figures/samples-gibbs.png) PT "
            "![pt](figures/samples-pt.png); PT chains as they run: "
            "[chains-pt.gif](figures/chains-pt.gif)", "", "```"]
    out += [f"{c['seconds']:7.1f} s  {c['command']}" for c in rec["commands"]]
    return out + ["```", ""]


def main():
    out = ["# Quality report: RBMs on MNIST", "",
           f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
           "`python benchmarks/quality/report.py` from `benchmarks/quality/results/*.json` "
           f"on {platform.machine()} with {os.cpu_count()} cores. Re-run everything with "
           "`bash benchmarks/quality/run_all.sh` (the MNIST files must be in "
           "`../shared/data/mnist`). Times are wall-clock on a machine shared with other "
           "work (in the last session up to five runs at once, one thread each, paused "
           "while speed benchmarks ran), so they are upper bounds.", ""]
    for section in (section_rbm500, section_improvements, section_grid, section_dbn,
                    section_grbm, section_figures):
        out = section(out)
    (HERE / "REPORT.md").write_text("\n".join(out))
    print(f"wrote {HERE / 'REPORT.md'}")


if __name__ == "__main__":
    main()
