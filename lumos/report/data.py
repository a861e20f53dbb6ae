"""What kind of input a model reads, which decides the report it gets; and labelled texts for reports and
evaluation (loaded by :mod:`lumos.zoo.data`, whose names are kept here for code that imports them from here)."""

from __future__ import annotations

from typing import Any

from ..zoo.data import LabelledTexts, load_labelled_texts

__all__ = ["LabelledTexts", "input_kind", "load_labelled_texts"]


def input_kind(adapter: Any) -> str:
    """What ``adapter``'s model reads: ``"images"``, ``"tables"`` or ``"texts"`` (any other adapter).

    Looked up by the adapter's class along its MRO, so a subclass of a tabular adapter reads tables too.
    """
    from ..models import ImageAdapter, SklearnAdapter, TabularTorchAdapter

    kinds = {ImageAdapter: "images", SklearnAdapter: "tables", TabularTorchAdapter: "tables"}
    return next((kinds[c] for c in type(adapter).__mro__ if c in kinds), "texts")
