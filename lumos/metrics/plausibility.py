"""Plausibility: do explanations highlight the words people highlighted (human rationales)?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError
from ._common import as_explanations

__all__ = ["PlausibilityResult", "plausibility", "rationale_mask"]


@dataclass(frozen=True)
class PlausibilityResult:
    """Per-explanation agreement with human rationales.

    Attributes
    ----------
    auprc : ndarray (n,)
        Area under the precision-recall curve of the word values as scores for the rationale words
        (average precision). **Higher is better**; a random scoring gets the rationale's share of words.
    f1 : ndarray (n,)
        Word-level F1 of the top-k words (k = the rationale's length) against the rationale. **Higher is
        better.**
    """

    auprc: np.ndarray
    f1: np.ndarray


def rationale_mask(words: Sequence[str], rationale: Any) -> np.ndarray:
    """A boolean mask over ``words`` from a rationale: a boolean/0-1 sequence of the same length, or a
    collection of highlighted words (matched case-insensitively, punctuation at the ends ignored)."""
    if isinstance(rationale, str):
        rationale = rationale.split()
    items = list(rationale)
    if len(items) == len(words) and all(isinstance(v, (bool, np.bool_, int, np.integer)) for v in items):
        return np.asarray(items, dtype=bool)
    if not all(isinstance(v, str) for v in items):
        raise InvalidTypeError("A rationale must be a 0/1 mask over the words or a collection of highlighted words.")

    def norm(w: str) -> str:
        return w.strip(".,!?;:\"'()[]").lower()

    marked = {norm(w) for w in items}
    return np.array([norm(w) in marked for w in words], dtype=bool)


def plausibility(explanations: Any, rationales: Sequence[Any]) -> PlausibilityResult:
    """Token-level (word-level) AUPRC and F1 of explanations against human rationales.

    Definition: word values (word pieces summed per word) score each word; the rationale marks the words a
    person highlighted. AUPRC is the average precision of the scores (signed: words in favour of the
    explained class rank first); F1 compares the top-k words, k the rationale's size, with the rationale.
    Both **higher is better**. Explanations with an empty rationale get NaN.

    Parameters
    ----------
    explanations : Explanation, ExplanationSet or list
    rationales : sequence, one per explanation
        Each a 0/1 mask over the explanation's words or a collection of highlighted words.

    References
    ----------
    DeYoung, Jain, Rajani, Lehman, Xiong, Socher, Wallace. ERASER: a benchmark to evaluate rationalized NLP
    models. ACL 2020.
    """
    from sklearn.metrics import average_precision_score

    items = as_explanations(explanations, "plausibility")
    rationales = list(rationales)
    if len(rationales) != len(items):
        raise InvalidArgumentError(f"The 'rationales' parameter of plausibility must hold one rationale per "
                                   f"explanation ({len(items)}). Got {len(rationales)}.")
    auprc, f1 = np.full(len(items), np.nan), np.full(len(items), np.nan)
    for i, (e, r) in enumerate(zip(items, rationales)):
        words, values = e.by_word()
        truth = rationale_mask(words, r)
        k = int(truth.sum())
        if k == 0:
            continue
        auprc[i] = float(average_precision_score(truth, values)) if k < len(truth) else 1.0
        top = np.zeros(len(truth), dtype=bool)
        top[np.argsort(-values, kind="stable")[:k]] = True
        tp = int((top & truth).sum())
        f1[i] = 2 * tp / (top.sum() + k)
    return PlausibilityResult(auprc=auprc, f1=f1)
