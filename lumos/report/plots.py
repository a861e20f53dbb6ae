"""The report's drawing: section data (numbers, labels, series) to colours, SVG geometry and inline SVG charts.

Only the rendering layer (:mod:`lumos.report.render` and the templates) calls these. Every label that reaches
an SVG string is escaped here (the SVG is inserted as markup); numbers are formatted.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Mapping, Sequence

import numpy as np

# The one attribution colour and the one bidi isolation, shared with the notebook views.
from ..rendering import heat_color, isolate
from .common import LineChart, ScatterChart

def escape(text: Any) -> str:
    """HTML-escaped and direction-isolated text for the SVG."""
    return html.escape(isolate(str(text)))


__all__ = ["heat_color", "plot_frame", "line_plot_svg", "scatter_svg", "line_chart_svg", "scatter_chart_svg",
           "reliability_bars", "interval_bars", "attention_cells", "probe_bars", "projection_points",
           "class_colors", "PALETTE"]

#: Colours of the series of line and scatter charts (cycled).
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563", "#65a30d")

#: Colours of the classes in projections (cycled).
CLASS_PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2")


def plot_frame(*, title: str, x_label: str, y_label: str, x_range: tuple[float, float], y_range: tuple[float, float],
               x_ticks: Sequence[str] | None = None, width: int = 460, height: int = 300, right: int = 130
               ) -> tuple[list[str], Callable[[float], float], Callable[[float], float]]:
    """The opening of an inline SVG chart (title, frame, grid, tick labels, axis labels) and the maps from data
    to pixel coordinates: ``(parts, px, py)``. Callers append their marks and ``"</svg>"``."""
    left, top, bottom = 48, 28, 44
    pw, ph = width - left - right, height - top - bottom
    x0, x1 = x_range
    y0, y1 = y_range
    x1 = x1 if x1 != x0 else x0 + 1
    y1 = y1 if y1 != y0 else y0 + 1

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" class="plot">',
             f'<text x="{left}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#9ca3af"/>']
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(yv):.1f}" y2="{py(yv):.1f}" stroke="#e5e7eb"/>'
                     f'<text x="{left - 4}" y="{py(yv) + 4:.1f}" font-size="10" text-anchor="end">{yv:.2f}</text>')
    if x_ticks is not None:
        for i, label in enumerate(x_ticks):
            x = px(i)
            parts.append(f'<text x="{x:.1f}" y="{top + ph + 12}" font-size="9" text-anchor="end" '
                         f'transform="rotate(-25 {x:.1f} {top + ph + 12})">{escape(str(label))}</text>')
    else:
        for i in range(5):
            xv = x0 + (x1 - x0) * i / 4
            parts.append(f'<text x="{px(xv):.1f}" y="{top + ph + 14}" font-size="10" text-anchor="middle">'
                         f'{xv:.2f}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{height - 4}" font-size="11" text-anchor="middle">'
                 f'{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{top + ph / 2:.1f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})">{escape(y_label)}</text>')
    return parts, px, py


def line_plot_svg(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *, title: str, x_label: str,
                  y_label: str, x_ticks: Sequence[str] | None = None, y_range: tuple[float, float] | None = None,
                  width: int = 460, height: int = 300) -> str:
    """An inline SVG line chart of ``(name, xs, ys)`` series with a legend; NaN points are skipped."""
    xs_all = np.concatenate([np.asarray(x, float) for _, x, _ in series]) if series else np.array([0.0, 1.0])
    ys_all = np.concatenate([np.asarray(y, float) for _, _, y in series]) if series else np.array([0.0, 1.0])
    ys_all = ys_all[np.isfinite(ys_all)]
    if y_range is None:
        y_range = (float(ys_all.min()), float(ys_all.max())) if len(ys_all) else (0.0, 1.0)
    parts, px, py = plot_frame(title=title, x_label=x_label, y_label=y_label,
                               x_range=(float(xs_all.min()), float(xs_all.max())), y_range=y_range,
                               x_ticks=x_ticks, width=width, height=height)
    legend_x, top = width - 130, 28  # the frame's right edge (plot_frame's default right margin)
    for k, (name, xs, ys) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{px(float(x)):.1f},{py(float(y)):.1f}" for x, y in zip(xs, ys) if np.isfinite(y))
        dash = ' stroke-dasharray="4 3"' if name == "random" else ""
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.8"{dash}>'
                     f'<title>{escape(name)}</title></polyline>')
        ly = top + 10 + 14 * k
        parts.append(f'<line x1="{legend_x + 8}" x2="{legend_x + 24}" y1="{ly}" y2="{ly}" stroke="{color}" '
                     f'stroke-width="2"{dash}/><text x="{legend_x + 28}" y="{ly + 4}" font-size="10">'
                     f'{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def scatter_svg(points: Sequence[tuple[str, float, float]], *, title: str, x_label: str, y_label: str,
                width: int = 460, height: int = 300) -> str:
    """An inline SVG scatter of labelled ``(label, x, y)`` points, x from 0; NaN points are skipped."""
    shown = [(n, float(x), float(y)) for n, x, y in points if np.isfinite(x) and np.isfinite(y)]
    xs = [x for _, x, _ in shown] or [1.0]
    ys = [y for _, _, y in shown] or [0.0, 1.0]
    pad = max((max(ys) - min(ys)) * 0.15, 0.02)
    parts, px, py = plot_frame(title=title, x_label=x_label, y_label=y_label, x_range=(0.0, max(1.05, max(xs) * 1.05)),
                               y_range=(min(ys) - pad, max(ys) + pad), width=width, height=height, right=16)
    for k, (name, x, y) in enumerate(shown):
        color = PALETTE[k % len(PALETTE)]
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"><title>{escape(name)}: '
                     f'{x:.2f}, {y:.3f}</title></circle>'
                     f'<text x="{px(x) + 6:.1f}" y="{py(y) - 5:.1f}" font-size="10" fill="{color}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart_svg(chart: LineChart) -> str:
    """:func:`line_plot_svg` of a chart's data; a categorical axis gets a larger chart, as its tick labels are
    written at a slant."""
    width, height = (560, 340) if chart.x_ticks is not None else (460, 300)
    return line_plot_svg([(s.name, s.xs, s.ys) for s in chart.series], title=chart.title, x_label=chart.x_label,
                         y_label=chart.y_label, x_ticks=chart.x_ticks, y_range=chart.y_range, width=width,
                         height=height)


def scatter_chart_svg(chart: ScatterChart) -> str:
    """:func:`scatter_svg` of a chart's data."""
    return scatter_svg([(p["label"], p["x"], p["y"]) for p in chart.points], title=chart.title,
                       x_label=chart.x_label, y_label=chart.y_label)


