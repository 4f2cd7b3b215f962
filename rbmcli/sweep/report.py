"""The pictures of a sweep, drawn with Pillow from its records: a heat map of the mean
score over two axes, curves of the score against a numeric axis with error bars, and
the filters of every cell.

* ``heatmap.png``: rows are the values of the first axis, columns those of the second
  (the other varying options averaged over) or, without a second axis, every
  combination of the other varying options. Each square is the mean over seeds (and
  the averaged options); bright is better; the best square is outlined.
* ``curves.png``: the score against a numeric axis (log scale when its values span two
  decades or more), one line per combination of the other varying options, the error
  bars one standard deviation over seeds.
* ``filters/CELL.png``: the first hidden layer's filters of the cell's first
  successful run (lowest seed).
"""

import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rbmcli.api import load
from rbmcli.errors import InputError, NotSupported
from rbmcli.io.atomic import atomic_path
from rbmcli.io.images import save_filters
from rbmcli.sweep.results import HIGHER_IS_BETTER, axes_of, cells, metric_names
from rbmcli.sweep.plan import value_label

FONT_PX = 13
LINE = 18           # pixels per line of text
SQUARE = (84, 30)   # width, height of a heat-map square at least
PLOT = (520, 320)   # width, height of the curves' plot area
BACKGROUND, INK, GRID = (255, 255, 255), (30, 30, 30), (220, 220, 220)
BEST = (220, 30, 30)
VIRIDIS = np.array([(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98),
                    (253, 231, 37)], np.float64)
"""Anchors of the heat map's colours, worst to best (the viridis map)."""
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
"""The curves' colours, one per line (repeating after ten)."""


def font():
    """Pillow's built-in font at :data:`FONT_PX` (its bitmap font on old Pillow)."""
    try:
        return ImageFont.load_default(size=FONT_PX)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def draw_report(folder, records, axes=None):
    """Draw the pictures of ``records`` into ``folder``; return the files written.

    Parameters
    ----------
    folder : str
    records : list of dict
    axes : sequence of str, optional
        One or two varying option names: the heat map's rows (and the curves' x axis
        when numeric) and columns. Default: the sweep's first two axes.
    """
    all_cells = cells(records)
    varying = axes_of(records)
    axes = choose_axes(varying, axes, all_cells)
    metrics = metric_names(records)
    written = filter_pictures(folder, all_cells)
    if not metrics or not axes:
        return written
    scored_on = next((r.get("scored_on") for r in records if r.get("scored_on")), None)
    title = f"mean {metrics[0]}" + (f" on the {scored_on} data" if scored_on else "")
    heat = os.path.join(folder, "heatmap.png")
    save_png(heat, heatmap(all_cells, metrics[0], axes, varying, title))
    written.append(heat)
    x_axis = next((a for a in [*axes, *varying] if numeric_axis(all_cells, a)), None)
    if x_axis is not None:
        path = os.path.join(folder, "curves.png")
        save_png(path, curves(all_cells, metrics[0], x_axis, varying, title))
        written.append(path)
    return written


def choose_axes(varying, axes=None, all_cells=()):
    """The axes of the pictures: ``axes`` (checked: varying options of the sweep, at most
    two); by default the first two of ``varying`` when they are all and every cell gives
    both (a product), else the first alone (the heat map's columns are then every
    combination of the others)."""
    if not axes:
        product = len(varying) == 2 and all(
            all(a in c.options for a in varying) for c in all_cells)
        return list(varying[:2]) if product else list(varying[:1])
    axes = list(axes)
    unknown = [a for a in axes if a not in varying]
    if unknown or len(axes) > 2:
        raise InputError(f"--axes {','.join(axes)}: give one or two options that vary in "
                         f"the sweep ({', '.join(varying) or 'none does'})")
    return axes


