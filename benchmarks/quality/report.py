"""Write ``REPORT.md`` from ``results/*.json`` (what the experiment scripts recorded).

Every table row and figure comes with the command that made it and its wall-clock time;
an experiment that has not been run yet shows up as "not run". Nothing here measures
anything: run the experiments first (see ``run_all.sh``).

Run: ``python benchmarks/quality/report.py``.
"""

import json
import os
import platform
import re
import shutil
import statistics
from datetime import datetime, timezone
from functools import partial

from common import HERE, RESULTS


def load(name):
    path = RESULTS / f"{name}.json"
    return {r["key"]: r for r in json.loads(path.read_text())} if path.exists() else {}


def fmt(x, spec=".2f"):
    return "-" if x is None else format(x, spec)


def minutes(seconds):
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def class_error(rec, key):
    """The classification error in % of the ``rbm score --accuracy`` record ``key`` of
    ``rec``, or None when it is not recorded."""
    r = rec.get(key)
    return None if not r else 100 * (1 - r["scores"]["accuracy"])


def class_error_text(rec, key):
    """:func:`class_error` as "1.23%", or "-"."""
    e = class_error(rec, key)
    return "-" if e is None else f"{e:.2f}%"


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
            f"{SEQUENTIAL_GRID_MINUTES} min in another stop: "
            f"{3 * SEQUENTIAL_GRID_MINUTES * 60 / seconds:.2f}x the runs per hour, but not side "
            "by side and under other load.", ""]
    speedup = RESULTS / "sweep-speedup.txt"
    if speedup.exists():
        out += ["Side by side (`python benchmarks/sweep_speedup.py`: 8 runs of the grid, each "
                "`rbm train` + `rbm score` at 2 threads one after another, then the same by "
                "`rbm sweep` with 2 single-threaded workers, on the otherwise idle machine):",
                "", "```"] + speedup.read_text().splitlines() + ["```", "",
                "On 2 cores the sweep gains nothing: the kernels already use both cores for one "
                "run (a run took 12.5 s at 2 threads, 26.5 s at 1), and the cluster adds its "
                "start and the per-run loading. Its gains are elsewhere: more cores than one "
                "run can use, several machines, and the records, retries and restarts.", ""]
    out += [
            f"![mean test log-likelihood](figures/{GRID_SWEEP}-heatmap.png)", "",
            f"![log-likelihood against hidden units](figures/{GRID_SWEEP}-curves.png)", ""]
    out += [line for line in text[1:] if not line.startswith("Wall time ")] + [""]
    cells = sorted(p.name[len(f"{GRID_SWEEP}-filters-"):-4]
                   for p in (HERE / "figures").glob(f"{GRID_SWEEP}-filters-*.png"))
    out += ["<details><summary>the filters of every cell (its first seed)</summary>", ""]
    out += [f"{cell}: ![{cell}](figures/{GRID_SWEEP}-filters-{cell}.png)" for cell in cells]
    return out + ["", "</details>", ""]


STREAM_SWEEP = "stream-sweep"
"""The `rbm sweep` folder under out/ of streamed against in-memory training."""


def section_streaming(out):
    folder = HERE / "out" / STREAM_SWEEP
    if (folder / "summary.md").exists():
        shutil.copyfile(folder / "summary.md", RESULTS / f"{STREAM_SWEEP}-summary.md")
    summary, bench = RESULTS / f"{STREAM_SWEEP}-summary.md", RESULTS / "streaming.txt"
    out += ["## Streaming training (`--memory`) against training in memory", "",
            "RBM-500, the default recipe, 20 epochs; `--memory 4.7M` is a tenth of the "
            "47 MB of MNIST training images, so the trainer reads the file in shuffled "
            "chunks every epoch; `--memory 1G` holds them all. Test log-likelihood by "
            "forward AIS (100 runs, 14,500 steps), one row per budget, mean ± sd over "
            "the seeds.", "",
            "Command: `rbm sweep benchmarks/quality/out/mnist.h5 -o "
            "benchmarks/quality/out/stream-sweep --test benchmarks/quality/out/mnist.h5:test "
            "--hidden 500 --epochs 20 --grid memory=4.7M,1G --seeds 6 --score ll,mser`.", ""]
    if summary.exists():
        out += [line for line in summary.read_text().splitlines()[1:]] + [""]
    else:
        out += ["*not run*", ""]
    out += ["The cost per epoch, both runs taking turns epoch by epoch in one process "
            "(`python benchmarks/streaming.py --epochs 5 --threads 1`):", ""]
    out += (["```"] + bench.read_text().splitlines() + ["```"]) if bench.exists() \
        else ["*not run*"]
    return out + [""]


