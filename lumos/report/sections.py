"""The report's error-analysis sections as plain data: errors and slices, calibration, global importance."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..diagnosis import calibration, confident_errors, describe_texts, find_slices
from ..explanation import ExplanationSet
from ..global_ import aggregate_importance

__all__ = ["diagnosis_section"]


def _reliability_svg_bars(cal: Any, size: int = 200) -> list[dict[str, float]]:
    """Bar geometry for the reliability diagram (SVG coordinates, y down), one per non-empty bin."""
    bars = []
    for lo, hi, n, conf, acc in zip(cal.edges[:-1], cal.edges[1:], cal.counts, cal.confidence, cal.accuracy):
        if n == 0:
            continue
        bars.append({"x": float(lo * size), "w": float((hi - lo) * size * 0.92), "y": float((1 - acc) * size),
                     "h": float(acc * size), "cy": float((1 - conf) * size), "cx": float(conf * size),
                     "n": int(n), "conf": float(conf), "acc": float(acc), "lo": float(lo), "hi": float(hi)})
    return bars


def diagnosis_section(adapter: Any, texts: Sequence[str], labels: np.ndarray, probs: np.ndarray,
                      explained: Mapping[str, ExplanationSet], methods: Mapping[str, Any], *,
                      n_errors: int = 3, example_rows: Any = None) -> dict[str, Any]:
    """Calibration, worst slices, most confident errors (explained by the first method) and mean |attribution|
    per word for each method, over the evaluated held-out texts."""
    cal = calibration(probs, labels)
    errors = probs.argmax(1) != labels
    slices = find_slices(describe_texts(list(texts), probs, adapter.class_names), errors)
    first = next(iter(methods.values()), None)
    worst = confident_errors(adapter, list(texts), labels, probs, k=n_errors, method=first)
    error_rows = []
    for e in worst:
        error_rows.append({"index": e.index, "text": texts[e.index], "label": e.label, "predicted": e.predicted,
                           "confidence": e.confidence,
                           "rows": example_rows({first.name: e.explanation}) if e.explanation is not None and
                           example_rows is not None else []})
    importance = []
    for name, results in explained.items():
        g = aggregate_importance(results)
        importance.append({"method": name, "n": g.n_explanations,
                           "top": [{"word": w, "mean_abs": a, "mean": m, "count": c} for w, a, m, c in
                                   g.top(10, min_count=2)],
                           "per_class": [{"name": c, "words": ", ".join(w for w, *_ in g.top(6, cls=c, min_count=2))}
                                         for c in sorted(g.per_class)]})
    return {"n": int(len(labels)), "error_rate": float(errors.mean()), "ece": cal.ece, "mce": cal.mce,
            "bins": _reliability_svg_bars(cal), "slices": [s.to_dict() for s in slices], "errors": error_rows,
            "importance": importance}
