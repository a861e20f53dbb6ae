"""The feedback store: records round-trip, bad feedback is refused with nothing written, concurrent writers from
threads and processes lose nothing, a writer killed with SIGKILL loses no acknowledged write, older schemas are
migrated, and exports round-trip through JSONL and Parquet."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import os
import signal
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from lumos.errors import InvalidArgumentError, LumosError, UnknownNameError
from lumos.explanation import Grid
from lumos.feedback import Feedback, FeedbackStore, SCHEMA_VERSION, default_store_path
from lumos.feedback.store import MIGRATIONS

MODEL_ID = "sha256:00000000000000aa"
CLASSES = ("negative", "neutral", "positive")

def _raw_counts(path: Path) -> tuple[int, int]:
    """(feedback rows, mark rows) read with a separate plain connection."""
    with sqlite3.connect(path) as conn:
        return (conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM marks").fetchone()[0])


def test_a_record_round_trips_with_every_field(store, text_feedback):
    """What add wrote, get reads back: text, features, values, marks, label, rating, comment, author, time."""
    record = text_feedback(7)
    fid = store.add(record)
    back = store.get(fid)
    assert back.id == fid and record.id is None
    for name in ("model_id", "input_id", "kind", "text", "method", "params", "features", "marks", "label", "rating",
                 "comment", "author", "uid", "created_at"):
        assert getattr(back, name) == getattr(record, name), name
    np.testing.assert_array_equal(back.values, record.values)
    assert back.irrelevant == (0,) and back.relevant == (2,)


def test_image_and_table_records_round_trip(store):
    """An image record keeps its Grid features, path and hash; a table record its row."""
    image = Feedback(model_id=MODEL_ID, input_id="sha256:1", kind="image", image_path="/data/x.png",
                     image_sha256="ab" * 32, features=Grid(2, 3), marks={5: "irrelevant"}, author="bo")
    table = Feedback(model_id=MODEL_ID, input_id="sha256:2", kind="table", row=(1.0, -2.5), features=("a", "b"),
                     marks={1: "irrelevant"}, author="bo")
    ids = store.add_many([image, table])
    got = store.list(ids=ids)
    assert got[0].features == Grid(2, 3) and got[0].image_sha256 == "ab" * 32 and got[0].marks == {5: "irrelevant"}
    assert got[1].row == (1.0, -2.5) and got[1].features == ("a", "b")
    assert [r.id for r in store.list(author="bo")] == ids and store.list(input_id="sha256:2")[0].kind == "table"


@pytest.mark.parametrize("fields, message", [
    (dict(marks={5: "irrelevant"}), "The 'marks' of Feedback must be feature indices in [0, 4]. Got [5]."),
    (dict(marks={-1: "irrelevant"}), "feature indices in [0, 4]. Got [-1]."),
    (dict(marks={0: "maybe"}), "must be 'irrelevant' or 'relevant'. Got ['maybe']."),
    (dict(model_id="sha256:unknown"), "must be a model registered in the store"),
    (dict(marks={}, label=None, rating=None, comment=None), "The selection of Feedback is empty"),
    (dict(marks={}, label=None, rating=None, comment="  "), "The selection of Feedback is empty"),
    (dict(rating=6), "The 'rating' field of Feedback must be an int in [1, 5]. Got 6."),
    (dict(label="angry"), "The 'label' parameter of Feedback must be one of 'negative', 'neutral', 'positive'."),
    (dict(text=""), "The 'text' field of Feedback must hold the input text"),
    (dict(values=[1.0]), "The 'values' field of Feedback must have one value per feature (5). Got 1."),
])
def test_bad_feedback_is_refused_and_nothing_is_written(store, fields, message, text_feedback):
    """Each kind of bad record raises a LumosError that names the field; the file holds no row afterwards, even
    when the bad record comes after good ones in the same batch."""
    with pytest.raises(LumosError) as info:
        store.add_many([text_feedback(1), text_feedback(2, **fields)])
    assert message in str(info.value)
    assert isinstance(info.value, (InvalidArgumentError, UnknownNameError))
    assert _raw_counts(store.path) == (0, 0) and len(store) == 0


def test_marks_cannot_be_both_irrelevant_and_relevant():
    """from_explanation refuses a feature marked both ways, naming both arguments."""
    from lumos.feedback.record import _marks

    with pytest.raises(InvalidArgumentError, match="must not share features. Both mark \\[3\\]"):
        _marks([1, 3], [3])


def test_a_repeated_uid_is_refused_unless_skipped(store, text_feedback):
    """The same record twice is an error; with skip_existing it is written once and its id returned."""
    record = text_feedback(3)
    fid = store.add(record)
    with pytest.raises(InvalidArgumentError, match="must be new to the store"):
        store.add(record)
    assert store.add_many([record], skip_existing=True) == [fid] and len(store) == 1


def test_register_refuses_other_classes_for_a_known_model(store):
    """A model id stays bound to the classes it was registered with."""
    assert store.register_model(MODEL_ID, name="tiny", class_names=CLASSES) == MODEL_ID
    with pytest.raises(InvalidArgumentError, match="cannot be registered again"):
        store.register_model(MODEL_ID, name="tiny", class_names=["a", "b"])


def test_threads_writing_at_once_lose_nothing(store, text_feedback):
    """Eight threads adding 25 records each through one store object: 200 records, 200 distinct ids, every
    record's marks present."""
    ids: list[int] = []
    lock = threading.Lock()

    def writer(t: int) -> None:
        for i in range(25):
            fid = store.add(text_feedback(t * 100 + i))
            with lock:
                ids.append(fid)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(ids)) == 200 and len(store) == 200 and _raw_counts(store.path) == (200, 400)


