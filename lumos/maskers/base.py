"""The masker protocol: binary masks over an example's features -> model inputs.

Perturbation methods see only masks and model outputs; maskers own the modality (how a hidden word or a
hidden column is represented).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["Masker", "Prepared"]


@dataclass(frozen=True)
class Prepared:
    """One example ready for masking.

    Attributes
    ----------
    example : the original example
    labels : tuple of str
        One label per feature (words, word pieces, column names); ``n_features`` is its length.
    text, words, word_index : display information for text (see :class:`~lumos.Explanation`)
    state : masker-private data (token ids and their feature of each token, for text)
    """

    example: Any
    labels: tuple[str, ...]
    text: str | None = None
    words: tuple[str, ...] | None = None
    word_index: tuple[int, ...] | None = None
    state: Any = None

    @property
    def n_features(self) -> int:
        return len(self.labels)


class Masker(abc.ABC):
    """Turns masks over an example's features into inputs the model's adapter accepts.

    ``masks`` are boolean arrays of shape (m, n_features), True where a feature is kept. :meth:`apply`
    returns ``m * rows_per_mask`` model inputs, mask-major; the model's outputs over each mask's rows are
    averaged (e.g. over a background sample for tables).
    """

    rows_per_mask: int = 1

    @abc.abstractmethod
    def prepare(self, example: Any) -> Prepared:
        """Split one example into features."""

    @abc.abstractmethod
    def apply(self, prepared: Prepared, masks: np.ndarray) -> Sequence[Any]:
        """Model inputs for each mask (``rows_per_mask`` consecutive inputs per mask)."""