def section_dbn(out):
    rec = load("dbn")
    out += ["## Deep belief networks: the bound against the first layer", "",
            "Layer 0 is the RBM-500 `pcd1-xl` of the first table, trained again by its "
            "command and scored again here (`--first-layer`: every DBN shares it). A layer "
            "stacked on an RBM with at least as many hidden units as that RBM has visible "
            "units starts as that RBM turned upside down, so the bound starts at the first "
            "layer's log-likelihood. The upper layers then train on samples of q(h | v) "
            "(a stochastic up pass of freshly binarised data) with the first layer's recipe "
            "(centered PCD-1, lr decayed to 0, momentum 0.9, L2 1e-4) at lr 0.01, or the "
            "rate the key names (`-lr0.001`). Score: the variational lower bound on the "
            "test log-likelihood (Salakhutdinov & Murray 2008) with AIS for the top RBM "
            "(100 runs, 14,500 distributions) on the same stochastically binarised test "
            "set. Published: the 784-500-2000 DBN's bound -86.22 (S&M 2008), next to its "
            "CD-25 first layer's -86.34.", "",
            "Command: `python benchmarks/quality/dbn.py`.", ""]
    if not rec:
        return out + ["*not run*", ""]
    out += ["| model | test log-likelihood | sd | test MSER | training | scoring | "
            "published |", "|---|---|---|---|---|---|---|"]
    dbns = {k: r for k, r in rec.items() if "first_key" in r}
    firsts = {k: r for k, r in rec.items() if k.startswith("layer0-")}
    for key, r in firsts.items():
        f = r["scores"]
        out.append(f"| RBM-500 `{key[len('layer0-'):]}` (layer 0) | {f['ll']:.2f} (AIS; "
                   f"reverse {f['ll_reverse']:.2f}) | {fmt(f.get('log_z_sd'))} | "
                   f"{f['mser']:.4f} | {minutes(r['train_seconds'])} | "
                   f"{minutes(r['score_seconds'])} | -86.34 (CD-25) |")
    for key, r in dbns.items():
        s = r["scores"]
        out.append(f"| DBN {r['hidden']} `{key}` | {s['ll_bound']:.2f} (bound) | "
                   f"{fmt(s.get('ll_bound_sd'))} | {s['mser']:.4f} | "
                   f"{minutes(r['train_seconds'])} (upper layers) | "
                   f"{minutes(r['score_seconds'])} | {fmt(r['published'])} |")
    out.append("")
    for key, r in dbns.items():
        if r.get("note"):
            out += [f"`{key}`: {r['note']}.", ""]
    for key, r in dbns.items():
        first = firsts.get(r["first_key"])
        if first:
            d = r["scores"]["ll_bound"] - first["scores"]["ll"]
            out.append(f"* `{key}`: the bound is {abs(d):.2f} nats "
                       f"{'above' if d >= 0 else 'below'} the AIS log-likelihood of its own "
                       "first layer.")
    out += ["", "What lowered the bound, each measured on the 784-500-2000 DBN: upper layers "
            "started from random weights (the 500-500-2000 DBN below: 10.9 nats under its "
            "first layer); upper layers trained on the mean-field pass P(h | E[v]) of the "
            "grey levels, not on the samples of q(h | v) of binary images the bound "
            "averages over (`-meanfield`, 2.8 nats under; 1.5 with samples); and a learning "
            "rate that moves the upside-down start, which is already the first layer's own "
            "prior, faster than PCD can follow (lr 0.01 against 0.001: 1.5 nats under "
            "against 0.1 above)."]
    start = RESULTS / "dbn-start.json"
    if start.exists():
        st = json.loads(start.read_text())
        first = firsts.get(f"layer0-{st['first']}")
        out[-1] += (f" The untrained upside-down start itself (`python benchmarks/quality/"
                    f"dbn_start.py`), whose bound equals the first layer's log-likelihood in "
                    f"exact arithmetic, scores {st['scores']['ll_bound']:.2f} by the same "
                    f"protocol (sd of the top's log Z {st['scores']['log_z_sd_top']:.2f})"
                    + (f", against {first['scores']['ll']:.2f} (AIS) and "
                       f"{first['scores']['ll_reverse']:.2f} (reverse AIS) for the first "
                       "layer: the size of the estimation error when two AIS runs are "
                       "compared." if first else "."))
    out.append("")
    out += ["Before the upside-down start, a 500-500-2000 DBN on the RBM-500 `pcd1-long` "
            "(-85.71) had its bound at -96.59, 10.88 nats below its first layer: its upper "
            "layers started from random weights and never caught up with the prior the "
            "first RBM already implies.", ""]
    for key in dbns:
        if (HERE / "figures" / f"{key}-samples.png").exists():
            out += [f"Samples of `{key}` (64 chains, 1,000 Gibbs sweeps of the top RBM from an "
                    f"up pass of noise, then a down pass): ![{key}](figures/{key}-samples.png)",
                    ""]
    lines = ["<details><summary>commands</summary>", "", "```"]
    for key, r in rec.items():
        lines += [f"# {key}"] + ([r["train_command"]] if r.get("train_command") else []) \
            + [r["score_command"]]
    return out + lines + ["```", "", "</details>", ""]