def _writer(path: str, n: int, tag: str, acks) -> None:
    """Add ``n`` records to the store at ``path`` (a connection of this process's own), sending each id on the
    pipe ``acks`` only after add returned."""
    store = FeedbackStore(path)
    acks.send("ready")
    for i in range(n):
        acks.send(store.add(Feedback(model_id=MODEL_ID, input_id=f"{tag}-{i}", kind="text", text=f"text {i}",
                                     features=("a", "b"), marks={i % 2: "irrelevant"}, author=tag)))


def _spawn(path: Path, n: int, tag: str):
    """A writer process forked from this one (lumos is already imported, so it starts at once)."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_writer, args=(str(path), n, tag, send), daemon=True)
    proc.start()
    send.close()
    assert receive.recv() == "ready"
    return proc, receive


def _drain(receive) -> list[int]:
    """Every id still in the pipe (until its writer end is closed)."""
    ids = []
    while True:
        try:
            ids.append(receive.recv())
        except EOFError:
            return ids


def test_processes_and_threads_writing_at_once_lose_nothing(store, text_feedback):
    """Three writer processes (40 records each) and two threads of this process (40 each) write at the same time:
    all 200 records are there, with the ids each writer was given, and the file passes integrity_check."""
    writers = [_spawn(store.path, 40, f"proc{k}") for k in range(3)]
    mine: list[int] = []
    threads = [threading.Thread(target=lambda t=t: mine.extend(store.add(text_feedback(1000 * t + i))
                                                             for i in range(40))) for t in (1, 2)]
    for th in threads:
        th.start()
    acknowledged = []
    for proc, receive in writers:
        acknowledged += _drain(receive)
        proc.join(timeout=60)
        assert proc.exitcode == 0
    for th in threads:
        th.join()
    assert len(acknowledged) == 120 and len(mine) == 80
    stored = {r.id: r for r in store.list()}
    assert set(acknowledged) | set(mine) == set(stored) and len(stored) == 200
    assert store.stats().authors == {"proc0": 40, "proc1": 40, "proc2": 40, "ann": 80}
    assert store.integrity_check() == "ok"


def test_a_writer_killed_mid_burst_loses_no_acknowledged_write(store):
    """A writer process adds records as fast as it can; after 150 acknowledgements it is killed with SIGKILL. Every
    record whose id it sent (sent only after add returned) is in the file, with its marks, and the file passes
    integrity_check."""
    proc, receive = _spawn(store.path, 1_000_000, "burst")
    acknowledged = [receive.recv() for _ in range(150)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    acknowledged += _drain(receive)  # acknowledged before the signal landed
    reopened = FeedbackStore(store.path)
    assert reopened.integrity_check() == "ok"
    stored = {r.id: r for r in reopened.list(author="burst")}
    assert len(acknowledged) >= 150 and set(acknowledged) <= set(stored)
    assert all(len(stored[i].marks) == 1 for i in acknowledged)


def test_a_version_1_store_is_migrated(tmp_path, text_feedback):
    """A file with schema version 1 (marks as a JSON column, no ratings) opens as version 2: its records and their
    marks are kept, new records take ratings, and the file passes integrity_check."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(MIGRATIONS[0])
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO models VALUES (?, ?, ?, ?)", (MODEL_ID, "tiny", json.dumps(CLASSES), "2026-01-01"))
        conn.execute("INSERT INTO feedback (uid, model_id, input_id, kind, text, features, marks, label, author, "
                     "created_at) VALUES ('u1', ?, 'sha256:1', 'text', 'late again', '[\"late\", \"again\"]', "
                     "'{\"1\": \"irrelevant\", \"0\": \"relevant\"}', 'negative', 'old', '2026-01-01')", (MODEL_ID,))
    store = FeedbackStore(path)
    assert store.schema_version == SCHEMA_VERSION == 2
    (old,) = store.list()
    assert old.marks == {1: "irrelevant", 0: "relevant"} and old.label == "negative" and old.rating is None
    store.add(text_feedback(1, rating=5))
    assert store.stats().ratings == 1 and store.integrity_check() == "ok"
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(feedback)")]
    assert "marks" not in columns and "rating" in columns


