"""The report's "Explanation quality" section: the methods x metrics table with confidence intervals, the
ranking, mean deletion / insertion curves and the randomization sanity-check plot (inline SVG, no script).

Every label that reaches an SVG is escaped here (the SVG is inserted as markup); numbers are formatted.
"""

from __future__ import annotations

from html import escape
from typing import Any, Callable, Sequence

import numpy as np

from ..metrics.evaluate import EvaluationResult

__all__ = ["quality_section", "line_plot_svg", "plot_frame"]

_PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563", "#65a30d")


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
        color = _PALETTE[k % len(_PALETTE)]
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


def quality_section(result: EvaluationResult) -> dict[str, Any]:
    """Plain data for the template: table rows (``mean ± CI`` per metric), ranking, and three SVG plots."""
    metrics = result.metrics()
    columns = [{"label": m.label, "arrow": "" if m.higher_is_better is None else ("↑" if m.higher_is_better else "↓"),
                "description": m.description} for m in metrics]
    rows = []
    for ev in result.methods:
        cells = []
        for m in metrics:
            mean, half, n = ev.summary(m.key)
            cells.append({"mean": mean if n else None, "half": half if n > 1 else None, "n": n})
        rows.append({"method": ev.method, "cells": cells, "seconds": ev.seconds_per_explanation})
    deletion = [(ev.method, result.grid, ev.deletion_curve) for ev in result.methods if ev.deletion_curve is not None]
    insertion = [(ev.method, result.grid, ev.insertion_curve) for ev in result.methods
                 if ev.insertion_curve is not None]
    plots = [line_plot_svg(deletion, title="Deletion (most relevant first) ↓", x_label="fraction of words hidden",
                           y_label="p(explained class)", y_range=(0, 1)),
             line_plot_svg(insertion, title="Insertion (most relevant first) ↑", x_label="fraction of words shown",
                           y_label="p(explained class)", y_range=(0, 1))]
    sanity = [ev for ev in result.methods if ev.sanity is not None]
    if sanity:
        layers = ("trained",) + sanity[0].sanity.layers
        series = [(ev.method, np.arange(len(layers)), np.concatenate([[1.0], ev.sanity.mean])) for ev in sanity]
        plots.append(line_plot_svg(series, title="Cascading randomization (top layer first) ↓",
                                   x_label="", y_label="rank correlation with trained", x_ticks=_short(layers),
                                   y_range=(-1, 1), width=560, height=340))
    verdicts = [{"sanity": ev.method, "final": ev.sanity.final, "passed": ev.sanity.passed} for ev in sanity]
    return {"n": result.n, "data": result.data, "seconds": result.seconds, "settings": result.settings,
            "columns": columns, "rows": rows, "ranking": result.ranking, "plots": plots, "sanity": verdicts}


def _short(layers: Sequence[str]) -> list[str]:
    return [name.replace("encoder.encoder.", "").replace("encoder.", "") for name in layers]