def section_dbn_classify(out):
    rec = {**load("dbn-classify"), **load("dbn-updown-runs"), **load("dbn-backprop-runs")}
    out += ["## The labelled DBN as a classifier (Hinton, Osindero & Teh 2006)", "",
            "784-500-500-2000 with 10 label units joined to the top RBM, pretrained greedily "
            "as Hinton's code trains RBMs (30 epochs a layer, CD-1, lr 0.1, momentum 0.5 for "
            "5 epochs then 0.9, weight decay 0.0002, stochastic binarisation) on the first "
            "50,000 training digits, then fine-tuned from a copy. Every choice looked at the "
            "validation error of the last 10,000 "
            "training digits; the test error is measured once per finished model. "
            "Published: 1.39% after 300 epochs of up-down on 44,000 digits and 1.25% after "
            "59 more on all 60,000 (Hinton et al. 2006), 1.2% after backprop (Hinton & "
            "Salakhutdinov 2006).", "",
            "Command: `python benchmarks/quality/dbn_classify.py`.", ""]
    if "pretrain" not in rec:
        return out + ["*not run*", ""]
    out += ["| model | test error | validation error | epochs | training (epochs only) | "
            "wall | published |", "|---|---|---|---|---|---|---|"]
    for name, label in (("pretrained", "pretrained (greedy only)"),
                        ("up-down", "up-down fine-tuned"),
                        ("up-down-all", "up-down, then on all 60,000 digits"),
                        ("up-down-binary", "up-down, the paper's CD schedule"),
                        ("up-down-binary-all", "the same, then on all 60,000 digits"),
                        ("up-down-grey", "up-down, the paper's CD schedule, grey input"),
                        ("up-down-grey-all", "the same, then on all 60,000 digits"),
                        *[(f"up-down-grey-random-seed{seed}{tail}", label.format(seed))
                          for seed in random_seeds(rec) for tail, label in (
                              ("", "up-down, grey input, top RBM from random weights "
                                   "(seed {})"),
                              ("-all", "the same, then on all 60,000 digits"))],
                        *[(f"up-down-grey-random-seed{seed}-to{n}{tail}", label.format(seed, n))
                          for seed, n in continued_runs(rec) for tail, label in (
                              ("", "seed {}'s run continued to {} epochs"),
                              ("-all", "the same, then on all 60,000 digits"))],
                        ("backprop", "backprop fine-tuned"),
                        *[(f"backprop-random-seed{seed}", f"backprop fine-tuned, top RBM from "
                           f"random weights (seed {seed})") for seed in backprop_seeds(rec)]):
        train = rec.get("pretrain" if name == "pretrained" else name)
        test, valid = rec.get(f"{name}-test"), rec.get(f"{name}-valid")
        if not train:
            continue
        err = lambda r: "-" if not r else f"{100 * (1 - r['scores']['accuracy']):.2f}%"  # noqa
        secs = train.get("epoch_seconds", {})
        tuned = {k: v for k, v in secs.items() if name == "pretrained" or
                 int(k) >= len(secs) - 1}
        parent = name[:-4] if name.endswith("-all") else re.sub(r"-to\d+$", "", name)
        if parent != name and rec.get(parent):  # only its own epochs
            before = rec[parent].get("epoch_seconds", {})
            tuned = {k: v - before.get(k, 0.0) for k, v in tuned.items()}
        out.append(f"| {label} | {err(test)} | {err(valid)} | {train.get('epochs', '-')} | "
                   + ", ".join(f"layer {k}: {minutes(v)}" if name == "pretrained" else
                               minutes(v) for k, v in tuned.items())
                   + f" | {minutes(train['seconds'])} | "
                   f"{fmt(100 * PUBLISHED_ERRORS[published(name)], '.2f') + '%' if published(name) in PUBLISHED_ERRORS else '-'} |")
    updown = rec.get("up-down", {})
    tuned = updown.get("epochs", 0) - rec["pretrain"].get("epochs", 0)
    out += ["", "**The greedy start, seed by seed.** Validation errors of the pretrained DBN "
            "by `rbm score --accuracy`, two recipes trained side by side without "
            "`--validate`, one thread each: 2.66% with the recipe above (4.1 min; 2.58% in "
            "the table's run of it), 3.33% with the RBM-500's (centered PCD-1, lr 0.05 "
            "decayed to 0, momentum 0.5; 6.6 min). The paper pretrained on the grey levels "
            "with mean-field up passes, which `rbm train`'s binary kernels do not do; "
            "`python benchmarks/quality/dbn_grey_start.py --seed S` trains the same DBN that "
            "way in plain NumPy (Hinton's `rbm.m` CD-1, the same rates) and scores it the "
            "same way. " + start_spread_text() + " The paper reports 2.49% on test before "
            "fine-tuning; ours is 2.85% on test. "
            "From the 3.4% start of the old recipe, up-down never lowered the validation "
            "error (30 epochs at lr 0.003; probes at 0.01 and 0.03); from this start it "
            "lowers it at once.", "",
            f"**Up-down**, the paper's {tuned} epochs at lr 0.001, momentum 0.9, weight "
            "decay 0.0002, chosen on validation probes of the first epochs (2.48% after 2 "
            "epochs against 2.66% at lr 0.003 without momentum). The run was planned for "
            "200 epochs and extended to 300 on resume, so its schedule ran CD-3 for epochs "
            "1-67, CD-6 for 68-134 and CD-10 for 135-300 (the paper: 100 each); the first "
            "200 epochs took 76.5 min at 2 threads, the last 100 took 54 min at one thread "
            "beside the probes below. Each rise of the number of Gibbs sweeps lowered the "
            "validation error, as the paper says it did: the trainer's figure averaged "
            "2.30% over the last 20 epochs of CD-3, 2.21% of CD-6 and 2.16% of CD-10 (the "
            "curve below). Then it stayed flat: 2.18% over epochs 181-200, 2.16% over "
            "281-300. By `rbm score` on the grey levels, the validation error went from "
            "1.90% at 200 epochs to 1.77% at 300, and the test error from 2.01% to 2.06%. "
            "The training error (1,000 training digits, binarised) follows the validation "
            "error, 2.1-2.3%: the model underfits, it does not overfit.", "",
            "**What does not close the gap.** Six probes continued the 200-epoch "
            "checkpoint under CD-10 (one thread each beside the 300-epoch run; the last at "
            "two threads alone), and are compared with that run's same epochs (the "
            "trainer's validation figure, mean over the probe's epochs; its sd from epoch "
            "to epoch is 0.02-0.05): a smaller rate, lr 0.0003, 2.11% against 2.14% (20 "
            "epochs); up-down on the grey levels instead of binarised digits (the paper's "
            "`data`), 2.09% against 2.14% (18 epochs); CD-20 (`--fine-tune-cd 20`), 2.15% "
            "against 2.15% (8 epochs); no weight decay, 2.18% against 2.15% (9 epochs); lr "
            "0.003, 2.20% against 2.14% (12 epochs); balanced batches of 10 digits of each "
            "class, as the paper's, 2.18% against 2.14% (13 epochs). The rates and the "
            "decay are `rbm train` options (`--fine-tune-lr`, `--fine-tune-l2`); the grey "
            "levels and the balanced batches are `python benchmarks/quality/"
            "updown_probe.py grey|balanced`, `rbm` with that one change. So the plateau is "
            "not the noise of the rate, nor the sweeps, nor the decay, nor the batches. Before, probes from the pretrained DBN under CD-3 found larger "
            "rates worse: lr 0.003 reached 2.29% after 3 epochs and rose to about 2.4% by "
            "epoch 24, lr 0.01 rose from 2.37% to about 2.6% in 22 epochs while lr 0.001 "
            "held 2.3%.", "",
            all_digits_text(rec), "",
            paper_schedule_text(rec), "",
            random_start_text(rec), "",
            backprop_text(rec), "",
            "Looked at, the clamped-label grids of the 300-epoch DBN (a row per class 0-9): "
            "with parallel tempering every row is its class, most digits in clean strokes; "
            "the strays are a 2-like and a 9-like digit and a blob in the row of 0, a 4-like "
            "and two 9-like 3s, a 2-like 4, an 8-like and a 6-like 5, a 0-like 6, a 4-like "
            "7 and a 3 in the row of 8, and several 2s are scribbled. With Gibbs sampling "
            "the rows of 0, 1, 2, 4, 5, 6, 7 and 9 are their class with a stray or two (a "
            "4 among the 7s, a 7-like 9), the row of 8 has a 1-like and a 7-like digit, and "
            "the row of 3 is the weakest, with a 5, a 1, a 7-like, an 8-like and a 9-like "
            "digit among its 3s. The pretrained DBN's grids are clearly worse: its rows of "
            "3, 5 and 8 (PT) and 3, 5 and 6 (Gibbs) are mixtures of several digits, so "
            "up-down improved the generative model as well as the classifier. Backprop "
            "leaves the generative DBN as it was, so its grid is the pretrained one.", ""]
    if finetune_curves(rec):
        out += ["The validation error (the trainer's, on one binarisation of the 10,000 "
                "validation digits) after each fine-tuning epoch: "
                "![fine-tuning curves](figures/dbn-finetune-curves.png)", ""]
    for name, title in (*[(f"up-down-grey-random-seed{seed}{tail}", f"grey-input up-down "
                           f"from the random top start of seed {seed}{after}")
                          for seed in random_seeds(rec) for tail, after in (
                              ("", ""), ("-all", ", after the phase on all digits,"))],
                        ("up-down-grey", "grey-input up-down (the paper's schedule)"),
                        ("up-down", "up-down"), ("pretrained", "pretrained")):
        for method in ("gibbs", "pt"):
            picture = f"dbn-{name}-labels-{method}.png"
            if (HERE / "figures" / picture).exists():
                out += [f"`rbm sample --label all --method {method}` of the {title} DBN (a row "
                        f"per class 0-9, 10 chains each, 1,000 sweeps of the top RBM with the "
                        f"label clamped, then the down pass): ![{name} {method}](figures/"
                        f"{picture})", ""]
    out += ["<details><summary>commands, in order</summary>", "", "```"]
    for key, r in rec.items():
        out.append(f"{r['seconds']:8.1f} s  {r['command']}")
    return out + ["```", "", "</details>", ""]


