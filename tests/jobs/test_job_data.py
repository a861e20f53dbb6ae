"""Reading datasets for jobs: streaming rows of CSV, JSON Lines, Parquet and image folders, with errors that name
the file, the row and the column."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lumos.errors import InvalidArgumentError, InvalidTypeError
from lumos.jobs import BadRow, Row, explain_dataset, open_dataset


def _csv(tmp_path, text: bytes, name="d.csv"):
    path = tmp_path / name
    path.write_bytes(text)
    return path


def test_csv_rows_stream_in_order_with_their_ids(tmp_path):
    """A CSV's data rows are examples 0, 1, ... in file order; quoted commas and newlines stay inside the text."""
    path = _csv(tmp_path, b'id,text\n1,"late, again"\n2,"two\nlines"\n\n3,fine\n')
    rows = list(open_dataset(path).rows())
    assert rows == [Row(0, "late, again"), Row(1, "two\nlines"), Row(2, "fine")]
    assert list(open_dataset(path).rows(1, 2)) == [Row(1, "two\nlines")]


def test_missing_column_names_file_and_columns(tmp_path):
    """A CSV without the requested column is refused at once, naming the file, the column and the columns it has."""
    path = _csv(tmp_path, b"id,body\n1,x\n")
    with pytest.raises(InvalidArgumentError, match=r"d\.csv' has no column 'text'.*'id', 'body'"):
        list(open_dataset(path).rows())


def test_empty_and_header_only_files_are_refused(tmp_path):
    """An empty file and a header with no rows are errors that say so."""
    with pytest.raises(InvalidArgumentError, match="is empty"):
        list(open_dataset(_csv(tmp_path, b"")).rows())
    with pytest.raises(InvalidArgumentError, match=r"holds no rows \(only a header\)"):
        list(open_dataset(_csv(tmp_path, b"text\n", "h.csv")).rows())
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(InvalidArgumentError, match="holds no rows"):
        list(open_dataset(tmp_path / "e.jsonl").rows())


def test_unreadable_csv_rows_become_bad_rows_naming_row_and_column(tmp_path):
    """Bytes that are not UTF-8, a row with the wrong number of fields and an empty text are bad rows; the
    others are read."""
    path = _csv(tmp_path, b"text,label\nok,1\n\xff\xfe bad,1\nshort\n ,1\nfine,0\n")
    rows = list(open_dataset(path).rows())
    assert [type(r) for r in rows] == [Row, BadRow, BadRow, BadRow, Row]
    assert [r.example_id for r in rows] == [0, 1, 2, 3, 4]
    messages = [r.message() for r in rows if isinstance(r, BadRow)]
    assert messages[0] == f"{path}, row 2, column 'text': unreadable: the bytes are not valid UTF-8"
    assert messages[1].startswith(f"{path}, row 3, column 'text': unreadable: 1 fields where the header has 2")
    assert messages[2] == f"{path}, row 4, column 'text': the text is empty"


def test_jsonl_bad_lines_wrong_types_and_missing_keys(tmp_path):
    """JSON Lines: a line that is not JSON, a value that is not a string and a missing key are bad rows."""
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "good"}\n{"text": 5}\nnot json\n{"other": "x"}\n[1]\n')
    rows = list(open_dataset(path).rows())
    assert rows[0] == Row(0, "good")
    bad = rows[1:]
    assert all(isinstance(r, BadRow) for r in bad)
    assert "row 2, column 'text': wrong type: expected a text (string), got int 5" in bad[0].message()
    assert "row 3: unreadable: not a JSON object" in bad[1].message()
    assert "row 4, column 'text': the column is missing from this row" in bad[2].message()
    assert "row 5: wrong type: expected a JSON object, got list" in bad[3].message()


def test_parquet_type_nulls_and_chunks(tmp_path):
    """Parquet: a non-string column is a type error naming it; nulls are bad rows; rows stream across chunks."""
    path = tmp_path / "d.parquet"
    texts = [f"t{i}" for i in range(2500)]
    texts[1700] = None
    pq.write_table(pa.table({"text": texts, "n": list(range(2500))}), path)
    rows = list(open_dataset(path).rows())
    assert len(rows) == 2500 and rows[2499] == Row(2499, "t2499")
    assert rows[1700] == BadRow(1700, str(path), 1701, "text", "the value is missing (null)")
    with pytest.raises(InvalidTypeError, match=r"column 'n' of .*d\.parquet' must hold texts \(strings\); its type "
                                               r"is int64"):
        list(open_dataset(path, "n").rows())
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidArgumentError, match="not a readable Parquet file"):
        list(open_dataset(tmp_path / "junk.parquet").rows())


def test_image_folder_rows_are_its_images_by_name(tmp_path):
    """An image folder's examples are its image files sorted by name; other files are not examples."""
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [r.value.rsplit("/", 1)[1] for r in open_dataset(tmp_path).rows()] == ["a.jpg", "b.png"]


def test_unknown_suffix_and_missing_path(tmp_path):
    """A file of another kind, and a path with nothing there, are refused with what is accepted."""
    (tmp_path / "d.xlsx").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match=r"suffix '\.xlsx'; accepted: \.csv, \.jsonl"):
        open_dataset(tmp_path / "d.xlsx")
    with pytest.raises(InvalidArgumentError, match="No file or folder at"):
        open_dataset(tmp_path / "nope.csv")


def test_job_stops_at_the_first_bad_row_before_loading_a_model(tmp_path):
    """With on_error='raise' a job names the first bad row (file, row, column) and how many more there are."""
    path = _csv(tmp_path, b"text\nok\n\nx,y\n \n")
    with pytest.raises(InvalidArgumentError, match=r"d\.csv, row 2, column 'text': unreadable: 2 fields .* "
                                                   r"\(1 more bad rows\)\. Pass on_error='skip'"):
        explain_dataset(path, methods=["occlusion"], out=tmp_path / "out", model="no-such-model")
    assert not (tmp_path / "out").exists()


def test_fingerprint_follows_the_bytes(tmp_path):
    """The data checksum changes with the file's content, not with its name."""
    a, b = _csv(tmp_path, b"text\nx\n", "a.csv"), _csv(tmp_path, b"text\nx\n", "b.csv")
    assert open_dataset(a).fingerprint() == open_dataset(b).fingerprint()
    b.write_bytes(b"text\ny\n")
    assert open_dataset(a).fingerprint() != open_dataset(b).fingerprint()
    assert json.dumps(open_dataset(a).fingerprint()).startswith('"sha256:')


@pytest.mark.parametrize("name, text", [
    ("d.csv", b'text,n\n"one, two",1\n\n"three\nfour",2\nbad\n\xff,3\nfive,4\nsix,5\n'),
    ("d.jsonl", b'{"text": "one"}\n\n{"text": 2}\nnot json\n{"text": "five"}\n{"text": "six"}\n'),
])
def test_seek_points_read_a_shard_like_a_full_scan(tmp_path, name, text):
    """A reader started at a seek point from count() yields what a scan from the top yields, line numbers of
    its messages included."""
    path = _csv(tmp_path, text, name)
    source = open_dataset(path)
    n, bad, marks = source.count(mark_every=2)
    assert sorted(marks) == list(range(0, n, 2)) and bad
    for start in range(0, n, 2):
        assert list(source.rows(start, start + 2, at=marks[start])) == list(source.rows(start, start + 2))
