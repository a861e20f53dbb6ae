"""Agreement between attribution methods on the same inputs: rank correlation and top-k overlap."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InvalidArgumentError, check_int
from ._common import as_explanations, mean_ci, spearman

__all__ = ["rank_agreement", "topk_overlap", "agreement_matrix"]


def _pairs(a: Any, b: Any, owner: str):
    xs, ys = as_explanations(a, owner), as_explanations(b, owner)
    if len(xs) != len(ys):
        raise InvalidArgumentError(f"{owner} compares explanations of the same inputs: got {len(xs)} and {len(ys)}.")
    for i, (x, y) in enumerate(zip(xs, ys)):
        vx, vy = _word_values(x), _word_values(y)
        if len(vx) != len(vy) or (x.text is not None and y.text is not None and x.text != y.text):
            raise InvalidArgumentError(f"{owner}: explanation {i} of {x.method} and of {y.method} do not explain "
                                       "the same input with the same features.")
        yield vx, vy


def _word_values(e: Any) -> np.ndarray:
    """Word values for text explanations (word pieces summed), the features' values otherwise."""
    return np.asarray(e.by_word()[1], dtype=np.float64)


def rank_agreement(a: Any, b: Any) -> np.ndarray:
    """Spearman rank correlation between two methods' explanations of the same inputs, per input.

    Computed on word values (word pieces summed per word) so that word-level and piece-level methods
    compare. In [-1, 1]; **higher means more agreement** (agreement is not correctness: two unfaithful
    methods can agree). NaN where one explanation is constant.

    References
    ----------
    Krishna, Han, Gu, Pombra, Jabbari, Wu, Lakkaraju. The disagreement problem in explainable machine
    learning: a practitioner's perspective. TMLR 2024.
    """
    return np.array([spearman(x, y) for x, y in _pairs(a, b, "rank_agreement")])


def topk_overlap(a: Any, b: Any, *, k: int = 3) -> np.ndarray:
    """Top-k feature agreement: the fraction of the ``k`` words of largest |value| the two share, per input.

    In [0, 1] (``k`` is capped at the number of words); **higher means more agreement**.

    References
    ----------
    Krishna et al. The disagreement problem in explainable machine learning. TMLR 2024 (feature agreement).
    """
    k = check_int(k, "k", owner="topk_overlap", minimum=1)
    out = []
    for x, y in _pairs(a, b, "topk_overlap"):
        kk = min(k, len(x))
        tx = set(np.argsort(-np.abs(x), kind="stable")[:kk].tolist())
        ty = set(np.argsort(-np.abs(y), kind="stable")[:kk].tolist())
        out.append(len(tx & ty) / kk)
    return np.asarray(out)


def agreement_matrix(explained: Mapping[str, Any], *, k: int = 3) -> dict[str, dict[tuple[str, str], float]]:
    """Mean rank agreement and top-k overlap for every pair of methods: ``{"spearman": {(m1, m2): mean},
    "topk": {...}}`` (diagonal 1)."""
    names = list(explained)
    out: dict[str, dict[tuple[str, str], float]] = {"spearman": {}, "topk": {}}
    for i, m1 in enumerate(names):
        for m2 in names[i:]:
            if m1 == m2:
                out["spearman"][(m1, m2)] = out["topk"][(m1, m2)] = 1.0
                continue
            s = mean_ci(rank_agreement(explained[m1], explained[m2]))[0]
            t = mean_ci(topk_overlap(explained[m1], explained[m2], k=k))[0]
            for key, v in (("spearman", s), ("topk", t)):
                out[key][(m1, m2)] = out[key][(m2, m1)] = v
    return out