def start_spread_text():
    """The sentences on ``results/dbn-start-spread.json`` (``rbm train``'s recipe) and
    ``results/dbn-grey-start.json`` (the grey-level NumPy recipe), seed by seed."""
    def errors(name, prefix):
        recs = sorted((r for r in load(name).values() if r["key"].startswith(prefix)),
                      key=lambda r: r["key"])
        return [100 * r["valid_error"] for r in recs], [r["seconds"] for r in recs]

    binarised, b_secs = errors("dbn-start-spread", "flipped-seed")
    grey, g_secs = errors("dbn-grey-start", "grey-start-30-seed")
    if not binarised or not grey:
        return "*The seeds are not run.*"
    sampling = 100 * (0.026 * 0.974 / 10000) ** 0.5

    def spread(errs, secs):
        listed = ", ".join(f"{e:.2f}%" for e in errs)
        return (f"{listed} (mean {statistics.mean(errs):.2f}%, sd {statistics.stdev(errs):.2f}; "
                f"{minutes(statistics.median(secs))} a seed)")

    return (f"Over seeds 0-{len(binarised) - 1}, `rbm train`'s recipe scores "
            f"{spread(binarised, b_secs)}: about the sampling sd of an error near 2.6% on "
            f"10,000 digits ({sampling:.2f}), so the seeds differ little and picking the best "
            f"one on validation would mostly pick noise. The grey-level recipe scores "
            f"{spread(grey, g_secs)} over seeds 0-{len(grey) - 1}, each worse than every seed "
            "of the binarised recipe. (Its "
            "first run, 2.62%, used its own copies of the logistic and the softmax; with the "
            "library's, which compute the same functions in another rounding, the same seed "
            "scores 3.17%: rounding alone moves it as much as a new seed.) Commands: `python benchmarks/quality/"
            "dbn_start_spread.py --seeds 0,1,2,3,4 --threads 1` and `python benchmarks/"
            "quality/dbn_grey_start.py --seed S --threads 1`.")


