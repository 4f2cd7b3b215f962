"""The tables of a sweep, from its records: ``results.csv`` (one row per run) and
``summary.md`` (mean ± standard deviation over the seeds of every cell, the best cell
marked).

A cell is the runs that differ only in their seed. Statistics use the runs that ended
``ok`` with a finite value; the standard deviation is the sample one (n - 1), shown only
when a cell has two values or more.
"""

import csv
import datetime
import io
import math
import statistics
from dataclasses import dataclass

from rbmcli.io.atomic import atomic_path
from rbmcli.sweep.plan import option_flags, value_label

METRICS = ("ll", "ll_ais", "ll_reverse", "ll_bound", "bits_per_pixel", "mser",
           "mser_mean_field", "free_energy", "pseudo_ll")
"""The metrics of the summary and the pictures, in this order (when the runs have them):
the first one present decides the best cell."""
HIGHER_IS_BETTER = {"ll", "ll_ais", "ll_reverse", "ll_bound", "pseudo_ll"}
"""The metrics where more is better (the others: errors and bits per pixel)."""

RUN_FIELDS = ("epochs_trained", "resumed_from", "train_seconds", "score_seconds", "seconds",
              "started", "finished", "worker", "error")
"""The columns of results.csv after the options, seed, status and metrics."""


@dataclass
class Cell:
    """The runs of one cell.

    Attributes
    ----------
    cell : str
        Its id (the run id without the seed).
    options : dict
        The options of its runs, the seed left out.
    records : list of dict
        Its runs' records, by seed.
    """

    cell: str
    options: dict
    records: list

    def values(self, metric):
        """The finite values of ``metric`` over the cell's successful runs."""
        values = [r["metrics"].get(metric) for r in self.records if r["status"] == "ok"]
        return [float(v) for v in values
                if isinstance(v, (int, float)) and math.isfinite(v)]

    def mean(self, metric):
        """The mean of ``metric`` over the cell's runs (nan when none has it)."""
        values = self.values(metric)
        return statistics.fmean(values) if values else math.nan

    def sd(self, metric):
        """The sample standard deviation of ``metric`` (nan with fewer than two values)."""
        values = self.values(metric)
        return statistics.stdev(values) if len(values) > 1 else math.nan

    def succeeded(self):
        """How many of the cell's runs ended ok."""
        return sum(r["status"] == "ok" for r in self.records)


def axes_of(records):
    """The option names that vary across the records' sweep, in grid order, without the
    seed."""
    names = [n for r in records for n in r.get("axes", ()) if n != "seed"]
    return list(dict.fromkeys(names))


def sort_records(records):
    """The records ordered by their varying options (numbers by value), then seed."""
    axes = axes_of(records)
    return sorted(records, key=lambda r: tuple(_order(r["options"].get(n)) for n in axes)
                  + (_order(r.get("seed")),))


