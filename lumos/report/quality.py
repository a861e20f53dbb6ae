"""The report's "Explanation quality" section as plain data: the methods x metrics table with confidence
intervals, the ranking, mean deletion / insertion curves and the randomization sanity-check curves (drawn by
:func:`lumos.report.plots.line_chart_svg`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..metrics.evaluate import EvaluationResult
from .common import LineChart, SectionData, Series
from .plots import line_plot_svg  # noqa: F401  (its home before the section became data; callers import it here)

__all__ = ["QualityData", "quality_section"]


@dataclass
class QualityData(SectionData):
    """The "Explanation quality" section: ``columns`` (one per metric: label, direction arrow, description),
    ``rows`` (per method: ``mean``, ``half`` and ``n`` per metric, seconds per explanation), the ranking, the
    charts (deletion, insertion, and the randomization check where it ran) and the sanity verdicts."""

    n: int
    data: str
    seconds: float
    settings: dict[str, Any]
    columns: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    ranking: list[dict[str, Any]]
    plots: list[LineChart]
    sanity: list[dict[str, Any]]


def quality_section(result: EvaluationResult) -> QualityData:
    """The section's data: table rows (``mean ± CI`` per metric), ranking, and the curves of three charts."""
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
    grid = result.grid.tolist()
    deletion = [Series(ev.method, grid, ev.deletion_curve.tolist()) for ev in result.methods
                if ev.deletion_curve is not None]
    insertion = [Series(ev.method, grid, ev.insertion_curve.tolist()) for ev in result.methods
                 if ev.insertion_curve is not None]
    plots = [LineChart("Deletion (most relevant first) ↓", "fraction of words hidden", "p(explained class)",
                       deletion, y_range=(0, 1)),
             LineChart("Insertion (most relevant first) ↑", "fraction of words shown", "p(explained class)",
                       insertion, y_range=(0, 1))]
    sanity = [ev for ev in result.methods if ev.sanity is not None]
    if sanity:
        layers = ("trained",) + sanity[0].sanity.layers
        series = [Series(ev.method, list(range(len(layers))), np.concatenate([[1.0], ev.sanity.mean]).tolist())
                  for ev in sanity]
        plots.append(LineChart("Cascading randomization (top layer first) ↓", "", "rank correlation with trained",
                               series, x_ticks=_short(layers), y_range=(-1, 1)))
    verdicts = [{"sanity": ev.method, "final": ev.sanity.final, "passed": ev.sanity.passed} for ev in sanity]
    return QualityData(n=result.n, data=result.data, seconds=result.seconds, settings=result.settings,
                       columns=columns, rows=rows, ranking=result.ranking, plots=plots, sanity=verdicts)


def _short(layers: Sequence[str]) -> list[str]:
    return [name.replace("encoder.encoder.", "").replace("encoder.", "") for name in layers]
