"""Automatic discovery of high-error slices over interpretable descriptors.

A slice is a conjunction of at most ``max_conditions`` conditions on descriptors of the rows (feature ranges
for tables; length, presence of frequent words, predicted class, confidence band and metadata for text).
Candidate conditions are quantile thresholds (``x <= t``, ``x > t``) for numeric descriptors and equalities for
descriptors with few values. Single conditions are scored first; pairs are searched among the best
``beam`` of them.

A slice is scored by its excess errors, ``errors - size * global_error_rate``: the errors it holds beyond
what its size predicts. This favours the largest slice of uniformly high error over its sub-slices (same
rate, fewer rows) and super-slices (more rows, diluted rate). Each slice carries a one-sided Fisher exact
test of its error rate against the rest of the data, Bonferroni-corrected over every candidate scored;
slices that are not significant at ``alpha`` are dropped, as are slices that mostly repeat a better one.

References
----------
Chung, Kraska, Polyzotis, Tae, Whang. Slice Finder: automated data slicing for model validation. ICDE 2019.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, check_float, check_int

__all__ = ["Slice", "find_slices", "describe_table", "describe_texts", "confidence_band"]

_WORD = re.compile(r"[a-z0-9']+|[@#][a-z0-9_]+")


@dataclass(frozen=True)
class Slice:
    """A set of rows described by conditions, with its errors.

    Attributes
    ----------
    conditions : tuple of str
        e.g. ``("Income <= 80", "Records == yes")``; ``description`` joins them with " and ".
    size, n_errors : int
    error_rate : float
    lift : float
        ``error_rate / global_error_rate``.
    p_value : float
        One-sided Fisher exact test (slice error rate > rest), Bonferroni-corrected over the candidates.
    rows : ndarray of bool (n,)
        Membership of each row.
    """

    conditions: tuple[str, ...]
    size: int
    n_errors: int
    error_rate: float
    lift: float
    p_value: float
    rows: np.ndarray

    @property
    def description(self) -> str:
        return " and ".join(self.conditions)

    def to_dict(self) -> dict[str, Any]:
        return {"slice": self.description, "size": self.size, "errors": self.n_errors,
                "error_rate": self.error_rate, "lift": self.lift, "p_value": self.p_value}


def confidence_band(confidence: np.ndarray, edges: Sequence[float] = (0.5, 0.7, 0.9)) -> np.ndarray:
    """Label each confidence with its band, e.g. ``"0.70-0.90"``."""
    bounds = [0.0, *edges, 1.0]
    labels = np.array([f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(bounds[:-1], bounds[1:])], dtype=object)
    return labels[np.clip(np.searchsorted(np.asarray(edges), confidence, side="right"), 0, len(edges))]


def _with_predictions(out: dict[str, Any], probs: Any, class_names: Sequence[str] | None) -> dict[str, Any]:
    if probs is not None:
        probs = np.asarray(probs, dtype=np.float64)
        names = list(class_names) if class_names is not None else [str(i) for i in range(probs.shape[1])]
        out["predicted"] = np.array([names[i] for i in probs.argmax(1)], dtype=object)
        out["confidence"] = confidence_band(probs.max(1))
    return out


def describe_table(frame: Any, probs: Any = None, class_names: Sequence[str] | None = None) -> Any:
    """Descriptors of table rows: every column as is, plus the predicted class and confidence band."""
    import pandas as pd

    out = {str(c): frame[c].to_numpy() for c in frame.columns}
    return pd.DataFrame(_with_predictions(out, probs, class_names))


def describe_texts(texts: Sequence[str], probs: Any = None, class_names: Sequence[str] | None = None, *,
                   top_words: int = 30, metadata: Any = None) -> Any:
    """Descriptors of texts: length in words, presence of each of the ``top_words`` most frequent words (by
    number of texts holding them, words of three letters or more), predicted class, confidence band, and
    any ``metadata`` columns (a DataFrame or dict of arrays, one value per text)."""
    import pandas as pd

    check_int(top_words, "top_words", owner="describe_texts", minimum=0)
    tokens = [set(_WORD.findall(t.lower())) for t in texts]
    counts = Counter(w for ws in tokens for w in ws if len(w) >= 3)
    out: dict[str, Any] = {"length (words)": np.array([len(t.split()) for t in texts])}
    for word, _ in counts.most_common(top_words):
        out[f"has '{word}'"] = np.array([word in ws for ws in tokens])
    _with_predictions(out, probs, class_names)
    if metadata is not None:
        for key, values in dict(metadata).items():
            values = np.asarray(values)
            if len(values) != len(texts):
                raise InvalidArgumentError(f"The metadata column {key!r} of describe_texts must have one value per "
                                           f"text ({len(texts)}). Got {len(values)}.")
            out[str(key)] = values
    return pd.DataFrame(out)


def _format(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _conditions(descriptors: Any, n_bins: int, max_levels: int) -> tuple[list[str], np.ndarray]:
    """Candidate conditions and their row masks (n_conditions, n)."""
    names, masks = [], []
    for column in descriptors.columns:
        values = descriptors[column].to_numpy()
        missing = np.array([v is None or (isinstance(v, float) and v != v) for v in values]) \
            if values.dtype == object else (np.isnan(values) if np.issubdtype(values.dtype, np.floating) else None)
        levels = np.unique(values[~missing] if missing is not None else values)
        numeric = np.issubdtype(values.dtype, np.number) and values.dtype != bool
        if numeric and len(levels) > max_levels:
            present = values[~missing] if missing is not None else values
            for t in np.unique(np.quantile(present, np.arange(1, n_bins) / n_bins, method="lower")):
                below = values <= t
                names += [f"{column} <= {_format(t)}", f"{column} > {_format(t)}"]
                masks += [below, ~below & (values > t)]
        elif len(levels) <= max_levels:
            for level in levels:
                names.append(f"{column} == {_format(level)}")
                masks.append(values == level)
        if missing is not None and missing.any():
            names.append(f"{column} is missing")
            masks.append(missing)
    return names, np.array(masks, dtype=bool).reshape(len(masks), len(descriptors))


def find_slices(descriptors: Any, errors: Any, *, max_conditions: int = 2, min_size: int | None = None,
                n_bins: int = 4, max_levels: int = 12, beam: int = 25, alpha: float = 0.05, top_k: int = 5,
                max_overlap: float = 0.5) -> list[Slice]:
    """The slices of rows where errors concentrate, best first.

    Parameters
    ----------
    descriptors : pandas DataFrame (n rows)
        Interpretable columns (see :func:`describe_table`, :func:`describe_texts`).
    errors : bool array (n,)
        True where the model is wrong.
    max_conditions : {1, 2, 3}, default 2
    min_size : int, optional
        Smallest slice considered; default ``max(20, n // 100)``.
    n_bins : int, default 4
        Numeric descriptors are cut at their ``n_bins``-quantiles.
    max_levels : int, default 12
        Descriptors with at most this many distinct values give equality conditions.
    beam : int, default 25
        Conditions (ranked alone) from which conjunctions are built.
    alpha : float, default 0.05
        Significance level after Bonferroni correction over every candidate scored.
    top_k : int, default 5
    max_overlap : float, default 0.5
        A slice is dropped when more than this share of the smaller of it and a better slice lies in both
        (sub-slices and near-copies of a reported slice are not reported again).
    """
    from scipy.stats import fisher_exact

    errors = np.asarray(errors, dtype=bool)
    n = len(errors)
    if n == 0 or len(descriptors) != n:
        raise InvalidArgumentError(f"The 'descriptors' of find_slices must have one row per entry of 'errors' "
                                   f"({n}, at least 1). Got {len(descriptors)}.")
    max_conditions = check_int(max_conditions, "max_conditions", owner="find_slices", minimum=1, maximum=3)
    min_size = max(20, n // 100) if min_size is None else check_int(min_size, "min_size", owner="find_slices",
                                                                    minimum=1)
    check_int(top_k, "top_k", owner="find_slices", minimum=1)
    check_int(beam, "beam", owner="find_slices", minimum=1)
    alpha = check_float(alpha, "alpha", owner="find_slices", minimum=0, maximum=1, exclusive_minimum=True)
    total_errors = int(errors.sum())
    rate = total_errors / n
    if total_errors == 0:
        return []

    names, masks = _conditions(descriptors, n_bins, max_levels)
    candidates: dict[frozenset[int], np.ndarray] = {}

    def score(rows: np.ndarray) -> float:
        size = rows.sum()
        return float(errors[rows].sum() - size * rate) if size >= min_size else -np.inf

    singles = [(score(m), i) for i, m in enumerate(masks)]
    for s, i in singles:
        if s > -np.inf:
            candidates[frozenset([i])] = masks[i]
    frontier = [frozenset([i]) for s, i in sorted(singles, reverse=True)[:beam] if s > -np.inf]
    best_singles = [next(iter(f)) for f in frontier]
    for _ in range(max_conditions - 1):
        grown = {}
        for key in frontier:
            rows = candidates[key]
            for j in best_singles:
                if j in key:
                    continue
                new = key | {j}
                if new in candidates or new in grown:
                    continue
                joined = rows & masks[j]
                if joined.sum() >= min_size and joined.sum() < rows.sum():
                    grown[new] = joined
        candidates.update(grown)
        frontier = sorted(grown, key=lambda k: score(grown[k]), reverse=True)[:beam]

    n_tests = len(candidates)
    ranked = sorted(candidates.items(), key=lambda kv: score(kv[1]), reverse=True)
    chosen: list[Slice] = []
    for key, rows in ranked:
        if len(chosen) >= top_k:
            break
        size, k = int(rows.sum()), int(errors[rows].sum())
        if k / size <= rate:
            break
        if any((rows & c.rows).sum() / min(size, c.size) > max_overlap for c in chosen):
            continue
        table = [[k, size - k], [total_errors - k, (n - size) - (total_errors - k)]]
        p = min(1.0, float(fisher_exact(table, alternative="greater").pvalue) * n_tests)
        if p > alpha:
            continue
        conditions = tuple(sorted((names[i] for i in key), key=lambda s: s))
        chosen.append(Slice(conditions=conditions, size=size, n_errors=k, error_rate=k / size, lift=(k / size) / rate,
                            p_value=p, rows=rows))
    return chosen