def reliability_bars(bins: Sequence[Mapping[str, Any]], size: int = 200) -> list[dict[str, float]]:
    """Bar geometry for the reliability diagram (SVG coordinates, y down), one per bin of
    ``{"lo", "hi", "n", "conf", "acc"}``."""
    return [{"x": float(b["lo"] * size), "w": float((b["hi"] - b["lo"]) * size * 0.92),
             "y": float((1 - b["acc"]) * size), "h": float(b["acc"] * size), "cy": float((1 - b["conf"]) * size),
             "cx": float(b["conf"] * size), **b} for b in bins]


def interval_bars(ranked: Sequence[Mapping[str, Any]], width: int = 160) -> list[dict[str, Any]]:
    """SVG geometry of a bar (the mean drop) and a whisker (its confidence interval) per feature of
    ``{"feature", "mean", "low", "high"}``, on one scale that holds 0 and every interval."""
    lo = min([0.0, *(r["low"] for r in ranked)])
    hi = max([0.0, *(r["high"] for r in ranked)])
    span = hi - lo if hi > lo else 1.0

    def x(v: float) -> float:
        return 4 + (v - lo) / span * (width - 8)

    return [{**r, "zero": x(0.0), "bar_x": min(x(0.0), x(r["mean"])), "bar_w": abs(x(r["mean"]) - x(0.0)),
             "low_x": x(r["low"]), "high_x": x(r["high"])} for r in ranked]


def attention_cells(matrix: Mapping[str, Any], size: int = 220) -> dict[str, Any]:
    """Heat-map cells of an attention matrix ``{"tokens", "weights"}`` (row: query token), opacity relative to
    the largest weight."""
    tokens, a = matrix["tokens"], np.asarray(matrix["weights"], dtype=np.float64)  # (T, T)
    n = len(tokens)
    cell = size / n
    peak = float(a.max()) or 1.0
    cells = [{"x": j * cell, "y": i * cell, "w": cell, "opacity": float(a[i, j] / peak),
              "title": f"{tokens[i]} -> {tokens[j]}: {a[i, j]:.3f}"} for i in range(n) for j in range(n)]
    return {"size": size, "cells": cells, "tokens": tokens, "cell": cell}


def probe_bars(probe: Mapping[str, Any]) -> dict[str, Any]:
    """Bar geometry of per-layer probe accuracy ``{"chance", "bars": [{"site", "acc", "std"}]}``: 150 pixels for
    accuracy 1, bars 34 pixels apart, and the chance level's height."""
    bars = [{**b, "x": 10 + i * 34, "h": float(b["acc"]) * 150, "y": 160 - float(b["acc"]) * 150}
            for i, b in enumerate(probe["bars"])]
    return {"chance": probe["chance"], "bars": bars, "chance_y": 160 - probe["chance"] * 150}


def projection_points(view: Mapping[str, Any], class_names: Sequence[str], size: int = 220) -> list[dict[str, Any]]:
    """Circle geometry of a 2-D projection ``{"coords", "labels", "correct"}``, coloured by label, scaled to
    the square with an 8-pixel margin."""
    coords = np.asarray(view["coords"])
    lo, hi = coords.min(0), coords.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    xy = 8 + (coords - lo) / span * (size - 16)
    return [{"x": float(x), "y": float(size - y), "color": CLASS_PALETTE[int(k) % len(CLASS_PALETTE)],
             "wrong": not bool(ok), "title": f"{class_names[int(k)]}{'' if ok else ' (misclassified)'}"}
            for (x, y), k, ok in zip(xy, view["labels"], view["correct"])]


def class_colors(class_names: Sequence[str]) -> list[dict[str, str]]:
    """The projection colour of each class: ``{"name", "color"}``."""
    return [{"name": c, "color": CLASS_PALETTE[i % len(CLASS_PALETTE)]} for i, c in enumerate(class_names)]
