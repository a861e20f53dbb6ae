"""Labelled data for reports and evaluation: a zoo dataset by name, or a CSV file of text and labels; and what
kind of input a model reads, which decides the report it gets."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["LabelledTexts", "input_kind", "load_labelled_texts"]


def input_kind(adapter: Any) -> str:
    """What ``adapter``'s model reads: ``"images"``, ``"tables"`` or ``"texts"`` (any other adapter).

    Looked up by the adapter's class along its MRO, so a subclass of a tabular adapter reads tables too.
    """
    from ..models import ImageAdapter, SklearnAdapter, TabularTorchAdapter

    kinds = {ImageAdapter: "images", SklearnAdapter: "tables", TabularTorchAdapter: "tables"}
    return next((kinds[c] for c in type(adapter).__mro__ if c in kinds), "texts")


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with integer labels (indices into the model's class names) and, where the data has them, human
    rationales (the words people highlighted, separated by spaces; one string per text)."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    rationales: tuple[str, ...] | None = None


def load_labelled_texts(data: str, class_names: Sequence[str], *, split: str = "test") -> LabelledTexts:
    """A zoo dataset's ``split`` (held-out by default), or a CSV file with ``text`` and ``label`` columns.

    CSV labels may be class names or class indices. An optional ``rationale`` column holds, per text, the words
    people highlighted as the reason for the label, separated by spaces (empty: none).
    """
    from .. import zoo

    if data in zoo.datasets():
        ds = zoo.dataset(data)
        part = ds.split(split) if hasattr(ds, "split") else None
        if not hasattr(part, "texts"):
            raise InvalidArgumentError(
                f"The 'data' argument for a text classifier must be a zoo dataset of texts (such as "
                f"'airline-tweets') or a CSV file with 'text' and 'label' columns. Got {data!r}, a zoo dataset "
                "without texts."
            )
        if tuple(ds.class_names) != tuple(class_names):
            raise InvalidArgumentError(f"The dataset {data!r} has classes {ds.class_names}, but the model has "
                                       f"{tuple(class_names)}.")
        return LabelledTexts(f"{data} ({split})", part.texts, np.asarray(part.labels))
    path = Path(data).expanduser()
    if not path.is_file():
        raise InvalidArgumentError(
            f"The 'data' argument must be a zoo dataset ({', '.join(map(repr, zoo.datasets()))}) or a CSV file "
            f"with 'text' and 'label' columns. Got {data!r}, which is neither."
        )
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise InvalidArgumentError(f"The CSV file {str(path)!r} must have 'text' and 'label' columns. "
                                       f"Got columns {reader.fieldnames}.")
        texts, labels, rationales = [], [], []
        has_rationales = "rationale" in reader.fieldnames
        for line, row in enumerate(reader, start=2):
            label = row["label"].strip()
            if label in class_names:
                labels.append(list(class_names).index(label))
            elif label.isdigit() and int(label) < len(class_names):
                labels.append(int(label))
            else:
                raise InvalidArgumentError(f"Line {line} of {str(path)!r}: label {label!r} is not one of "
                                           f"{', '.join(map(repr, class_names))} or an index below {len(class_names)}.")
            texts.append(row["text"])
            if has_rationales:
                rationales.append(row["rationale"] or "")
    if not texts:
        raise InvalidArgumentError(f"The CSV file {str(path)!r} has no rows.")
    return LabelledTexts(path.name, tuple(texts), np.asarray(labels, dtype=np.int64),
                         tuple(rationales) if has_rationales else None)