def _order(value):
    """A sort key that orders None, then booleans, numbers, lists, text."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, list):
        return (3, tuple(_order(v) for v in value))
    return (4, str(value))


def cells(records):
    """The :class:`Cell` of the records, in the order of :func:`sort_records`."""
    found = {}
    for record in sort_records(records):
        options = {k: v for k, v in record["options"].items() if k != "seed"}
        found.setdefault(record["cell"], Cell(record["cell"], options, [])).records.append(
            record)
    return list(found.values())


def metric_names(records):
    """The metrics of :data:`METRICS` that some successful run has, in that order."""
    present = {m for r in records if r["status"] == "ok" for m in r["metrics"]}
    return [m for m in METRICS if m in present]


def best_cell(all_cells, metric):
    """The cell with the best mean ``metric`` (highest or lowest, see
    :data:`HIGHER_IS_BETTER`), or None when no cell has a value."""
    scored = [c for c in all_cells if c.values(metric)]
    if not scored:
        return None
    sign = 1 if metric in HIGHER_IS_BETTER else -1
    return max(scored, key=lambda c: sign * c.mean(metric))


def csv_text(records):
    """results.csv: a header, then one row per run: run id, cell, every option, seed,
    status, every metric, and :data:`RUN_FIELDS`."""
    records = sort_records(records)
    options = list(dict.fromkeys(n for r in records for n in r["options"] if n != "seed"))
    metrics = list(dict.fromkeys(m for r in records for m in r["metrics"]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_id", "cell", *options, "seed", "status", *metrics, *RUN_FIELDS])
    for r in records:
        writer.writerow([r["run_id"], r["cell"],
                         *(_csv_option(r["options"], n) for n in options), r.get("seed"),
                         r["status"], *(_csv_value(r["metrics"].get(m)) for m in metrics),
                         *(_csv_value(r.get(f)) for f in RUN_FIELDS)])
    return out.getvalue()


def _csv_option(options, name):
    return value_label(options[name]) if name in options else ""


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    return value


def summary_text(records):
    """summary.md: the runs, what they share, one table row per cell (mean ± sd over its
    seeds), the best cell, and the failed runs with their errors."""
    records = sort_records(records)
    all_cells = cells(records)
    axes = axes_of(records)
    metrics = metric_names(records)
    ok = sum(r["status"] == "ok" for r in records)
    scored_on = sorted({r.get("scored_on") for r in records if r.get("scored_on")})
    lines = [f"# Sweep: {len(records)} runs in {len(all_cells)} cells", "",
             f"{len(records)} runs: {ok} ok, {len(records) - ok} failed. Scored on the "
             f"{' and '.join(scored_on) or 'training'} data; every entry is the mean ± "
             "the standard deviation over the seeds of a cell (runs: ok / all).", ""]
    lines += _timing(records)
    shared = _shared_options(records, axes)
    if shared:
        lines += [f"Every run: `{option_flags(shared)}`", ""]
    best = best_cell(all_cells, metrics[0]) if metrics else None
    lines += _table(all_cells, axes, metrics, best)
    if best is not None:
        how = "highest" if metrics[0] in HIGHER_IS_BETTER else "lowest"
        lines += ["", f"Best cell ({how} mean {metrics[0]}): "
                      f"{cell_label(best.options, axes) or 'the only one'}."]
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- `{r['run_id']}`: {r.get('error') or 'unknown error'}" for r in failed]
    return "\n".join(lines) + "\n"


def _timing(records):
    """A line on the wall time while runs were under way, and the sum of the runs' own
    times (what one worker would need, roughly)."""
    spans = [(datetime.datetime.fromisoformat(r["started"]),
              datetime.datetime.fromisoformat(r["finished"])) for r in records
             if r.get("started") and r.get("finished")]
    if not spans:
        return []
    wall = busy_seconds(spans)
    total = sum(r["seconds"] for r in records if r.get("seconds"))
    ratio = f" ({total / wall:.1f} runs at a time on average)" if wall > 0 else ""
    return [f"Wall time {wall:.0f} s while runs were under way (a sweep stopped and "
            f"continued later does not count the pause); the runs' own times add up to "
            f"{total:.0f} s{ratio}.", ""]


def busy_seconds(spans):
    """Seconds covered by at least one of the ``(start, end)`` datetime ``spans``: the
    length of their union."""
    total, end = 0.0, None
    for start, finish in sorted(spans):
        if end is None or start > end:
            total += (finish - start).total_seconds()
            end = finish
        elif finish > end:
            total += (finish - end).total_seconds()
            end = finish
    return total


def _shared_options(records, axes):
    """The options every run has with the same value (not the varying ones, nor seed)."""
    first = records[0]["options"] if records else {}
    return {n: v for n, v in first.items() if n not in axes and n != "seed"
            and all(r["options"].get(n) == v for r in records)}


def cell_label(options, axes):
    """``hidden 16, l2 0.001``: a cell's values of ``axes``."""
    return ", ".join(f"{n} {value_label(options.get(n))}" for n in axes)


def _table(all_cells, axes, metrics, best):
    """The Markdown table: the axes, runs ok / all, every metric, seconds, the best mark."""
    header = [*axes, "runs", *metrics, "seconds", ""]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(" ---: " for _ in header[:-1]) + "| --- |"]
    for cell in all_cells:
        mark = "**best**" if cell is best else ""
        row = [*(value_label(cell.options.get(n)) for n in axes),
               f"{cell.succeeded()}/{len(cell.records)}",
               *(_mean_sd(cell, m) for m in metrics), _seconds(cell), mark]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _mean_sd(cell, metric):
    return mean_sd_text(cell.mean(metric), cell.sd(metric))


def mean_sd_text(mean, sd):
    """``-196.74 ± 0.05``: the mean to the decimals of the sd's two significant digits
    (five significant digits without an sd); ``–`` for no value."""
    if math.isnan(mean):
        return "–"
    if math.isnan(sd) or sd <= 0:
        return f"{mean:.5g}"
    decimals = max(0, 1 - math.floor(math.log10(sd)))
    return f"{mean:.{decimals}f} ± {sd:.{decimals}f}"


def _seconds(cell):
    values = [r["seconds"] for r in cell.records if r["status"] == "ok" and r.get("seconds")]
    return f"{statistics.fmean(values):.1f}" if values else "–"


def write_text(path, text):
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            fh.write(text)
