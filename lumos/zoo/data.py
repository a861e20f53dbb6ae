"""Labelled data from the names people type: a zoo dataset, a CSV (or Parquet) file, or a directory of image files.

Every command, report and analysis turns its ``data`` argument into inputs and labels here, so that a name means
the same thing everywhere and a bad one fails with the same message. What a zoo dataset holds is declared by
its class's ``kind`` (one of :data:`KINDS`), never guessed from its attributes; what a CSV file holds is read
from its header (a ``text`` column: texts; otherwise a table).

>>> from lumos.zoo.data import load_labelled_texts, load_labelled
>>> tweets = load_labelled_texts("airline-tweets", ("negative", "neutral", "positive"))   # doctest: +SKIP
>>> rows = load_labelled("my.csv", ("bad", "good"), argument="--data")                    # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["KINDS", "ImageSet", "Labelled", "LabelledTexts", "dataset_kind", "load_images", "load_labelled",
           "load_labelled_texts", "load_table"]

#: What a dataset holds; the same words as :func:`lumos.report.data.input_kind` uses for what a model reads.
KINDS = ("texts", "tables", "images")

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with integer labels (indices into the model's class names) and, where the data has them, human
    rationales (the words people highlighted, separated by spaces; one string per text)."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    rationales: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Labelled:
    """``inputs`` (a list of texts or a pandas DataFrame) with integer ``labels``; ``train`` inputs (the zoo
    dataset's training split) where known."""

    name: str
    inputs: Any
    labels: np.ndarray
    train: Any = None

    @property
    def kind(self) -> str:
        """``"tables"`` when the inputs are a DataFrame, else ``"texts"``."""
        import pandas as pd

        return "tables" if isinstance(self.inputs, pd.DataFrame) else "texts"

    def head(self, n: int) -> "Labelled":
        """The first ``n`` examples (rows of a table, texts of a list), named as such; ``train`` is kept."""
        inputs = self.inputs.iloc[:n] if self.kind == "tables" else self.inputs[:n]
        return dataclasses.replace(self, inputs=inputs, labels=self.labels[:n],
                                   name=f"{self.name}, first {min(n, len(self.labels))}")


@dataclass
class ImageSet:
    """Images to explain, with integer labels where the data has them and a caption per image."""

    name: str
    images: list[Any]
    labels: np.ndarray | None = None
    captions: list[str] = field(default_factory=list)


def dataset_kind(data: str) -> str | None:
    """What the zoo dataset named ``data`` holds (one of :data:`KINDS`), or None when ``data`` names none."""
    from . import dataset, datasets

    return dataset(data).kind if data in datasets() else None


def _names() -> str:
    from . import datasets

    return ", ".join(map(repr, datasets()))


def _check_classes(ds: Any, data: str, class_names: Sequence[str]) -> Any:
    """``ds`` (the zoo dataset ``data``), whose classes must be the model's."""
    if tuple(ds.class_names) != tuple(class_names):
        raise InvalidArgumentError(f"The dataset {data!r} has classes {tuple(ds.class_names)}, but the model has "
                                   f"{tuple(class_names)}.")
    return ds


#: The longest CSV field read (Python's csv module stops at 128 kB by default; a long document is a valid input,
#: and the model's tokenizer says what it cuts).
MAX_CSV_FIELD = 64 * 1024 * 1024


def _csv_file(data: str, argument: str, holding: str, files: str = "a CSV file") -> Path:
    """The path of a CSV file, checked whole before any reader sees it: UTF-8, not empty, a header, and every row
    as long as the header (a stray comma would shift a text into the label column)."""
    path = Path(data).expanduser()
    if not path.is_file():
        what = " (a directory)" if path.is_dir() else ""
        raise InvalidArgumentError(f"The {argument!r} argument must be a zoo dataset ({_names()}) or {files} "
                                   f"with {holding}. Got {data!r}{what}, which is neither.")
    _check_csv(path, argument)
    return path


def _check_csv(path: Path, argument: str) -> None:
    where = f"The {argument!r} file {str(path)!r}"
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CSV_FIELD))
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, strict=True)
            header = next(reader, None)
            if header is None or not any(h.strip() for h in header):
                raise InvalidArgumentError(f"{where} is empty: a CSV file needs a header line (such as text,label) "
                                           "and rows.")
            rows = 0
            for row in reader:
                rows += bool(row)
                if row and len(row) != len(header):
                    raise InvalidArgumentError(
                        f"{where}, line {reader.line_num}: {len(row)} fields where the header has {len(header)} "
                        f"({', '.join(header)}). A text holding commas must be quoted (\"like, this\").")
            if not rows:
                raise InvalidArgumentError(f"{where} has a header ({', '.join(header)}) but no rows.")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{where} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                                   f"{exc.start}); save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).") from None
    except csv.Error as exc:
        raise InvalidArgumentError(f"{where} is not a readable CSV file: {exc}.") from None


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def _label_index(value: Any, class_names: Sequence[str], where: str) -> int:
    """A label given as a class name or a class index, as the index."""
    label = str(value).strip()
    if label in class_names:
        return list(class_names).index(label)
    if label.isdigit() and int(label) < len(class_names):
        return int(label)
    raise InvalidArgumentError(f"{where}: label {label!r} is not one of {', '.join(map(repr, class_names))} or an "
                               f"index below {len(class_names)}.")