def save_png(path, image):
    """Write a Pillow image as PNG, atomically."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


# ------------------------------------------------------------------------- heat map
def heatmap(all_cells, metric, axes, varying, title):
    """The heat map (a Pillow image) of ``metric`` over ``axes`` (one or two names)."""
    rows = _distinct(all_cells, lambda c: value_label(c.options.get(axes[0])))
    if len(axes) == 2:
        column_of = lambda c: value_label(c.options.get(axes[1]))  # noqa: E731
        column_title = axes[1]
    else:
        others = [a for a in varying if a != axes[0]]
        column_of = lambda c: _combination(c.options, others)  # noqa: E731
        column_title = ", ".join(others)
    columns = _distinct(all_cells, column_of)
    means = np.full((len(rows), len(columns)), np.nan)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            found = [c.mean(metric) for c in all_cells
                     if value_label(c.options.get(axes[0])) == row and column_of(c) == column]
            found = [m for m in found if not math.isnan(m)]
            means[i, j] = np.mean(found) if found else np.nan
    return _draw_heatmap(means, rows, columns, axes[0], column_title,
                         f"{title} ({'higher' if metric in HIGHER_IS_BETTER else 'lower'} "
                         "is better)", metric in HIGHER_IS_BETTER)


def _distinct(all_cells, key):
    return list(dict.fromkeys(key(c) for c in all_cells))


def _combination(options, names):
    """``l2 0.001``: the options among ``names`` that ``options`` gives; ``defaults``
    when it gives none of them, ``all`` when there are no names."""
    if not names:
        return "all"
    return " ".join(f"{n} {value_label(options[n])}" for n in names if n in options) \
        or "defaults"


def _draw_heatmap(means, rows, columns, row_title, column_title, title, higher_better):
    f = font()
    width = lambda text: text_width(text, f)  # noqa: E731
    square_w = int(max([SQUARE[0], *(width(c) + 12 for c in columns)]))
    square_h = SQUARE[1]
    left = int(max([width(row_title), *(width(r) for r in rows)]) + 16)
    top = 3 * LINE + 8
    image = Image.new("RGB", (max(left + square_w * len(columns) + 10, int(width(title)) + 20),
                              top + square_h * len(rows) + 10), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((10, 4), title, fill=INK, font=f)
    draw.text((left, 4 + LINE), column_title, fill=INK, font=f)
    draw.text((6, top - LINE), row_title, fill=INK, font=f)
    finite = means[np.isfinite(means)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    best = None
    if finite.size:
        best = np.unravel_index(np.nanargmax(means if higher_better else -means), means.shape)
    for j, column in enumerate(columns):
        x = left + j * square_w
        draw.text((x + (square_w - width(column)) / 2, top - LINE), column, fill=INK, font=f)
    for i, row in enumerate(rows):
        y = top + i * square_h
        draw.text((6, y + (square_h - FONT_PX) / 2 - 1), row, fill=INK, font=f)
        for j in range(len(columns)):
            x = left + j * square_w
            value = means[i, j]
            box = (x, y, x + square_w - 2, y + square_h - 2)
            if not np.isfinite(value):
                draw.rectangle(box, fill=GRID)
                continue
            quality = (value - lo) / (hi - lo) if hi > lo else 1.0
            colour = _viridis(quality if higher_better else 1 - quality)
            draw.rectangle(box, fill=colour, outline=BEST if (i, j) == best else None,
                           width=3)
            text = f"{value:.5g}"
            ink = INK if sum(colour) > 380 else BACKGROUND
            draw.text((x + (square_w - width(text)) / 2, y + (square_h - FONT_PX) / 2 - 1),
                      text, fill=ink, font=f)
    return image


def _viridis(t):
    """The colour at ``t`` in [0, 1] of :data:`VIRIDIS`."""
    position = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(position), len(VIRIDIS) - 2)
    rgb = VIRIDIS[i] + (VIRIDIS[i + 1] - VIRIDIS[i]) * (position - i)
    return tuple(int(round(c)) for c in rgb)


# --------------------------------------------------------------------------- curves
def numeric_value(value):
    """The number of an option value (a list of one number counts), or None."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def numeric_axis(all_cells, axis):
    """True when every cell gives ``axis`` a number, and there are two numbers or more."""
    values = [numeric_value(c.options.get(axis)) for c in all_cells]
    return None not in values and len(set(values)) > 1


def curves(all_cells, metric, x_axis, varying, title):
    """The curves (a Pillow image) of ``metric`` against the numeric option ``x_axis``:
    one line per combination of the other varying options, error bars of one sd."""
    others = [a for a in varying if a != x_axis]
    lines = {}
    for cell in all_cells:
        mean, sd = cell.mean(metric), cell.sd(metric)
        if not math.isnan(mean):
            point = (numeric_value(cell.options.get(x_axis)), mean, 0.0 if math.isnan(sd) else sd)
            lines.setdefault(_combination(cell.options, others), []).append(point)
    return line_chart({k: sorted(v) for k, v in lines.items()}, x_axis, metric,
                      f"{title} against {x_axis} (error bars: 1 sd over seeds)")