def paper_schedule_text(rec):
    """The paragraph on ``updown_runs.py``: up-down with the paper's CD schedule, on
    binarised and on grey-level input."""
    runs = {kind: rec.get(f"up-down-{kind}") for kind in ("binary", "grey")}
    if not all(runs.values()):
        return ("**The paper's schedule, binarised or grey input** "
                "(`benchmarks/quality/updown_runs.py`): *not run*.")
    start = rec["pretrain"]["epochs"]

    def stage_means(run):
        curve = run["class_error_valid_curve"][start:]
        return [100 * statistics.mean(curve[k - 20:k]) for k in (100, 200, 300)]

    err = partial(class_error_text, rec)
    means = {kind: stage_means(run) for kind, run in runs.items()}
    stages = "; ".join(f"CD-{k}: {b:.2f}% binarised, {g:.2f}% grey"
                       for k, b, g in zip((3, 6, 10), means["binary"], means["grey"]))
    return ("**The paper's schedule, binarised or grey input.** `python benchmarks/quality/"
            "updown_runs.py --input binary|grey --threads 1` runs the up-down step above "
            "from start to end, so that its schedule is the paper's (CD-3, CD-6 and CD-10 "
            "for 100 epochs each), once on binarised digits and once on the grey levels "
            "(`--fine-tune-input grey`: the paper's `data` in the wake phase and the "
            "generative updates), side by side at one thread each, with the sparse "
            "top-level kernels (`benchmarks/bench_updown.py`: a CD-10 step 1.9x faster at "
            f"one thread). They took {minutes(runs['binary']['seconds'])} and "
            f"{minutes(runs['grey']['seconds'])}. The "
            "trainer's validation figure over the last 20 epochs of each stage: "
            f"{stages}. By `rbm score`: validation {err('up-down-binary-valid')} binarised, "
            f"{err('up-down-grey-valid')} grey; test {err('up-down-binary-test')} and "
            f"{err('up-down-grey-test')}; after the 59 epochs on all 60,000 digits, test "
            f"{err('up-down-binary-all-test')} and {err('up-down-grey-all-test')} (both "
            "changes within the 0.13-point sampling sd of a 10,000-digit test error). The "
            "grey levels are worth about 0.3 points at every stage; they do not close the "
            "gap to the paper's 1.39% and 1.25%. The training error stays near the "
            "validation error (the trainer's figure on 1,000 training digits at the last "
            f"epoch: {100 * runs['binary']['last_class_error_train']:.1f}% binarised, "
            f"{100 * runs['grey']['last_class_error_train']:.1f}% grey): the model does "
            "not overfit, so a better fit of the training digits, not regularisation, is "
            "what would lower it. (The paper gives no training error; it trained its last "
            "phase \"until its error rate on the full training set was as low as its final "
            "error rate had been on the initial training set\".) Looked at, the "
            "clamped-label grids of the grey-input DBN (below): with parallel tempering "
            "the rows of 0, 1, 6, 7 and 9 are their class but for a 6-like 0 and a 9-like "
            "7, the 2s, 3s, 4s and 8s have a stray or two (a 4-like and an x-like 2, a "
            "7-like 3, a 6-like and a +-like 4, a 3-like and an S-like 8), and the row of 5 "
            "is the weakest, with 9-, 8- and 6-like blobs among its 5s; with Gibbs sampling "
            "the rows of 0, 1, 3, 6, 7 and 9 are clean, the 4s include three 9-like 4s, "
            "the 2s are partly scribbles, and the row of 5 mixes in a 9, a 6, a 0 and a "
            "3.")