def _read_texts(path: Path, class_names: Sequence[str], label: str = "label") -> LabelledTexts:
    """The ``text`` and ``label`` columns of a CSV file (and ``rationale``, where there is one)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"text", label} <= set(reader.fieldnames):
            raise InvalidArgumentError(f"The CSV file {str(path)!r} must have 'text' and {label!r} columns. "
                                       f"Got columns {reader.fieldnames}.")
        texts, labels, rationales = [], [], []
        has_rationales = "rationale" in reader.fieldnames
        for line, row in enumerate(reader, start=2):
            labels.append(_label_index(row[label], class_names, f"Line {line} of {str(path)!r}"))
            texts.append(row["text"])
            if has_rationales:
                rationales.append(row["rationale"] or "")
    if not texts:
        raise InvalidArgumentError(f"The CSV file {str(path)!r} has no rows.")
    return LabelledTexts(path.name, tuple(texts), np.asarray(labels, dtype=np.int64),
                         tuple(rationales) if has_rationales else None)


def _read_table(path: Path, class_names: Sequence[str], label: str) -> Labelled:
    """Every column of a CSV file but ``label`` as features (a DataFrame), and ``label`` as the labels."""
    import pandas as pd

    return _from_frame(pd.read_csv(path, encoding="utf-8-sig"), path, class_names, label, "CSV")


def _from_frame(frame: Any, path: Path, class_names: Sequence[str], label: str, what: str) -> Labelled:
    """A file's table as :class:`Labelled`: every column but ``label`` as features, ``label`` as the labels."""
    if label not in frame.columns:
        raise InvalidArgumentError(f"The {what} file {str(path)!r} must have a {label!r} column. "
                                   f"Got columns {list(frame.columns)}.")
    labels = np.asarray([_label_index(v, class_names, f"Row {i} of {str(path)!r}")
                         for i, v in enumerate(frame[label].tolist())], dtype=np.int64)
    return Labelled(path.name, frame.drop(columns=[label]), labels)


#: Suffixes of Parquet files (as :data:`lumos.jobs.data.KINDS` names them).
PARQUET_SUFFIXES = (".parquet", ".pq")


def _read_parquet(path: Path, class_names: Sequence[str], label: str, argument: str) -> Labelled:
    """A Parquet file of texts (``text`` and ``label`` columns) or of a table (feature columns and ``label``)."""
    import pandas as pd
    import pyarrow as pa

    where = f"The {argument!r} file {str(path)!r}"
    try:
        frame = pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidArgumentError(f"{where} is not a readable Parquet file: {exc}.") from None
    if frame.empty:
        raise InvalidArgumentError(f"{where} has no rows.")
    if "text" not in frame.columns:
        return _from_frame(frame, path, class_names, label, "Parquet")
    labelled = _from_frame(frame[["text", label]] if label in frame.columns else frame, path, class_names, label,
                           "Parquet")
    texts = labelled.inputs["text"].tolist()
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise InvalidArgumentError(f"{where}: the 'text' column must hold non-empty strings; row {bad[0]} holds "
                                   f"{texts[bad[0]]!r}.")
    return Labelled(path.name, texts, labelled.labels)


def load_labelled_texts(data: str, class_names: Sequence[str], *, split: str = "test",
                        argument: str = "data") -> LabelledTexts:
    """A zoo text dataset's ``split`` (held-out by default), or a CSV file with ``text`` and ``label`` columns.

    Parameters
    ----------
    data : str
        Zoo dataset name (such as ``"airline-tweets"``) or path of a CSV file. CSV labels may be class names or
        class indices; an optional ``rationale`` column holds, per text, the words people highlighted as the
        reason for the label, separated by spaces (empty: none).
    class_names : sequence of str
        The model's classes; a zoo dataset must have the same.
    split : {"train", "validation", "test"}, default "test"
        Split of a zoo dataset (a CSV file is read whole).
    argument : str, default "data"
        Name of the argument ``data`` came from, for error messages (the CLI passes ``"--data"``).
    """
    if dataset_kind(data) is not None:
        from . import dataset

        ds = dataset(data)
        if ds.kind != "texts":
            raise InvalidArgumentError(
                f"The {argument!r} argument for a text classifier must be a zoo dataset of texts (such as "
                f"'airline-tweets') or a CSV file with 'text' and 'label' columns. Got {data!r}, a zoo dataset "
                "without texts.")
        part = _check_classes(ds, data, class_names).split(split)
        return LabelledTexts(f"{data} ({split})", part.texts, np.asarray(part.labels))
    return _read_texts(_csv_file(data, argument, "'text' and 'label' columns"), class_names)


