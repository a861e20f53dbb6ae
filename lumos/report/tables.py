"""The report for table models: held-out accuracy; for each of the first rows, the features each method finds
most important, with their values; errors and slices over the columns; calibration; and global importance,
from permutation importance (with confidence intervals) and a surrogate tree (with its fidelity and rules).

The page is rendered by ``table_report.html``, which shares the model card, accuracy, methods table and the
diagnosis sections with the text report.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InvalidArgumentError, check_int
from ..explanation import Explanation
from ..models import ModelAdapter
from ..zoo.data import load_table

__all__ = ["TABLE_METHODS", "build_table_report", "importance_section", "load_table"]

#: Rows per model call. A table model is cheap per row and dear per call (a gradient-boosting model spends
#: tens of milliseconds on a call however few rows it gets), and each perturbation of a row costs one model
#: row per background row, so perturbation methods get full calls too.
ROWS_PER_CALL = 4096

#: Methods shown for table models by default, with their report settings: gradient methods (differentiable
#: models only, such as an MLP), then perturbation methods (any model).
TABLE_METHODS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "gradient_x_input": {},
    "integrated_gradients": {"n_steps": 32},
    "smoothgrad": {"n_samples": 16},
    "occlusion": {"batch_size": ROWS_PER_CALL},
    "lime": {"n_evals": 300, "batch_size": ROWS_PER_CALL},
    "kernel_shap": {"n_evals": 300, "batch_size": ROWS_PER_CALL},
}

#: Features shown per example and method (those with the largest |attribution|).
TOP_FEATURES = 8


def _feature_rows(explanations: Mapping[str, Explanation], row: Any, k: int = TOP_FEATURES) -> list[dict[str, Any]]:
    """Per method, one heat row of the ``k`` features with the largest |attribution|, each shown as
    ``feature = value (attribution)``; ``row`` holds the example's values in the model's feature order."""
    from .build import heat_color
    from .render import _fmt

    row = np.asarray(row, dtype=np.float64)
    rows = []
    for name, e in explanations.items():
        values = np.asarray(e.values, dtype=np.float64)  # (n_features,)
        scale = float(np.abs(values).max()) if len(values) else 0.0
        order = np.argsort(-np.abs(values), kind="stable")[:k]
        cells = [{"word": f"{e.features[i]} = {_fmt(float(row[i]))} ({values[i]:+.3g})", "value": float(values[i]),
                  "color": heat_color(float(values[i]), scale)} for i in order]
        rows.append({"method": name, "cells": cells, "sum": float(values.sum()), "delta": e.convergence_delta})
    return rows


def _interval_bars(ranked: Sequence[tuple[str, float, float, float]], width: int = 160) -> list[dict[str, Any]]:
    """SVG geometry of a bar (the mean drop) and a whisker (its confidence interval) per feature, on one scale
    that holds 0 and every interval."""
    lo = min([0.0, *(low for _, _, low, _ in ranked)])
    hi = max([0.0, *(high for _, _, _, high in ranked)])
    span = hi - lo if hi > lo else 1.0

    def x(v: float) -> float:
        return 4 + (v - lo) / span * (width - 8)

    return [{"feature": f, "mean": mean, "low": low, "high": high, "zero": x(0.0), "bar_x": min(x(0.0), x(mean)),
             "bar_w": abs(x(mean) - x(0.0)), "low_x": x(low), "high_x": x(high)} for f, mean, low, high in ranked]


def importance_section(adapter: ModelAdapter, inputs: Any, labels: np.ndarray, train: Any = None, *, top: int = 10,
                       n_repeats: int = 5, max_depth: int = 3, batch_size: int = ROWS_PER_CALL,
                       progress: bool | None = None) -> dict[str, Any]:
    """Permutation importance of the ``top`` features on the held-out rows, and a surrogate tree of depth
    ``max_depth`` fitted on ``train`` (the model's predictions there) with its fidelity on the held-out rows,
    its rules and the decision path of the first row (None without training rows)."""
    from ..global_ import SurrogateTree, permutation_importance

    perm = permutation_importance(adapter, inputs, labels, n_repeats=n_repeats, batch_size=batch_size,
                                  progress=progress)
    surrogate = None
    if train is not None:
        tree = SurrogateTree(adapter, max_depth=max_depth).fit(train)
        surrogate = {"depth": max_depth, "n_train": len(train), "fidelity": tree.fidelity(inputs),
                     "rules": tree.rules().rstrip(), "path": tree.path(inputs.iloc[[0]])}
    return {"n": len(labels), "metric": perm.metric, "baseline": perm.baseline, "confidence": perm.confidence,
            "n_repeats": n_repeats, "n_features": len(perm.features), "bars": _interval_bars(perm.ranked()[:top]),
            "surrogate": surrogate}


def build_table_report(adapter: ModelAdapter, *, data: str | None = None, n: int = 50,
                       out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                       batch_size: int | None = None, progress: bool | None = None) -> Path:
    """Explain the first ``n`` held-out rows with each method and write ``out/index.html``.

    Parameters
    ----------
    adapter : a table model's adapter
        (:class:`~lumos.models.SklearnAdapter`, :class:`~lumos.models.TabularTorchAdapter`)
    data : zoo table dataset (its test split) or CSV file with the model's feature columns and ``label``;
        default: the zoo model's dataset
    n : int, default 50
    out : path, default "lumos-report"
    methods : names of attribution methods; default :func:`~lumos.report.build.default_methods`, with the
        settings of :data:`TABLE_METHODS` (a method the model cannot run is left out, with a note)
    batch_size : int, optional
        Rows per model call when predicting the held-out rows; default :data:`ROWS_PER_CALL`.
    """
    from .. import __version__, zoo
    from ..diagnosis import describe_table
    from .build import ReportData, _card_rows, _evaluate, default_methods, explain_all, make_methods
    from .render import render_report
    from .sections import diagnosis_section

    n = check_int(n, "n", owner="build_report", minimum=1)
    batch_size = ROWS_PER_CALL if batch_size is None else check_int(batch_size, "batch_size", owner="build_report",
                                                                    minimum=1)
    card = {"name": adapter.name, **adapter.card}
    data = data or card.get("dataset")
    if data is None:
        raise InvalidArgumentError("The 'data' argument is required for a table model outside the zoo: a CSV file "
                                   "with the model's feature columns and a 'label' column.")
    labelled = load_table(data, adapter.class_names)
    frame = labelled.inputs.reset_index(drop=True)
    labels = np.asarray(labelled.labels)
    examples, _ = adapter.split_inputs(frame)  # rows in the model's feature order
    evaluation, probs = _evaluate(adapter, examples, labels, labelled.name, batch_size)
    module = getattr(adapter, "model", None)
    if module is not None:
        card["parameters"] = sum(p.numel() for p in module.parameters())
    card.setdefault("classes", list(adapter.class_names))

    instances, notes = make_methods(adapter, default_methods() if methods is None else methods, TABLE_METHODS)
    chosen = examples[:n]
    results, summaries = explain_all(instances, chosen, progress=progress)
    rows = []
    for i, row in enumerate(chosen):
        p = probs[i]
        rows.append({
            "index": i, "label": adapter.class_names[labels[i]], "predicted": adapter.class_names[int(p.argmax())],
            "correct": int(p.argmax()) == int(labels[i]),
            "probabilities": [{"name": c, "p": float(q)} for c, q in zip(adapter.class_names, p)],
            "rows": _feature_rows({name: res[i] for name, res in results.items()}, row),
        })
    diagnosis = diagnosis_section(adapter, examples, labels, probs, results, instances,
                                  descriptors=describe_table(frame, probs, adapter.class_names),
                                  described_by="ranges of the columns, predicted class and confidence band",
                                  example_rows=_feature_rows, unit="feature", min_count=1)
    train = labelled.train
    if train is None and card.get("dataset") in zoo.datasets():  # a CSV for a zoo model: its own training rows
        train = load_table(card["dataset"], adapter.class_names, split="train").inputs
    if train is None:
        notes.append("The surrogate tree is left out: it is fitted on training rows, and a CSV file for a model "
                     "outside the zoo has none.")
    importance = importance_section(adapter, frame, labels, train, batch_size=batch_size, progress=progress)
    report = ReportData(
        title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        card=_card_rows(card), evaluation=evaluation, methods=summaries, examples=rows, notes=notes,
        diagnosis=diagnosis, importance=importance,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_report(report, "table_report.html"), encoding="utf-8")
    return path
