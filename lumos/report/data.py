"""What kind of input a model reads, which decides the report it gets; and labelled texts for reports and
evaluation (loaded by :mod:`lumos.zoo.data`, whose names are kept here for code that imports them from here)."""

from __future__ import annotations

from typing import Any

from ..zoo.data import LabelledTexts, load_labelled_texts

__all__ = ["LabelledTexts", "input_kind", "load_labelled_texts"]


#: What a model reads, by its adapter's declared modality (any modality not here reads texts).
_READS = {"image": "images", "table": "tables"}


def input_kind(adapter: Any) -> str:
    """What ``adapter``'s model reads: ``"images"``, ``"tables"`` or ``"texts"`` (any other adapter), from the
    adapter's declared :attr:`~lumos.models.ModelAdapter.modality`; the words are those of
    :data:`lumos.zoo.data.KINDS`, so a model and a dataset can be compared directly."""
    return _READS.get(adapter.modality, "texts")
