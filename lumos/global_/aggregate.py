"""Dataset-level importance aggregated from local explanations.

``importance(f) = mean over explanations of |value_f|`` (mean absolute attribution), overall and per explained
class; for text, pieces are summed per word and words are lower-cased, so a word's importance is averaged
over the explanations that contain it (``count`` says how many). Signed means are kept too: a positive mean
says the feature pushes towards the explained class on average.

References
----------
Lundberg et al. From local explanations to global understanding with explainable AI for trees. Nature
Machine Intelligence 2, 2020 (mean |SHAP| as a global importance).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..errors import InvalidArgumentError, check_int
from ..explanation import Explanation

__all__ = ["GlobalImportance", "aggregate_importance"]


@dataclass(frozen=True)
class GlobalImportance:
    """Mean |attribution| per feature: ``overall`` and ``per_class`` (class name -> table).

    Each table maps a feature to ``(mean_abs, mean_signed, count)``.
    """

    overall: dict[str, tuple[float, float, int]]
    per_class: dict[str, dict[str, tuple[float, float, int]]]
    method: str
    n_explanations: int

    def top(self, k: int = 10, cls: str | None = None, min_count: int = 1) -> list[tuple[str, float, float, int]]:
        """The ``k`` features with the largest mean |value| (optionally for one class), seen at least ``min_count``
        times: ``(feature, mean_abs, mean_signed, count)``."""
        table = self.overall if cls is None else self.per_class.get(cls)
        if table is None:
            raise InvalidArgumentError(f"The 'cls' parameter of GlobalImportance.top must be one of "
                                       f"{', '.join(map(repr, self.per_class))}. Got {cls!r}.")
        rows = [(f, *v) for f, v in table.items() if v[2] >= min_count]
        return sorted(rows, key=lambda r: -r[1])[:k]


def _summarise(acc: dict[str, list[float]]) -> dict[str, tuple[float, float, int]]:
    return {f: (float(np.mean(np.abs(v))), float(np.mean(v)), len(v)) for f, v in acc.items()}


def aggregate_importance(explanations: Iterable[Explanation], *, by_word: bool | None = None) -> GlobalImportance:
    """Aggregate local explanations (one method) into dataset-level importance.

    Parameters
    ----------
    explanations : iterable of Explanation (e.g. an ExplanationSet)
    by_word : bool, optional
        Sum word pieces per display word and lower-case words; default: True for text explanations.
    """
    overall: dict[str, list[float]] = defaultdict(list)
    per_class: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    methods, n = set(), 0
    for e in explanations:
        n += 1
        methods.add(e.method)
        words = by_word if by_word is not None else e.words is not None
        if words:
            features, values = e.by_word()
            features = tuple(f.lower() for f in features)
        else:
            features, values = e.features, e.values
        for f, v in zip(features, values):
            overall[f].append(float(v))
            per_class[e.target_label][f].append(float(v))
    if n == 0:
        raise InvalidArgumentError("The 'explanations' of aggregate_importance must hold at least one Explanation.")
    if len(methods) > 1:
        raise InvalidArgumentError(f"The 'explanations' of aggregate_importance must come from one method (their "
                                   f"scales differ). Got {sorted(methods)}.")
    return GlobalImportance(overall=_summarise(overall), per_class={c: _summarise(t) for c, t in per_class.items()},
                            method=methods.pop(), n_explanations=n)