def recorded(rec, pattern):
    """The numbers in the keys of ``rec`` that match ``pattern`` whole, sorted: an int per
    key for one group, a tuple of ints for more."""
    found = []
    for key in rec:
        if m := re.fullmatch(pattern, key):
            groups = tuple(int(g) for g in m.groups())
            found.append(groups[0] if len(groups) == 1 else groups)
    return sorted(found)


def random_seeds(rec):
    """The seeds of the recorded ``updown_runs.py --start random`` runs, in order."""
    return recorded(rec, r"up-down-grey-random-seed(\d+)")


def continued_runs(rec):
    """``(seed, epochs)`` of the recorded ``updown_runs.py --continue-to N`` runs."""
    return recorded(rec, r"up-down-grey-random-seed(\d+)-to(\d+)")


def backprop_seeds(rec):
    """The seeds of the recorded ``backprop_runs.py`` runs."""
    return recorded(rec, r"backprop-random-seed(\d+)")


def random_start_text(rec):
    """The paragraph on the top RBM's start: ``dbn_start_spread.py --stack-start
    flipped|random`` (the pretrained DBNs) and ``updown_runs.py --input grey --start
    random --seed S`` (up-down from some of them), and the seed picked on validation."""
    spread = load("dbn-start-spread")

    def valid_errors(start):
        recs = sorted((r for k, r in spread.items() if k.startswith(f"{start}-seed")),
                      key=lambda r: r["key"])
        return [100 * r["valid_error"] for r in recs], [r["seconds"] for r in recs]

    (flipped, _), (random, random_secs) = valid_errors("flipped"), valid_errors("random")
    runs = {seed: rec[f"up-down-grey-random-seed{seed}"] for seed in random_seeds(rec)}
    if not runs or not random:
        return "**The top RBM's start** (`dbn_start_spread.py --stack-start random`, " \
               "`updown_runs.py --start random`): *not run*."
    start = rec["pretrain"]["epochs"]

    error, err = partial(class_error, rec), partial(class_error_text, rec)

    def last20(run):
        return 100 * statistics.mean(run["class_error_valid_curve"][start:][-20:])

    name = "up-down-grey-random-seed{}".format
    seeds = "; ".join(f"seed {seed}: validation {err(name(seed) + '-valid')}, test "
                      f"{err(name(seed) + '-test')}, then {err(name(seed) + '-all-test')} on "
                      f"test after the 59 epochs on all digits ({minutes(run['seconds'])} of "
                      f"up-down)" for seed, run in runs.items())
    candidates = {f"seed {seed}": name(seed) for seed in runs}
    candidates.update({f"seed {seed} continued to {n} epochs": f"{name(seed)}-to{n}"
                       for seed, n in continued_runs(rec)})
    scored = {label: error(key + "-valid") for label, key in candidates.items()
              if error(key + "-valid") is not None}
    pick = min(scored, key=scored.get) if scored else None
    picked = "" if pick is None else (
        " Picked on validation alone, among every run of this paragraph: "
        f"{pick} ({scored[pick]:.2f}%), {err(candidates[pick] + '-test')} on test, "
        f"{err(candidates[pick] + '-all-test')} after the phase on all digits.")
    longer = "; ".join(
        f"seed {seed}'s 300-epoch run continued to {n} epochs under CD-10 (`updown_runs.py "
        f"--input grey --start random --seed {seed} --continue-to {n} --threads 1`, "
        f"{minutes(rec[f'{name(seed)}-to{n}']['seconds'])}): validation "
        f"{err(f'{name(seed)}-to{n}-valid')} (the trainer's figure over its last 20 epochs "
        f"{last20(rec[f'{name(seed)}-to{n}']):.2f}%), test {err(f'{name(seed)}-to{n}-test')}, "
        f"then {err(f'{name(seed)}-to{n}-all-test')} after the phase on all digits"
        for seed, n in continued_runs(rec) if rec.get(f"{name(seed)}-to{n}-valid"))
    longer = f" Longer up-down: {longer}." if longer else ""
    if pick == "seed 2":  # what the picked DBN's grid showed when it was looked at
        longer += (" Looked at, the clamped-label grid of seed 2 after the last phase "
                   "(parallel tempering, below): the rows of 0, 1, 6 and 7 are their class "
                   "but for an 8-like 0; the 3s, 5s, 8s and 9s have one stray each (an "
                   "8-like 3, a blurred 5, a 1-like 8, a 4-like 9); the 4s have two 9-like "
                   "and a 7-like digit; the row of 2 is the weakest, with a 4, an 8 and a "
                   "9-like digit among its 2s.")
    return ("**The top RBM's start.** `rbm train` started the labelled DBN's top RBM (500 "
            "→ 2,000) as layer 1 turned upside down, the start that keeps the likelihood "
            "bound at the layers below. For classification it cripples the associative "
            "memory: after 30 epochs of CD-1 its 1,500 added hidden units are still alike "
            "and weak (weight norm 0.55 each, against 5.9 for the 500 copied units), so it "
            "has in effect 500 hidden units, where the paper's has 2,000. From small random "
            "weights, the paper's start and now `rbm train`'s default with `--labels` "
            "(`--stack-start random`), all 2,000 grow (norms 1.9-4.6). The pretrained "
            f"DBN's validation error over seeds 0-{len(random) - 1}: "
            f"{', '.join(f'{e:.2f}%' for e in random)} (mean {statistics.mean(random):.2f}%, "
            f"{minutes(statistics.median(random_secs))} a seed; `python benchmarks/quality/"
            "dbn_start_spread.py --seeds 0,1,2,3,4 --stack-start random --threads 1`), "
            f"against {', '.join(f'{e:.2f}%' for e in flipped)} (mean "
            f"{statistics.mean(flipped):.2f}%) with the flipped start (the same command "
            "with `--stack-start flipped`). Up-down on the grey levels from "
            f"{len(runs)} of them, the paper's schedule as above, at one thread each beside "
            "other runs (`python benchmarks/quality/updown_runs.py --input grey --start "
            f"random --seed S --threads 1`): {seeds}.{picked} The trainer's validation "
            "figure over the last 20 epochs: "
            f"{', '.join(f'{last20(run):.2f}%' for run in runs.values())} (seeds "
            f"{', '.join(str(seed) for seed in runs)}), against {last20(rec['up-down-grey']):.2f}% "
            "from the flipped start. (Seeds 0 and 1 were fine-tuned from the same "
            "pretrained DBNs, trained by a probe before `--stack-start` existed; "
            "`dbn_start_spread.py` reproduced them bit for bit.)" + longer)


