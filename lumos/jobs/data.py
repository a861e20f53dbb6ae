"""Datasets of a job, read as a stream: CSV, Parquet, JSON Lines files and image folders.

A dataset is a sequence of examples numbered 0, 1, 2, ... in file order (the *example id*: a CSV's or a
JSONL file's data rows, a Parquet file's rows, an image folder's files sorted by name). Rows are read a chunk
at a time, never the whole file, so memory does not grow with the dataset. A row that cannot be used (a
missing or empty value, a value of the wrong type, bytes that are not UTF-8, a line that is not JSON) comes
back as a :class:`BadRow` naming the file, the row and the column; a file that cannot be used at all (no such
column, no rows, not a file of its kind) raises a :class:`~lumos.errors.LumosError` at once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = ["BadRow", "DataSource", "Row", "open_dataset", "KINDS", "IMAGE_SUFFIXES"]

#: The kinds of dataset a job reads, by file suffix (a folder is an image folder).
KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_CHUNK = 1024


@dataclass(frozen=True)
class Row:
    """One usable example: its id and its value (a text, or an image file's path)."""

    example_id: int
    value: Any


@dataclass(frozen=True)
class BadRow:
    """An example that cannot be explained: where it is and why (recorded in the manifest by ``--on-error
    skip``)."""

    example_id: int
    file: str
    row: int
    column: str | None
    reason: str

    def message(self) -> str:
        column = f", column {self.column!r}" if self.column is not None else ""
        return f"{self.file}, row {self.row}{column}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"example_id": self.example_id, "row": self.row, "column": self.column, "reason": self.reason}


class DataSource:
    """A dataset file (or image folder) and the column that holds the inputs.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.parquet`` or ``.jsonl`` file, or a folder of image files.
    column : str, default "text"
        The column holding the inputs (ignored for an image folder, whose inputs are its files).
    """

    def __init__(self, path: str | Path, column: str = "text") -> None:
        self.path = Path(path)
        self.column = column
        self._marks: dict[int, tuple[int, int]] = {}
        self._mark_every: int | None = None
        if self.path.is_dir():
            self.kind = "images"
        elif not self.path.is_file():
            raise InvalidArgumentError(f"The '--data' option must name a dataset file ({', '.join(sorted(KINDS))}) "
                                       f"or a folder of images. No file or folder at {str(self.path)!r}.")
        else:
            kind = KINDS.get(self.path.suffix.lower())
            if kind is None:
                raise InvalidArgumentError(f"The '--data' file {str(self.path)!r} has the suffix "
                                           f"{self.path.suffix!r}; accepted: {', '.join(sorted(KINDS))} files, or "
                                           "a folder of images.")
            self.kind = kind
        if not isinstance(column, str) or not column:
            raise InvalidTypeError(f"The '--column' option must be a non-empty column name. Got {column!r}.")

    def __repr__(self) -> str:
        return f"DataSource({str(self.path)!r}, column={self.column!r}, kind={self.kind!r})"

    def fingerprint(self) -> str:
        """SHA-256 of the file's bytes (of an image folder: its file names, sizes and bytes), read in blocks;
        a job resumes only on the data it started on."""
        digest = hashlib.sha256()
        files = self._images() if self.kind == "images" else [self.path]
        for file in files:
            if self.kind == "images":
                digest.update(file.name.encode() + b"\0")
            with file.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        return "sha256:" + digest.hexdigest()

    def rows(self, start: int = 0, stop: int | None = None, at: tuple[int, int] | None = None
             ) -> Iterator[Row | BadRow]:
        """The examples with ids in ``[start, stop)``, streamed in file order. ``at`` is the seek point of example
        ``start`` (from :meth:`count`), so that a CSV or JSONL reader starts there instead of at the top."""
        if at is not None and self.kind in ("csv", "jsonl"):
            items = (self._csv if self.kind == "csv" else self._jsonl)(first=start, at=at)
        else:
            items = {"csv": self._csv, "jsonl": self._jsonl, "parquet": self._parquet,
                     "images": self._image_rows}[self.kind]()
        seen = 0
        for item in items:
            seen += 1
            if item.example_id < start:
                continue
            if stop is not None and item.example_id >= stop:
                return
            yield item
        if seen == 0 and at is None:
            raise InvalidArgumentError(f"The dataset {str(self.path)!r} holds no rows"
                                       + (" (only a header)." if self.kind == "csv" else "."))

    def count(self, mark_every: int | None = None) -> tuple[int, list[BadRow], dict[int, tuple[int, int]]]:
        """The number of examples, the bad rows among them and, with ``mark_every``, the seek point of every
        example whose id is a multiple of it (CSV and JSONL: byte offset and lines before), in one streaming
        pass."""
        n, bad = 0, []
        self._marks, self._mark_every = {}, mark_every
        try:
            for item in self.rows():
                n += 1
                if isinstance(item, BadRow):
                    bad.append(item)
            return n, bad, {k: v for k, v in self._marks.items() if k < n}
        finally:
            self._marks, self._mark_every = {}, None

    def _mark(self, example_id: int, offset: int, lines: int) -> None:
        every = self._mark_every
        if every and example_id % every == 0 and example_id not in self._marks:
            self._marks[example_id] = (offset, lines)

    # -- readers ---------------------------------------------------------------------------------------
    def _text(self, example_id: int, row: int, value: Any) -> Row | BadRow:
        name = str(self.path)
        if value is None:
            return BadRow(example_id, name, row, self.column, "the value is missing (null)")
        if not isinstance(value, str):
            return BadRow(example_id, name, row, self.column,
                          f"wrong type: expected a text (string), got {type(value).__name__} {value!r:.40}")
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            return BadRow(example_id, name, row, self.column, "unreadable: the bytes are not valid UTF-8")
        if not value.strip():
            return BadRow(example_id, name, row, self.column, "the text is empty")
        return Row(example_id, value)

    def _csv(self, first: int = 0, at: tuple[int, int] | None = None) -> Iterator[Row | BadRow]:
        name = str(self.path)
        with self.path.open("rb") as fh:
            pos = 0

            def lines() -> Iterator[str]:
                nonlocal pos
                for raw in fh:
                    pos += len(raw)
                    # surrogateescape: bytes that are not UTF-8 make one bad row, not the end of the stream.
                    yield raw.decode("utf-8", "surrogateescape")

            reader = csv.reader(lines())
            try:
                header = next(reader)
            except StopIteration:
                raise InvalidArgumentError(f"The dataset {name!r} is empty (no header row).") from None
            except csv.Error as error:
                raise InvalidArgumentError(f"The dataset {name!r} is not a readable CSV file: {error}.") from None
            if self.column not in header:
                raise InvalidArgumentError(f"The dataset {name!r} has no column {self.column!r} (the '--column' "
                                           f"option). Its columns: {', '.join(map(repr, header[:20]))}.")
            column = header.index(self.column)
            example_id, skipped_lines = 0, 0  # lines jumped over by a seek, for the line numbers of messages
            if at is not None:
                fh.seek(at[0])
                pos, example_id, skipped_lines = at[0], first, at[1] - reader.line_num
            while True:
                self._mark(example_id, pos, reader.line_num + skipped_lines)
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    raise InvalidArgumentError(f"{name}, line {reader.line_num + skipped_lines}: not readable as "
                                               f"CSV: {error}.") from None
                if not fields:  # a blank line is no row
                    continue
                row = example_id + 1
                if len(fields) != len(header):
                    yield BadRow(example_id, name, row, self.column,
                                 f"unreadable: {len(fields)} fields where the header has {len(header)} "
                                 f"(line {reader.line_num + skipped_lines})")
                else:
                    yield self._text(example_id, row, fields[column])
                example_id += 1

    def _jsonl(self, first: int = 0, at: tuple[int, int] | None = None) -> Iterator[Row | BadRow]:
        name = str(self.path)
        example_id, pos = 0, 0
        with self.path.open("rb") as fh:
            if at is not None:
                fh.seek(at[0])
                example_id, pos = first, at[0]
            for line in fh:
                self._mark(example_id, pos, 0)
                pos += len(line)
                if not line.strip():
                    continue
                row = example_id + 1
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    yield BadRow(example_id, name, row, None, f"unreadable: not a JSON object ({error})")
                else:
                    if not isinstance(record, dict):
                        yield BadRow(example_id, name, row, None,
                                     f"wrong type: expected a JSON object, got {type(record).__name__}")
                    elif self.column not in record:
                        yield BadRow(example_id, name, row, self.column, "the column is missing from this row")
                    else:
                        yield self._text(example_id, row, record[self.column])
                example_id += 1

    def _parquet(self) -> Iterator[Row | BadRow]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = str(self.path)
        try:
            file = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as error:
            raise InvalidArgumentError(f"The dataset {name!r} is not a readable Parquet file: {error}.") from None
        schema = file.schema_arrow
        if self.column not in schema.names:
            raise InvalidArgumentError(f"The dataset {name!r} has no column {self.column!r} (the '--column' "
                                       f"option). Its columns: {', '.join(map(repr, schema.names[:20]))}.")
        kind = schema.field(self.column).type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InvalidTypeError(f"The column {self.column!r} of {name!r} must hold texts (strings); its type is "
                                   f"{kind}.")
        example_id = 0
        try:
            for batch in file.iter_batches(batch_size=_CHUNK, columns=[self.column]):
                for value in batch.column(0).to_pylist():
                    yield self._text(example_id, example_id + 1, value)
                    example_id += 1
        except pa.ArrowException as error:
            raise InvalidArgumentError(f"{name}, after row {example_id}: unreadable Parquet data: {error}.") from None

    def _images(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

    def _image_rows(self) -> Iterator[Row | BadRow]:
        for example_id, file in enumerate(self._images()):
            yield Row(example_id, str(file))


def open_dataset(path: str | Path, column: str = "text") -> DataSource:
    """The :class:`DataSource` of a dataset file or image folder (a clear error for anything else)."""
    return DataSource(path, column)

