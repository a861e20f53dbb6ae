"""Confusion matrix and per-class precision, recall and F1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["Performance", "performance", "check_probs_labels"]


def check_probs_labels(probs: Any, labels: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """``probs`` as (n, C) floats and ``labels`` as (n,) ints in [0, C), or a clear error."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise InvalidArgumentError(f"The 'probs' parameter of {owner} must have shape (n, n_classes) with n >= 1 "
                                   f"and n_classes >= 2. Got {probs.shape}.")
    if labels.shape != (probs.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidArgumentError(f"The 'labels' parameter of {owner} must be {probs.shape[0]} integer class "
                                   f"indices (one per row of probs). Got shape {labels.shape}, dtype {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise InvalidArgumentError(f"The 'labels' of {owner} must be class indices in [0, {probs.shape[1] - 1}]. "
                                   f"Got values in [{labels.min()}, {labels.max()}].")
    return probs, labels.astype(np.int64)


@dataclass(frozen=True)
class Performance:
    """Accuracy, confusion matrix (rows: true class, columns: predicted class) and per-class metrics.

    ``per_class`` holds one dict per class: name, support, precision, recall, f1 (NaN where undefined).
    """

    accuracy: float
    confusion: np.ndarray
    per_class: list[dict[str, Any]]
    class_names: tuple[str, ...]

    @property
    def macro_f1(self) -> float:
        return float(np.nanmean([c["f1"] for c in self.per_class]))


def performance(probs: Any, labels: Any, class_names: Sequence[str] | None = None) -> Performance:
    """Confusion and per-class precision / recall / F1 of the argmax predictions of ``probs`` (n, C)."""
    probs, labels = check_probs_labels(probs, labels, "performance")
    k = probs.shape[1]
    names = tuple(class_names) if class_names is not None else tuple(f"class_{i}" for i in range(k))
    pred = probs.argmax(1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, pred), 1)
    per_class = []
    for c in range(k):
        tp, predicted, actual = confusion[c, c], confusion[:, c].sum(), confusion[c].sum()
        precision = tp / predicted if predicted else float("nan")
        recall = tp / actual if actual else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        per_class.append({"name": names[c], "support": int(actual), "precision": float(precision),
                          "recall": float(recall), "f1": float(f1)})
    return Performance(accuracy=float((pred == labels).mean()), confusion=confusion, per_class=per_class,
                       class_names=names)
