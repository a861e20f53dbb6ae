"""The report's error-analysis sections as plain data: errors and slices, calibration, global importance; for
texts and tables alike (the caller says how examples are described and shown)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..attribution import Method
from ..diagnosis import calibration, confident_errors, find_slices
from ..explanation import Explanation, ExplanationSet
from ..global_ import aggregate_importance
from .common import HeatRow, SectionData

__all__ = ["DiagnosisData", "diagnosis_section"]


@dataclass
class DiagnosisData(SectionData):
    """Errors and slices, calibration and global importance over the evaluated held-out examples.

    ``bins`` are the non-empty calibration bins ``{"lo", "hi", "n", "conf", "acc"}``; ``errors`` the most
    confident errors, each with the heat rows of its explanation; ``importance`` per method the ``top``
    features by mean |attribution| and the words most important for each class."""

    n: int
    error_rate: float
    ece: float
    mce: float
    bins: list[dict[str, Any]]
    slices: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    importance: list[dict[str, Any]]
    unit: str
    described_by: str
    min_count: int


def _calibration_bins(cal: Any) -> list[dict[str, Any]]:
    """The non-empty bins of a reliability diagram: edges, count, mean confidence and accuracy."""
    return [{"lo": float(lo), "hi": float(hi), "n": int(n), "conf": float(conf), "acc": float(acc)}
            for lo, hi, n, conf, acc in zip(cal.edges[:-1], cal.edges[1:], cal.counts, cal.confidence, cal.accuracy)
            if n != 0]


def diagnosis_section(adapter: Any, examples: Sequence[Any], labels: np.ndarray, probs: np.ndarray,
                      explained: Mapping[str, ExplanationSet], methods: Mapping[str, Method], *, descriptors: Any,
                      described_by: str, example_rows: Callable[[dict[str, Explanation], Any], list[HeatRow]],
                      unit: str = "feature", min_count: int = 1, n_errors: int = 3) -> DiagnosisData:
    """Calibration, worst slices, most confident errors (explained by the first method) and mean |attribution|
    per feature for each method, over the evaluated held-out examples; the same for texts and tables.

    Parameters
    ----------
    adapter : the model's adapter
    examples : the held-out examples, as the model takes them (texts, or rows in the model's feature order)
    labels : int array (n,); probs : array (n, n_classes), the model's on ``examples``
    explained : method name -> its explanations of the first examples
    methods : method name -> Method; the first explains the confident errors
    descriptors : DataFrame (n rows)
        What slices are described by (:func:`~lumos.diagnosis.describe_texts`,
        :func:`~lumos.diagnosis.describe_table`); ``described_by`` says it in words on the page.
    example_rows : callable
        ``example_rows({method: explanation}, example)``: the heat rows that show an explanation of ``example``.
    unit : str, default "feature"
        What one attribution is about on the page ("word" for texts).
    min_count : int, default 1
        Global importance lists features seen in at least this many explanations (words vary between texts).
    """
    cal = calibration(probs, labels)
    errors = probs.argmax(1) != labels
    slices = find_slices(descriptors, errors)
    first = next(iter(methods.values()), None)
    worst = confident_errors(adapter, list(examples), labels, probs, k=n_errors, method=first)
    error_rows = []
    for e in worst:
        error_rows.append({"index": e.index, "text": str(examples[e.index]), "label": e.label,
                           "predicted": e.predicted, "confidence": e.confidence,
                           "rows": example_rows({first.name: e.explanation}, examples[e.index])
                           if e.explanation is not None else []})
    importance = []
    for name, results in explained.items():
        g = aggregate_importance(results)
        importance.append({"method": name, "n": g.n_explanations,
                           "top": [{"word": w, "mean_abs": a, "mean": m, "count": c} for w, a, m, c in
                                   g.top(10, min_count=min_count)],
                           "per_class": [{"name": c, "words": ", ".join(w for w, *_ in
                                                                        g.top(6, cls=c, min_count=min_count))}
                                         for c in sorted(g.per_class)]})
    return DiagnosisData(n=int(len(labels)), error_rate=float(errors.mean()), ece=cal.ece, mce=cal.mce,
                         bins=_calibration_bins(cal), slices=[s.to_dict() for s in slices], errors=error_rows,
                         importance=importance, unit=unit, described_by=described_by, min_count=min_count)