def load_labelled(data: str, class_names: Sequence[str], *, split: str = "test", label: str = "label",
                  argument: str = "data") -> Labelled:
    """A zoo dataset's ``split`` (texts or a table), or a CSV or Parquet file of texts or of a table, as
    :class:`Labelled`.

    Parameters
    ----------
    data : str
        Zoo dataset name or path of a CSV or Parquet (``.parquet``, ``.pq``) file: texts (columns ``text`` and
        ``label``) or a table (feature columns and the ``label`` column). Labels may be class names or class
        indices.
    class_names : sequence of str
        The model's classes; a zoo dataset must have the same.
    split : {"train", "validation", "test"}, default "test"
        Split of a zoo dataset; its training split becomes ``train``.
    label : str, default "label"
        The label column of a CSV file.
    argument : str, default "data"
        Name of the argument ``data`` came from, for error messages.
    """
    if dataset_kind(data) is not None:
        from . import dataset

        ds = dataset(data)
        if ds.kind not in ("texts", "tables"):
            raise InvalidArgumentError(f"The {argument!r} argument must be a zoo dataset of texts or tables. Got "
                                       f"{data!r}, a zoo dataset of {ds.kind}.")
        part = _check_classes(ds, data, class_names).split(split)
        if ds.kind == "tables":
            return Labelled(f"{data} ({split})", part.frame, np.asarray(part.labels), ds.train.frame)
        return Labelled(f"{data} ({split})", list(part.texts), np.asarray(part.labels), list(ds.train.texts))
    holding = f"a {label!r} column (and 'text' for texts)"
    given = Path(data).expanduser()
    if given.suffix.lower() in PARQUET_SUFFIXES and given.is_file():
        return _read_parquet(given, class_names, label, argument)
    path = _csv_file(data, argument, holding, "a CSV or Parquet file")
    if "text" in _header(path):
        texts = _read_texts(path, class_names, label)
        return Labelled(texts.name, list(texts.texts), texts.labels)
    return _read_table(path, class_names, label)


def load_table(data: str, class_names: Sequence[str], *, split: str = "test", argument: str = "data") -> Labelled:
    """A zoo table dataset's ``split``, or a CSV file with the model's feature columns and a ``label`` column, as a
    :class:`Labelled` whose ``inputs`` is a DataFrame. Columns of a CSV file beyond the model's features are kept:
    they describe slices, and the model never sees them."""
    wanted = (f"The {argument!r} argument for a table model must be a zoo dataset of tables ('breast-cancer', "
              "'credit') or a CSV file with the model's feature columns and 'label'.")
    if dataset_kind(data) not in (None, "tables"):
        raise InvalidArgumentError(f"{wanted} Got {data!r}, a zoo dataset without tables.")
    labelled = load_labelled(data, class_names, split=split, argument=argument)
    if labelled.kind != "tables":
        raise InvalidArgumentError(f"{wanted} Got {data!r}, which holds texts (a 'text' column).")
    return labelled


def load_images(data: str, class_names: Sequence[str], *, argument: str = "data") -> ImageSet:
    """Images to explain: a zoo image dataset (``skimage-photos``; ``digits``: its test split, labelled) or a
    directory of image files (unlabelled)."""
    kind = dataset_kind(data)
    if kind == "images":
        from . import dataset
        from .vision import PhotoSet

        ds = dataset(data)
        if isinstance(ds, PhotoSet):  # named photos without labels or splits
            return ImageSet(data, list(ds.images), None, list(ds.names))
        return ImageSet(data, list(ds.test.images), np.asarray(ds.test.labels),
                        [f"{data} test #{i}" for i in range(len(ds.test))])
    if kind is not None:
        raise InvalidArgumentError(f"The zoo dataset {data!r} holds no images; an image model needs an image "
                                   "dataset ('skimage-photos', 'digits') or a directory of image files.")
    path = Path(data).expanduser()
    if path.is_dir():
        from ..imaging import read_image

        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise InvalidArgumentError(f"The directory {data!r} holds no image files ({', '.join(_IMAGE_SUFFIXES)}).")
        return ImageSet(path.name, [read_image(p) for p in files], None, [p.name for p in files])
    raise InvalidArgumentError(f"The {argument!r} for an image model must be a zoo image dataset ('skimage-photos', "
                               f"'digits') or a directory of image files. Got {data!r}.")


def load_prompts(data: str, *, argument: str = "data") -> list[str]:
    """Prompts for a causal language model: a zoo prompt set (:data:`lumos.zoo.prompts.PROMPT_SETS`) by name, or
    a UTF-8 text file with one prompt per line (blank lines skipped)."""
    from .prompts import PROMPT_SETS

    if data in PROMPT_SETS:
        return list(PROMPT_SETS[data])
    path = Path(data).expanduser()
    if not path.is_file():
        raise InvalidArgumentError(f"The '{argument}' argument must be a zoo prompt set "
                                   f"({', '.join(map(repr, PROMPT_SETS))}) or a text file with one prompt per line. "
                                   f"Got {data!r}{' (a directory)' if path.is_dir() else ''}.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"The '{argument}' file {data!r} is not UTF-8 text: {exc}.") from None
    prompts = [line.strip() for line in lines if line.strip()]
    if not prompts:
        raise InvalidArgumentError(f"The '{argument}' file {data!r} holds no prompt (one per line).")
    return prompts
