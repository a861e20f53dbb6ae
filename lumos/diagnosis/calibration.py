"""Calibration: expected calibration error and the reliability diagram.

The confidence of a prediction is the probability of the predicted class. Rows are grouped into bins of
confidence; in a calibrated model the accuracy of each bin equals its mean confidence. The expected
calibration error is the bin-size-weighted mean gap, ``ECE = sum_b (n_b / n) |acc_b - conf_b|`` (lower is
better, 0 is perfect); the maximum calibration error is the largest gap of a non-empty bin.

References
----------
Naeini, Cooper, Hauskrecht. Obtaining well calibrated probabilities using Bayesian binning. AAAI 2015.
Guo, Pleiss, Sun, Weinberger. On calibration of modern neural networks. ICML 2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import check_choice, check_int
from .performance import check_probs_labels

__all__ = ["Calibration", "calibration", "plot_reliability"]


@dataclass(frozen=True)
class Calibration:
    """ECE, MCE and the reliability diagram's bins.

    Attributes
    ----------
    ece, mce : float
    edges : ndarray (n_bins + 1,)
        Bin edges of confidence.
    confidence, accuracy : ndarray (n_bins,)
        Mean confidence and accuracy of each bin (NaN for an empty bin).
    counts : ndarray (n_bins,)
    """

    ece: float
    mce: float
    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray
    strategy: str


def calibration(probs: Any, labels: Any, *, n_bins: int = 10, strategy: str = "uniform") -> Calibration:
    """Calibration of top-label confidences.

    Parameters
    ----------
    probs : array (n, n_classes)
    labels : int array (n,)
    n_bins : int, default 10
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1], or bins holding equal numbers of rows.
    """
    probs, labels = check_probs_labels(probs, labels, "calibration")
    n_bins = check_int(n_bins, "n_bins", owner="calibration", minimum=1)
    strategy = check_choice(strategy, "strategy", ("uniform", "quantile"), owner="calibration")
    confidence = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.quantile(confidence, np.linspace(0, 1, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
    # Bin b holds confidences in (edges[b], edges[b + 1]]; a confidence of exactly 0 joins the first bin.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, weights=confidence, minlength=n_bins) / counts
        acc = np.bincount(which, weights=correct, minlength=n_bins) / counts
    gaps = np.abs(acc - conf)
    filled = counts > 0
    ece = float(np.sum(counts[filled] / len(labels) * gaps[filled]))
    mce = float(gaps[filled].max())
    return Calibration(ece=ece, mce=mce, edges=edges, confidence=conf, accuracy=acc, counts=counts,
                       strategy=strategy)


def plot_reliability(cal: Calibration, ax: Any = None, *, title: str | None = None) -> Any:
    """Draw the reliability diagram (accuracy against confidence per bin, with the diagonal) on ``ax``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    filled = cal.counts > 0
    centres = (cal.edges[:-1] + cal.edges[1:]) / 2
    widths = np.diff(cal.edges)
    ax.bar(centres[filled], cal.accuracy[filled], width=widths[filled] * 0.9, color="#2563eb", alpha=0.8,
           label="accuracy")
    ax.plot(cal.confidence[filled], cal.confidence[filled], "o", color="#dc2626", ms=3, label="mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"ECE {cal.ece:.3f}")
    ax.legend(loc="upper left", fontsize=8)
    return ax