def line_chart(lines, x_axis, metric, title, log_x=None):
    """A chart (a Pillow image) of the lines in ``lines``, a legend label -> its points
    (x, mean, sd) sorted by x, with an error bar of sd at each point (0: none). The x axis
    is logarithmic when ``log_x``, or when it is None and x spans two decades or more; a
    linear axis has a tick at every x, or round ticks when there are more than 12."""
    f = font()
    legend_w = int(max(text_width(k, f) for k in lines) + 40) if len(lines) > 1 else 0
    left, top, bottom = 70, 2 * LINE + 6, 2 * LINE + 10
    image = Image.new("RGB", (max(left + PLOT[0] + 20 + legend_w, int(text_width(title, f)) + 20),
                              top + PLOT[1] + bottom), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.text((10, 4), title, fill=INK, font=f)
    draw.text((6, top - LINE), metric, fill=INK, font=f)
    draw.rectangle((left, top, left + PLOT[0], top + PLOT[1]), outline=INK)
    points = [p for line in lines.values() for p in line]
    xs = sorted({p[0] for p in points})
    if log_x is None:
        log_x = bool(xs) and xs[0] > 0 and xs[-1] / xs[0] >= 100
    x_of = _scale([math.log10(x) if log_x else x for x in xs], left + 10, left + PLOT[0] - 10)
    to_x = lambda x: x_of(math.log10(x) if log_x else x)  # noqa: E731
    to_y = _y_axis(draw, f, [p[1] - p[2] for p in points] + [p[1] + p[2] for p in points],
                   left, top)
    ticks = xs if log_x or len(xs) <= 12 else \
        [t for t in nice_ticks(xs[0], xs[-1]) if xs[0] <= t <= xs[-1]]
    _x_axis(draw, f, ticks, to_x, f"{x_axis} (log scale)" if log_x else x_axis, log_x, left,
            top + PLOT[1])
    for k, (label, line) in enumerate(lines.items()):
        colour = PALETTE[k % len(PALETTE)]
        _draw_line(draw, [(to_x(x), to_y(m), to_y(m - s), to_y(m + s)) for x, m, s in line],
                   colour)
        if legend_w:
            _legend_entry(draw, f, label, colour, left + PLOT[0] + 16, top + 6 + k * LINE)
    return image


def text_width(text, f):
    """The width in pixels of ``text`` in the font ``f``."""
    return ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=f)


def _y_axis(draw, f, values, left, top):
    """Draw the y axis's grid lines and round tick labels covering ``values`` beside the
    plot area at (left, top); return the map from a value to its pixel row."""
    ticks = nice_ticks(min(values, default=0.0), max(values, default=1.0))
    to_y = _scale([min([*values, ticks[0]]), max([*values, ticks[-1]])], top + PLOT[1], top)
    decimals = max(0, -math.floor(math.log10(ticks[1] - ticks[0])))
    for tick in ticks:
        y = to_y(tick)
        draw.line((left, y, left + PLOT[0], y), fill=GRID)
        label = f"{tick:.{decimals}f}"
        draw.text((left - 6 - text_width(label, f), y - FONT_PX / 2 - 1), label, fill=INK,
                  font=f)
    return to_y


def _x_axis(draw, f, xs, to_x, name, log_x, left, bottom):
    """Draw a tick and label at every x of ``xs`` below the plot area, and the axis name."""
    for x in xs:
        label = value_label(int(x) if x == int(x) and not log_x else x)
        draw.line((to_x(x), bottom, to_x(x), bottom + 4), fill=INK)
        draw.text((to_x(x) - text_width(label, f) / 2, bottom + 6), label, fill=INK, font=f)
    draw.text((left + PLOT[0] / 2 - text_width(name, f) / 2, bottom + LINE + 6), name,
              fill=INK, font=f)


def _legend_entry(draw, f, label, colour, x, y):
    """A line of the legend at (x, y): a stroke of ``colour`` and ``label``."""
    draw.line((x, y + FONT_PX / 2, x + 16, y + FONT_PX / 2), fill=colour, width=3)
    draw.text((x + 22, y), label, fill=INK, font=f)


def _draw_line(draw, points, colour):
    """A polyline through (x, y) with an error bar (y_low, y_high) and a dot at each (no
    dots or bars on a line of more than 40 points: a curve over epochs)."""
    if len(points) > 1:
        draw.line([(x, y) for x, y, _, _ in points], fill=colour, width=2)
    for x, y, low, high in points if len(points) <= 40 else ():
        draw.line((x, low, x, high), fill=colour, width=1)
        draw.line((x - 4, low, x + 4, low), fill=colour)
        draw.line((x - 4, high, x + 4, high), fill=colour)
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)


def _scale(values, start, end):
    """A function mapping [min(values), max(values)] linearly onto [start, end] (a single
    value: the middle)."""
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    if hi == lo:
        return lambda v: (start + end) / 2
    return lambda v: start + (v - lo) / (hi - lo) * (end - start)


def nice_ticks(lo, hi, count=5):
    """About ``count`` round tick values (steps of 1, 2 or 5 times a power of ten)
    covering [lo, hi]."""
    if not hi > lo:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(int(math.ceil((hi - first) / step)) + 1)]


# -------------------------------------------------------------------------- filters
def filter_pictures(folder, all_cells):
    """``filters/CELL.png`` for every cell whose model has filters (first successful run);
    returns the files written."""
    written = []
    for cell in all_cells:
        record = next((r for r in sorted(cell.records, key=lambda r: r.get("seed") or 0)
                       if r["status"] == "ok"), None)
        path = os.path.join(folder, record["model"]) if record else None
        if path is None or not os.path.exists(path):
            continue
        try:
            model = load(path)
            weights = model.filters()
        except NotSupported:  # a flow: no filters
            continue
        os.makedirs(os.path.join(folder, "filters"), exist_ok=True)
        target = os.path.join(folder, "filters", f"{cell.cell}.png")
        save_filters(target, weights, model.image_shape)
        written.append(target)
    return written