def backprop_text(rec):
    """The sentences on backprop fine-tuning from either top start."""
    err = partial(class_error, rec)
    out = (f"Backprop from the flipped start reaches {err('backprop-test'):.2f}% on test "
           f"({err('backprop-valid'):.2f}% validation)" if err("backprop-test") else
           "Backprop from the flipped start: *not run*")
    for seed in backprop_seeds(rec):
        key = f"backprop-random-seed{seed}"
        if err(f"{key}-test") is not None:
            out += (f"; from the random top start of seed {seed}, {err(key + '-test'):.2f}% on "
                    f"test ({err(key + '-valid'):.2f}% validation; `python benchmarks/quality/"
                    f"backprop_runs.py --seed {seed} --threads 1`, "
                    f"{minutes(rec[key]['seconds'])} at one thread beside three up-down runs)")
    return out + (". Published: 1.2% (Hinton & Salakhutdinov 2006), 1.15% in Hinton's later "
                  "talks.")


def all_digits_text(rec):
    """The paragraph on the paper's last phase (``up-down-all``)."""
    run, test = rec.get("up-down-all"), rec.get("up-down-all-test")
    if not (run and test):
        return "**All 60,000 digits** (the paper's last 59 epochs): *not run*."
    err = 100 * (1 - test["scores"]["accuracy"])
    before = rec.get("up-down-test")
    before = 100 * (1 - before["scores"]["accuracy"]) if before else float("nan")
    sd = 100 * (err / 100 * (1 - err / 100) / 10000) ** 0.5
    own = run["epochs"] - rec["up-down"]["epochs"]
    return (f"**All 60,000 digits.** The paper then trained its best network on all 60,000 "
            f"training digits for 59 more epochs (1.39% → 1.25%). A copy of the 300-epoch "
            f"DBN did the same ({own} epochs of CD-10 on `mnist-all.h5`, its rate, momentum "
            f"and decay kept): {err:.2f}% on test, against {before:.2f}% before it, a change "
            f"within the sampling sd of a 10,000-digit test error ({sd:.2f} points). The "
            f"training error on 1,000 of the digits stayed at 2.0-2.5%. The validation "
            f"digits are training digits in this phase, so nothing was chosen on it.")


