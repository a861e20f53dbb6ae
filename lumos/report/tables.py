"""The report for table models: held-out accuracy; for each of the first rows, the features each method finds
most important, with their values; errors and slices over the columns; calibration; and global importance,
from permutation importance (with confidence intervals) and a surrogate tree (with its fidelity and rules).

The page is rendered by ``table_report.html``, which shares the model card, accuracy, methods table and the
diagnosis sections with the text report.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..attribution.registry import TABLE_ROWS_PER_CALL, make_methods, preset, preset_methods
from ..errors import InvalidArgumentError, check_int
from ..explanation import Explanation
from ..models import ModelAdapter
from ..zoo.data import load_table
from .common import (Example, HeatCell, HeatRow, ReportData, SectionData, card_rows, evaluate_held_out,
                     explain_all)

__all__ = ["TABLE_METHODS", "ImportanceData", "build_table_report", "table_report", "importance_section",
           "load_table"]

#: Rows per model call (see :data:`lumos.attribution.registry.TABLE_ROWS_PER_CALL`).
ROWS_PER_CALL = TABLE_ROWS_PER_CALL

#: Methods shown for table models by default, with their report settings: the registry's ``"table"`` preset.
TABLE_METHODS: dict[str, dict[str, Any]] = preset("table")

#: Features shown per example and method (those with the largest |attribution|).
TOP_FEATURES = 8


def feature_rows(explanations: Mapping[str, Explanation], row: Any, k: int = TOP_FEATURES) -> list[HeatRow]:
    """Per method, one heat row of the ``k`` features with the largest |attribution|, largest first, each with
    its value in the example; ``row`` holds the example's values in the model's feature order."""
    row = np.asarray(row, dtype=np.float64)
    rows = []
    for name, e in explanations.items():
        values = np.asarray(e.values, dtype=np.float64)  # (n_features,)
        scale = float(np.abs(values).max()) if len(values) else 0.0
        order = np.argsort(-np.abs(values), kind="stable")[:k]
        cells = [HeatCell(e.features[i], float(values[i]), float(row[i])) for i in order]
        rows.append(HeatRow(name, cells, float(values.sum()), e.convergence_delta, scale))
    return rows


@dataclass
class ImportanceData(SectionData):
    """Permutation importance on ``n`` held-out rows: the drop of ``metric`` from ``baseline`` per feature
    (``bars``: the largest, ``{"feature", "mean", "low", "high"}``, the interval at ``confidence``), and the
    surrogate tree (``{"depth", "n_train", "fidelity", "rules", "path"}``; None without training rows)."""

    n: int
    metric: str
    baseline: float
    confidence: float
    n_repeats: int
    n_features: int
    bars: list[dict[str, Any]]
    surrogate: dict[str, Any] | None


def importance_section(adapter: ModelAdapter, inputs: Any, labels: np.ndarray, train: Any = None, *, top: int = 10,
                       n_repeats: int = 5, max_depth: int = 3, batch_size: int = ROWS_PER_CALL,
                       progress: bool | None = None) -> ImportanceData:
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
    bars = [{"feature": f, "mean": mean, "low": low, "high": high} for f, mean, low, high in perm.ranked()[:top]]
    return ImportanceData(n=len(labels), metric=perm.metric, baseline=perm.baseline, confidence=perm.confidence,
                          n_repeats=n_repeats, n_features=len(perm.features), bars=bars, surrogate=surrogate)


def table_report(adapter: ModelAdapter, *, data: str | None = None, n: int = 50,
                 methods: Sequence[str] | None = None, batch_size: int | None = None,
                 progress: bool | None = None) -> ReportData:
    """Explain the first ``n`` held-out rows with each method: the report's data (kind ``"tables"``).

    Parameters
    ----------
    adapter : a table model's adapter
        (:class:`~lumos.models.SklearnAdapter`, :class:`~lumos.models.TabularTorchAdapter`)
    data : zoo table dataset (its test split) or CSV file with the model's feature columns and ``label``;
        default: the zoo model's dataset
    n : int, default 50
    methods : names of attribution methods; default: the methods of :data:`TABLE_METHODS` (the registry's
        ``"table"`` preset), with its settings (a method the model cannot run is left out, with a note)
    batch_size : int, optional
        Rows per model call when predicting the held-out rows; default :data:`ROWS_PER_CALL`.
    """
    from .. import __version__, zoo
    from ..diagnosis import describe_table
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
    evaluation, probs = evaluate_held_out(adapter, examples, labels, labelled.name, batch_size)
    if adapter.module is not None:
        card["parameters"] = sum(p.numel() for p in adapter.module.parameters())
    card.setdefault("classes", list(adapter.class_names))

    instances, notes = make_methods(adapter, preset_methods("table") if methods is None else methods, TABLE_METHODS)
    chosen = examples[:n]
    results, summaries = explain_all(instances, chosen, progress=progress)
    rows = []
    for i, row in enumerate(chosen):
        p = probs[i]
        rows.append(Example(
            index=i, label=adapter.class_names[labels[i]], predicted=adapter.class_names[int(p.argmax())],
            correct=int(p.argmax()) == int(labels[i]),
            probabilities=[{"name": c, "p": float(q)} for c, q in zip(adapter.class_names, p)],
            rows=feature_rows({name: res[i] for name, res in results.items()}, row),
        ))
    diagnosis = diagnosis_section(adapter, examples, labels, probs, results, instances,
                                  descriptors=describe_table(frame, probs, adapter.class_names),
                                  described_by="ranges of the columns, predicted class and confidence band",
                                  example_rows=feature_rows, unit="feature", min_count=1)
    train = labelled.train
    if train is None and card.get("dataset") in zoo.datasets():  # a CSV for a zoo model: its own training rows
        train = load_table(card["dataset"], adapter.class_names, split="train").inputs
    if train is None:
        notes.append("The surrogate tree is left out: it is fitted on training rows, and a CSV file for a model "
                     "outside the zoo has none.")
    importance = importance_section(adapter, frame, labels, train, batch_size=batch_size, progress=progress)
    return ReportData(
        kind="tables", title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        card=card_rows(card), evaluation=evaluation, methods=summaries, examples=rows, notes=notes,
        diagnosis=diagnosis, importance=importance,
    )


def build_table_report(adapter: ModelAdapter, *, data: str | None = None, n: int = 50,
                       out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                       batch_size: int | None = None, progress: bool | None = None) -> Path:
    """:func:`table_report`, written to ``out/index.html`` (default ``"lumos-report"``); its path."""
    from .render import write_report

    return write_report(table_report(adapter, data=data, n=n, methods=methods, batch_size=batch_size,
                                     progress=progress), out)