def test_a_store_from_a_newer_lumos_is_refused(tmp_path):
    """A file whose user_version is above this lumos's schema is left untouched, with an error saying so."""
    path = tmp_path / "new.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(LumosError, match=f"has schema version {SCHEMA_VERSION + 1}; this lumos reads versions up to"):
        FeedbackStore(path)


def test_settings_are_wal_full_sync_and_foreign_keys(store):
    """Each connection journals to a WAL, syncs fully and enforces foreign keys."""
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_export_and_import_round_trip(store, tmp_path, suffix, text_feedback):
    """Records exported to a file and imported into a fresh store are equal field by field (the model is
    registered from the file); importing the same file again adds nothing."""
    if suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow is not installed (pip install 'lumos[parquet]')")
    written = [text_feedback(i) for i in range(5)] + [Feedback(model_id=MODEL_ID, input_id="sha256:9", kind="image",
                                                               image_sha256="cd" * 32, features=Grid(2, 2),
                                                               marks={3: "irrelevant"}, author="bo")]
    store.add_many(written)
    assert store.export(tmp_path / f"out{suffix}") == 6
    other = FeedbackStore(tmp_path / "other.sqlite")
    ids = other.import_file(tmp_path / f"out{suffix}")
    assert len(ids) == 6 and other.models()[MODEL_ID]["class_names"] == list(CLASSES)
    for a, b in zip(store.list(), other.list()):
        assert a.to_dict() | {"id": None} == b.to_dict() | {"id": None}
    assert other.import_file(tmp_path / f"out{suffix}") == ids and len(other) == 6


def test_export_names_what_it_accepts(store, tmp_path):
    """An export path without a known suffix is refused, naming the accepted ones."""
    with pytest.raises(InvalidArgumentError, match="must end in .jsonl or .parquet"):
        store.export(tmp_path / "out.csv")


def test_default_path_is_in_the_user_data_directory(monkeypatch, tmp_path):
    """Without LUMOS_FEEDBACK_STORE the store lives in platformdirs' user data directory; the variable moves it."""
    from platformdirs import user_data_dir

    monkeypatch.delenv("LUMOS_FEEDBACK_STORE", raising=False)
    assert default_store_path() == Path(user_data_dir("lumos")) / "feedback.sqlite"
    monkeypatch.setenv("LUMOS_FEEDBACK_STORE", str(tmp_path / "s.sqlite"))
    assert FeedbackStore().path == tmp_path / "s.sqlite"


def test_stats_count_marks_corrections_and_ratings(store, text_feedback):
    """stats() counts records, each kind of mark, label corrections, ratings and their mean, per author."""
    store.add_many([text_feedback(1), text_feedback(2, rating=2, label=None), text_feedback(3, author="bo")])
    s = store.stats()
    assert (s.records, s.irrelevant_marks, s.relevant_marks, s.label_corrections, s.ratings) == (3, 3, 3, 2, 3)
    assert s.mean_rating == pytest.approx(10 / 3) and s.authors == {"ann": 2, "bo": 1} and s.by_model == {MODEL_ID: 3}
