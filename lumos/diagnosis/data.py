"""Labelled data for diagnosis and global explanations: a zoo dataset (text or table) or a CSV file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["Labelled", "load_labelled"]


@dataclass(frozen=True)
class Labelled:
    """``inputs`` (a list of texts or a DataFrame) with integer ``labels``; ``train`` inputs (the zoo dataset's
    training split) where known."""

    name: str
    inputs: Any
    labels: np.ndarray
    train: Any = None


def _label_indices(values: Sequence[Any], class_names: Sequence[str], where: str) -> np.ndarray:
    out = []
    for i, value in enumerate(values):
        label = str(value).strip()
        if label in class_names:
            out.append(list(class_names).index(label))
        elif label.isdigit() and int(label) < len(class_names):
            out.append(int(label))
        else:
            raise InvalidArgumentError(f"Row {i} of {where}: label {label!r} is not one of "
                                       f"{', '.join(map(repr, class_names))} or an index below {len(class_names)}.")
    return np.asarray(out, dtype=np.int64)


def load_labelled(data: str, class_names: Sequence[str], *, split: str = "test", label: str = "label") -> Labelled:
    """A zoo dataset's ``split``, or a CSV: texts (columns ``text`` and ``label``) or a table (feature columns
    and the ``label`` column; labels as class names or indices)."""
    from .. import zoo

    if data in zoo.datasets():
        ds = zoo.dataset(data)
        if tuple(ds.class_names) != tuple(class_names):
            raise InvalidArgumentError(f"The dataset {data!r} has classes {tuple(ds.class_names)}, but the model has "
                                       f"{tuple(class_names)}.")
        part = ds.split(split)
        inputs = part.frame if hasattr(part, "frame") else list(part.texts)
        train = ds.train.frame if hasattr(ds.train, "frame") else list(ds.train.texts)
        return Labelled(f"{data} ({split})", inputs, np.asarray(part.labels), train)
    path = Path(data).expanduser()
    if not path.is_file() or path.suffix.lower() != ".csv":
        raise InvalidArgumentError(f"The 'data' argument must be a zoo dataset ({', '.join(map(repr, zoo.datasets()))})"
                                   f" or a .csv file. Got {data!r}.")
    import pandas as pd

    frame = pd.read_csv(path)
    if label not in frame.columns:
        raise InvalidArgumentError(f"The CSV file {str(path)!r} must have a {label!r} column. "
                                   f"Got columns {list(frame.columns)}.")
    labels = _label_indices(frame[label].tolist(), class_names, repr(str(path)))
    if "text" in frame.columns:
        return Labelled(path.name, frame["text"].astype(str).tolist(), labels)
    return Labelled(path.name, frame.drop(columns=[label]), labels)
