"""The feedback store: one SQLite file (standard library ``sqlite3``) that several writers share safely.

Durability and concurrency
--------------------------
- WAL journal, ``synchronous=FULL``: a commit is on disk (the WAL is fsynced) before :meth:`FeedbackStore.add`
  returns, so a write that returned survives SIGKILL of the process (and a power cut).
- Every write is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock first, so writers from threads and
  processes queue behind each other (a busy timeout of ``timeout`` seconds, then a few retries) instead of failing
  or interleaving; a record and its marks land together or not at all.
- One connection per thread (and per process: a forked child opens its own), made on first use.
- Foreign keys are enforced: a record refers to a registered model; a mark to its record.

Schema
------
Versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` holds the steps from an empty file to
:data:`SCHEMA_VERSION`, applied in one transaction when a store is opened. A file written by a newer lumos is
refused rather than changed.

- version 1: ``models`` (model_id, name, class_names) and ``feedback`` with the marks as a JSON column;
- version 2: marks in their own table (``marks``: feedback_id, feature, mark), ratings, indexes on model and input.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..engine.files import atomic_path
from ..errors import InvalidArgumentError, InvalidTypeError, LumosError, UnknownNameError, check_choice
from ..explanation import Grid
from .record import Feedback, _now

__all__ = ["FeedbackStore", "default_store_path", "SCHEMA_VERSION", "MIGRATIONS", "FeedbackStats"]

_OWNER = "FeedbackStore"

#: Steps from an empty database to each schema version: MIGRATIONS[v] takes version v to v + 1.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE models (
        model_id     TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        class_names  TEXT NOT NULL,            -- JSON list of str
        registered_at TEXT NOT NULL
    );
    CREATE TABLE feedback (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        uid          TEXT NOT NULL UNIQUE,
        model_id     TEXT NOT NULL REFERENCES models(model_id),
        input_id     TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('text', 'image', 'table')),
        text         TEXT,
        image_path   TEXT,
        image_sha256 TEXT,
        row          TEXT,                     -- JSON list of float
        method       TEXT,
        params       TEXT NOT NULL DEFAULT '{}',
        features     TEXT NOT NULL DEFAULT '[]',  -- JSON list of labels, or {"grid": [h, w]}
        attribution  BLOB,                     -- float64 little-endian, one per feature
        marks        TEXT NOT NULL DEFAULT '{}',  -- JSON {"feature index": "irrelevant" | "relevant"}
        label        TEXT,
        comment      TEXT,
        author       TEXT NOT NULL,
        created_at   TEXT NOT NULL
    );
    """,
    # 1 -> 2: marks get their own table (queried by feature and mark), ratings, indexes.
    """
    CREATE TABLE marks (
        feedback_id INTEGER NOT NULL REFERENCES feedback(id) ON DELETE CASCADE,
        feature     INTEGER NOT NULL CHECK (feature >= 0),
        mark        TEXT NOT NULL CHECK (mark IN ('irrelevant', 'relevant')),
        PRIMARY KEY (feedback_id, feature)
    ) WITHOUT ROWID;
    INSERT INTO marks (feedback_id, feature, mark)
        SELECT feedback.id, CAST(j.key AS INTEGER), j.value FROM feedback, json_each(feedback.marks) AS j;
    ALTER TABLE feedback DROP COLUMN marks;
    ALTER TABLE feedback ADD COLUMN rating INTEGER CHECK (rating BETWEEN 1 AND 5);
    CREATE INDEX feedback_model ON feedback(model_id);
    CREATE INDEX feedback_input ON feedback(input_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = ("uid", "model_id", "input_id", "kind", "text", "image_path", "image_sha256", "row", "method", "params",
            "features", "attribution", "label", "rating", "comment", "author", "created_at")


def default_store_path() -> Path:
    """``$LUMOS_FEEDBACK_STORE``, or ``feedback.sqlite`` in the user data directory (platformdirs)."""
    override = os.environ.get("LUMOS_FEEDBACK_STORE")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lumos")) / "feedback.sqlite"


@dataclass(frozen=True)
class FeedbackStats:
    """Counts over a store (or one model's part of it)."""

    records: int
    models: int
    authors: dict[str, int]
    irrelevant_marks: int
    relevant_marks: int
    label_corrections: int
    ratings: int
    mean_rating: float | None
    by_model: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class FeedbackStore:
    """People's feedback on explanations, in one SQLite file shared by threads and processes.

    A store only records feedback on models it knows: a model is *registered* with :meth:`register` (an
    adapter: its weights hash, name and classes) or :meth:`register_model`; :meth:`add` refuses a record whose
    ``model_id`` is not registered, and checks its label correction against that model's classes. Every record
    is validated in full (:meth:`Feedback.validate`) before anything is written.

    Parameters
    ----------
    path : str or Path, optional
        The database file (created with its directory). Default :func:`default_store_path`.
    timeout : float, default 30.0
        Seconds a write waits for another writer's lock before it is retried (three attempts in all).

    Examples
    --------
    >>> store = FeedbackStore("feedback.sqlite")                                  # doctest: +SKIP
    >>> store.register(model)                                                     # doctest: +SKIP
    >>> e = lumos.Saliency(model).attribute("@united the flight was late again")  # doctest: +SKIP
    >>> store.add(Feedback.from_explanation(e, irrelevant=[0], label="negative")) # doctest: +SKIP
    1
    """

    def __init__(self, path: str | Path | None = None, *, timeout: float = 30.0) -> None:
        if path is not None and not isinstance(path, (str, Path)):
            raise InvalidTypeError(f"The 'path' parameter of {_OWNER} must be a file path (str or Path). "
                                   f"Got {type(path).__name__}.")
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        if self.path.is_dir():
            raise InvalidArgumentError(f"The 'path' parameter of {_OWNER} must be a database file, not a directory. "
                                       f"Got {str(self.path)!r}.")
        self.timeout = float(timeout)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- connections -------------------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (a new one in a new thread or a forked process)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None,
                                   check_same_thread=True)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise LumosError(f"The feedback store {str(self.path)!r} could not switch to WAL journaling "
                                 f"(got {mode!r}); put it on a local file system.")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's store object is collected)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def __enter__(self) -> "FeedbackStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _write(self, work: Any, attempts: int = 3) -> Any:
        """Run ``work(conn)`` inside ``BEGIN IMMEDIATE`` ... ``COMMIT``; retried when the lock stays busy."""
        conn = self._connection()
        for attempt in range(attempts):
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    if attempt + 1 == attempts:
                        raise LumosError(f"The feedback store {str(self.path)!r} stayed locked by another writer "
                                         f"for {attempts} x {self.timeout:g} s.") from exc
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise
            try:
                result = work(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _migrate(self, target: int = SCHEMA_VERSION) -> None:
        def work(conn: sqlite3.Connection) -> None:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LumosError(f"The feedback store {str(self.path)!r} has schema version {version}; this lumos "
                                 f"reads versions up to {SCHEMA_VERSION}. Upgrade lumos to use it.")
            for step in range(version, target):
                for statement in _statements(MIGRATIONS[step]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {step + 1}")

        # Foreign keys cannot be switched inside a transaction; a migration rebuilding tables needs them off.
        conn = self._connection()
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            self._write(work)
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

    @property
    def schema_version(self) -> int:
        return self._connection().execute("PRAGMA user_version").fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when the file is sound) plus the foreign-key check."""
        conn = self._connection()
        result = "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        return result if not broken else f"{result}; {len(broken)} rows break foreign keys"

    # -- models ------------------------------------------------------------------------------------------
    def register(self, adapter: Any) -> str:
        """Register a model (an adapter, or anything :func:`lumos.as_adapter` accepts) so that feedback on it is
        accepted; returns its model id. Registering again is harmless."""
        from ..models import as_adapter

        adapter = as_adapter(adapter)
        model_id = adapter.model_id
        if model_id is None:
            raise InvalidArgumentError(f"The 'adapter' given to {_OWNER}.register has no model id (it holds no torch "
                                       f"model): feedback needs one to refer to. Got {type(adapter).__name__}.")
        return self.register_model(model_id, name=adapter.name, class_names=adapter.class_names)

    def register_model(self, model_id: str, *, name: str, class_names: Sequence[str]) -> str:
        """Register a model by its id, name and classes (what :meth:`register` reads from an adapter)."""
        if not isinstance(model_id, str) or not model_id.strip():
            raise InvalidArgumentError(f"The 'model_id' parameter of {_OWNER}.register_model must be a non-empty "
                                       f"str. Got {model_id!r}.")
        class_names = [str(c) for c in class_names]
        if not class_names:
            raise InvalidArgumentError(f"The 'class_names' parameter of {_OWNER}.register_model must name at least "
                                       "one class. Got none.")

        def work(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT class_names FROM models WHERE model_id = ?", (model_id,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO models VALUES (?, ?, ?, ?)",
                             (model_id, str(name), json.dumps(class_names), _now()))
            elif json.loads(row[0]) != class_names:
                raise InvalidArgumentError(f"The model {model_id!r} is registered with classes {json.loads(row[0])}; "
                                           f"it cannot be registered again with {class_names}.")
            return model_id

        return self._write(work)

    def models(self) -> dict[str, dict[str, Any]]:
        """Registered models: model id -> ``{"name": ..., "class_names": [...], "registered_at": ...}``."""
        rows = self._connection().execute("SELECT model_id, name, class_names, registered_at FROM models")
        return {r[0]: {"name": r[1], "class_names": json.loads(r[2]), "registered_at": r[3]} for r in rows}

    def _class_names(self, conn: sqlite3.Connection, model_id: str) -> list[str]:
        row = conn.execute("SELECT class_names FROM models WHERE model_id = ?", (model_id,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT model_id FROM models ORDER BY registered_at LIMIT 5")]
            raise UnknownNameError(f"The 'model_id' of Feedback must be a model registered in the store "
                                   f"({_OWNER}.register(model) or `lumos feedback add --model`); registered: "
                                   f"{known or 'none'}. Got {model_id!r}.")
        return json.loads(row[0])

    # -- writing -----------------------------------------------------------------------------------------
    def add(self, feedback: Feedback) -> int:
        """Validate ``feedback`` and write it; returns its id. Once this returns, the record is on disk."""
        return self.add_many([feedback])[0]

    def add_many(self, records: Iterable[Feedback], *, skip_existing: bool = False) -> list[int]:
        """Validate every record, then write them all in one transaction (all or none); returns their ids.

        With ``skip_existing``, records whose ``uid`` is already stored are skipped (their existing id is
        returned), which makes imports idempotent; otherwise a repeated uid is an error.
        """
        records = list(records)
        for i, record in enumerate(records):
            if not isinstance(record, Feedback):
                raise InvalidTypeError(f"The records given to {_OWNER}.add must be Feedback objects. Item {i} is a "
                                       f"{type(record).__name__}.")

        def work(conn: sqlite3.Connection) -> list[int]:
            classes: dict[str, list[str]] = {}
            for record in records:  # everything is checked before the first insert
                if record.model_id not in classes:
                    classes[record.model_id] = self._class_names(conn, record.model_id)
                record.validate(classes[record.model_id])
            ids = []
            for record in records:
                existing = conn.execute("SELECT id FROM feedback WHERE uid = ?", (record.uid,)).fetchone()
                if existing is not None:
                    if not skip_existing:
                        raise InvalidArgumentError(f"The 'uid' of Feedback must be new to the store. "
                                                   f"{record.uid!r} is record {existing[0]}.")
                    ids.append(int(existing[0]))
                    continue
                cursor = conn.execute(f"INSERT INTO feedback ({', '.join(_COLUMNS)}) VALUES "
                                      f"({', '.join('?' * len(_COLUMNS))})", _row(record))
                new_id = int(cursor.lastrowid)
                conn.executemany("INSERT INTO marks (feedback_id, feature, mark) VALUES (?, ?, ?)",
                                 [(new_id, int(i), m) for i, m in sorted(record.marks.items())])
                ids.append(new_id)
            return ids

        return self._write(work)

    # -- reading -----------------------------------------------------------------------------------------
    def get(self, id: int) -> Feedback:
        """The record with this id."""
        found = self.list(ids=[id])
        if not found:
            raise UnknownNameError(f"The 'id' parameter of {_OWNER}.get must be the id of a stored record. Got {id!r}.")
        return found[0]

    def list(self, *, model_id: str | None = None, author: str | None = None, input_id: str | None = None,
             ids: Sequence[int] | None = None, limit: int | None = None) -> list[Feedback]:
        """Records, oldest first, filtered by any of ``model_id``, ``author``, ``input_id`` and ``ids``."""
        where, args = [], []
        for column, value in (("model_id", model_id), ("author", author), ("input_id", input_id)):
            if value is not None:
                where.append(f"f.{column} = ?")
                args.append(value)
        if ids is not None:
            ids = [int(i) for i in ids]
            where.append(f"f.id IN ({', '.join('?' * len(ids))})")
            args.extend(ids)
        sql = (f"SELECT f.id, {', '.join('f.' + c for c in _COLUMNS)} FROM feedback f"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY f.id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        conn = self._connection()
        rows = conn.execute(sql, args).fetchall()
        marks: dict[int, dict[int, str]] = {}
        if rows:
            chosen = [r[0] for r in rows]
            for start in range(0, len(chosen), 900):  # SQLite's limit on bound parameters
                part = chosen[start:start + 900]
                for fid, feature, mark in conn.execute(
                        f"SELECT feedback_id, feature, mark FROM marks WHERE feedback_id IN "
                        f"({', '.join('?' * len(part))})", part):
                    marks.setdefault(fid, {})[feature] = mark
        return [_record(row, marks.get(row[0], {})) for row in rows]

    def __len__(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM feedback").fetchone()[0])

    def __iter__(self) -> Iterator[Feedback]:
        return iter(self.list())

    def stats(self, *, model_id: str | None = None) -> FeedbackStats:
        """Counts of records, marks, label corrections and ratings (of one model, or all)."""
        conn = self._connection()
        where, args = ("WHERE f.model_id = ?", [model_id]) if model_id is not None else ("", [])
        records, corrections, ratings, mean = conn.execute(
            f"SELECT COUNT(*), COUNT(f.label), COUNT(f.rating), AVG(f.rating) FROM feedback f {where}", args).fetchone()
        marks = dict(conn.execute(f"SELECT m.mark, COUNT(*) FROM marks m JOIN feedback f ON f.id = m.feedback_id "
                                  f"{where} GROUP BY m.mark", args).fetchall())
        authors = dict(conn.execute(f"SELECT f.author, COUNT(*) FROM feedback f {where} GROUP BY f.author "
                                    "ORDER BY COUNT(*) DESC", args).fetchall())
        by_model = dict(conn.execute(f"SELECT f.model_id, COUNT(*) FROM feedback f {where} GROUP BY f.model_id",
                                     args).fetchall())
        return FeedbackStats(records=int(records), models=len(by_model), authors=authors,
                             irrelevant_marks=int(marks.get("irrelevant", 0)),
                             relevant_marks=int(marks.get("relevant", 0)), label_corrections=int(corrections),
                             ratings=int(ratings), mean_rating=float(mean) if mean is not None else None,
                             by_model=by_model)

    # -- export and import -------------------------------------------------------------------------------
    def export(self, path: str | Path, *, format: str | None = None, model_id: str | None = None) -> int:
        """Write the records (of one model, or all) to JSONL or Parquet; returns how many.

        Each line (row) is :meth:`Feedback.to_dict` plus ``model_name`` and ``class_names``, so that
        :meth:`import_file` can register the models in another store. ``format`` defaults to the suffix:
        ``.jsonl`` / ``.json`` or ``.parquet`` (which needs ``pyarrow``: ``pip install lumos[parquet]``).
        """
        path = Path(path).expanduser()
        format = _format(path, format, "export")
        models = self.models()
        rows = []
        for record in self.list(model_id=model_id):
            model = models[record.model_id]
            rows.append({**record.to_dict(), "model_name": model["name"], "class_names": model["class_names"]})
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:  # a failed export leaves neither a partial file nor a stray temporary
            if format == "jsonl":
                with tmp.open("w", encoding="utf-8") as f:
                    for row in rows:
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                _write_parquet(rows, tmp)
        return len(rows)

    def import_file(self, path: str | Path, *, format: str | None = None) -> list[int]:
        """Read records written by :meth:`export` (JSONL or Parquet), register their models and add them all in
        one transaction; records already here (same ``uid``) are skipped. Returns the ids of the records."""
        path = Path(path).expanduser()
        format = _format(path, format, "import_file")
        if not path.is_file():
            raise InvalidArgumentError(f"The 'path' parameter of {_OWNER}.import_file must be an existing file. "
                                       f"Got {str(path)!r}.")
        rows = _read_jsonl(path) if format == "jsonl" else _read_parquet(path)
        records = [Feedback.from_dict(row) for row in rows]
        known = self.models()
        for row in rows:
            if row["model_id"] not in known:
                if not row.get("class_names"):
                    raise InvalidArgumentError(f"The record {row.get('uid')!r} in {str(path)!r} refers to model "
                                               f"{row['model_id']!r}, unknown to this store, and carries no "
                                               "'class_names' to register it with.")
                self.register_model(row["model_id"], name=row.get("model_name") or row["model_id"],
                                    class_names=row["class_names"])
                known[row["model_id"]] = {}
        return self.add_many(records, skip_existing=True)


# -- rows ----------------------------------------------------------------------------------------------------
def _statements(script: str) -> list[str]:
    """The statements of a migration script (none of them holds a ';' inside a literal)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _row(record: Feedback) -> tuple[Any, ...]:
    features: Any = ({"grid": list(record.features.shape)} if isinstance(record.features, Grid)
                     else list(record.features))
    values = (np.asarray(record.values, dtype="<f8").tobytes() if record.values is not None else None)
    return (record.uid, record.model_id, record.input_id, record.kind, record.text, record.image_path,
            record.image_sha256, json.dumps(list(record.row)) if record.row is not None else None, record.method,
            json.dumps(dict(record.params), default=str), json.dumps(features), values, record.label, record.rating,
            record.comment, record.author, record.created_at)


def _record(row: Sequence[Any], marks: dict[int, str]) -> Feedback:
    (fid, uid, model_id, input_id, kind, text, image_path, image_sha256, row_json, method, params, features,
     values, label, rating, comment, author, created_at) = row
    features = json.loads(features)
    features = Grid(*features["grid"]) if isinstance(features, dict) else tuple(features)
    return Feedback(model_id=model_id, input_id=input_id, kind=kind, text=text, image_path=image_path,
                    image_sha256=image_sha256, row=tuple(json.loads(row_json)) if row_json is not None else None,
                    method=method, params=json.loads(params), features=features,
                    values=np.frombuffer(values, dtype="<f8").copy() if values is not None else None,
                    marks=marks, label=label, rating=rating, comment=comment, author=author, uid=uid,
                    created_at=created_at, id=int(fid))


def _format(path: Path, format: str | None, owner: str) -> str:
    if format is None:
        suffix = path.suffix.lower()
        format = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(suffix)
        if format is None:
            raise InvalidArgumentError(f"The 'path' of {_OWNER}.{owner} must end in .jsonl or .parquet, or 'format' "
                                       f"must be given. Got {str(path)!r}.")
    return check_choice(format, "format", ("jsonl", "parquet"), owner=f"{_OWNER}.{owner}")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise InvalidArgumentError(f"Line {n} of {str(path)!r} is not JSON: {exc}.") from None
    return rows


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401  (the submodule must be loaded)
    except ImportError:
        raise InvalidArgumentError("Parquet export and import need the 'pyarrow' package: pip install "
                                   "'lumos[parquet]' (or use a .jsonl file).") from None
    return pyarrow


#: Columns of the Parquet file whose values are nested (JSON text in the file keeps one flat schema).
_JSON_COLUMNS = ("params", "features")


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    pa = _pyarrow()
    schema = pa.schema([
        ("uid", pa.string()), ("id", pa.int64()), ("model_id", pa.string()), ("model_name", pa.string()),
        ("class_names", pa.list_(pa.string())), ("input_id", pa.string()), ("kind", pa.string()),
        ("text", pa.string()), ("image_path", pa.string()), ("image_sha256", pa.string()),
        ("row", pa.list_(pa.float64())), ("method", pa.string()), ("params", pa.string()),
        ("features", pa.string()), ("values", pa.list_(pa.float64())), ("irrelevant", pa.list_(pa.int64())),
        ("relevant", pa.list_(pa.int64())), ("label", pa.string()), ("rating", pa.int64()),
        ("comment", pa.string()), ("author", pa.string()), ("created_at", pa.string()),
    ])
    columns = {name: [json.dumps(r[name]) if name in _JSON_COLUMNS else r[name] for r in rows]
               for name in schema.names}
    pa.parquet.write_table(pa.table(columns, schema=schema), str(path))


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    pa = _pyarrow()
    try:
        rows = pa.parquet.read_table(str(path)).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise InvalidArgumentError(f"{str(path)!r} is not a readable Parquet file: {exc}.") from None
    for row in rows:
        for name in _JSON_COLUMNS:
            if isinstance(row.get(name), str):
                row[name] = json.loads(row[name])
    return rows