PUBLISHED_ERRORS = {"up-down": 0.0139, "up-down-all": 0.0125, "backprop": 0.012}
"""Test errors: Hinton, Osindero & Teh (2006); Hinton & Salakhutdinov (2006)."""


def published(name):
    """The key of ``PUBLISHED_ERRORS`` for a row: the up-down runs of ``updown_runs.py``
    (``up-down-binary``, ``up-down-grey-all``, ...) as ``up-down`` and ``up-down-all``."""
    for variant in ("-binary", "-grey"):
        name = name.replace(variant, "")
    return re.sub(r"-random-seed\d+(-to\d+)?", "", name)


def finetune_curves(rec):
    """figures/dbn-finetune-curves.png: the validation error of each fine-tuning epoch of
    the recorded fine-tuned DBNs (their epochs after the pretrained ones); False when
    there is none."""
    from rbmcli.sweep.report import line_chart
    start = rec.get("pretrain", {}).get("epochs")
    lines = {}
    for name in ("up-down", "up-down-binary", "up-down-grey",
                 *[f"up-down-grey-random-seed{seed}" for seed in random_seeds(rec)],
                 "backprop"):
        curve = rec.get(name, {}).get("class_error_valid_curve", [])[start or 0:]
        if start and curve:
            lines[name] = [(k + 1, 100 * err, 0.0) for k, err in enumerate(curve)]
    if not lines:
        return False
    line_chart(lines, "fine-tuning epoch", "validation error (%)",
               "DBN 784-500-500-2000 + labels: validation error while fine-tuning",
               log_x=False).save(
        HERE / "figures" / "dbn-finetune-curves.png")
    return True


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
           "work (up to four runs at once on its 2 cores, one thread each), so they are "
           "upper bounds.", ""]
    for section in (section_rbm500, section_improvements, section_grid, section_streaming,
                    section_dbn,
                    section_dbn_classify,
                    section_grbm, section_figures):
        out = section(out)
    (HERE / "REPORT.md").write_text("\n".join(out))
    print(f"wrote {HERE / 'REPORT.md'}")


if __name__ == "__main__":
    main()
