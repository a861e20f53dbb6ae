"""Dataset jobs on the local engine with the zoo's tweets-sentiment model: the same results whatever the shard
size, exact resumption after SIGKILL, corrupt and foreign shards redone, unrelated directories refused."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main
from lumos.errors import InvalidArgumentError
from lumos.jobs import JobResult, explain_dataset

ROOT = Path(__file__).resolve().parents[2]
METHODS = ["occlusion", ("ig", {"n_steps": 4})]
BAD = {3: "", 7: None}  # example id -> an empty text, a row with too many fields


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Ten airline tweets, two of them unusable (ids 3 and 7)."""
    texts = sorted(lumos.zoo.dataset("airline-tweets").test.texts[:40], key=len)[:10]
    path = tmp_path_factory.mktemp("data") / "tweets.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for i, text in enumerate(texts):
            writer.writerow(["", "x"] if i == 3 else [text, "x", "extra"] if i == 7 else [text, "x"])
    return path


def _job(data, out, **kw):
    kw.setdefault("shard_size", 10)
    return explain_dataset(data, methods=METHODS, out=out, group_size=2, on_error="skip", threads=1, **kw)


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> JobResult:
    """The job in one shard of ten examples."""
    return _job(data, tmp_path_factory.mktemp("ref") / "out")


def _frame(result: JobResult):
    return result.to_pandas().drop(columns="seconds")


def test_rows_are_the_methods_explanations_of_each_good_example(reference, data, tweets_model):
    """One row per good example and method, in id then method order; the values are what the Method API gives."""
    frame = reference.to_pandas()
    assert list(frame.example_id) == [i for i in range(10) if i not in BAD for _ in range(2)]
    assert list(frame.method[:2]) == ["occlusion", "integrated_gradients"]
    assert frame.model_id.nunique() == 1 and frame.model_id[0] == tweets_model.model_id
    assert reference.skipped == [
        {"example_id": 3, "row": 4, "column": "text", "reason": "the text is empty"},
        {"example_id": 7, "row": 8, "column": "text", "reason": "unreadable: 3 fields where the header has 2 (line 9)"}]
    texts = list(frame.input[::2])
    direct = lumos.Occlusion(tweets_model).attribute(texts)
    for e, row in zip(direct, frame[frame.method == "occlusion"].itertuples()):
        assert row.features.tolist() == list(e.features) and row.target == e.target
        np.testing.assert_allclose(row.values, e.values, rtol=1e-5, atol=1e-6)
    ig = frame[frame.method == "integrated_gradients"]
    # Completeness: the sum of IG's values plus its recorded gap is f(x) - f(baseline).
    gaps = [v.sum() - (o - b) for v, o, b in zip(ig["values"], ig.output_value, ig.base_value)]
    np.testing.assert_allclose(gaps, ig.convergence_delta, atol=1e-9)
    back = reference.to_explanations()
    assert len(back) == 16 and back[1].method == "integrated_gradients"
    assert back[0].text == texts[0] and back[0].class_names == tweets_model.class_names
    np.testing.assert_array_equal(back[1].values, ig["values"].iloc[0])


def test_resume_after_sigkill_gives_exactly_the_full_result(reference, data, tmp_path):
    """A job killed by SIGKILL after some shards and started again equals the uninterrupted job (another shard
    size), with no duplicate rows, and redoes none of the shards finished before the kill."""
    out = tmp_path / "out"
    code = (f"from lumos.jobs import explain_dataset; explain_dataset({str(data)!r}, methods={METHODS!r}, "
            f"out={str(out)!r}, shard_size=2, group_size=2, on_error='skip', threads=1)")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    manifest = out / "manifest.json"
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and child.poll() is None:
        if manifest.exists():
            done = len(json.loads(manifest.read_text())["shards"])
            if done >= 1:
                break
        time.sleep(0.02)
    assert child.poll() is None, "the job ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    before = json.loads(manifest.read_text())["shards"]
    assert 1 <= len(before) < 5
    kept = {e["file"]: (out / e["file"]).stat().st_mtime_ns for e in before.values()}
    resumed = _job(data, out, shard_size=2)
    assert resumed.complete and len(resumed.manifest["shards"]) == 5
    assert {f: (out / f).stat().st_mtime_ns for f in kept} == kept
    frame = _frame(resumed)
    assert not frame.duplicated(["example_id", "method"]).any()
    assert frame.equals(_frame(reference))
    assert resumed.skipped == reference.skipped


def test_corrupt_foreign_and_unrecorded_shards_are_redone(reference, data, tmp_path):
    """A shard whose bytes do not match the manifest (damaged, or another shard's file) is not trusted: readers
    refuse it and a rerun redoes it; a shard file the manifest does not record is removed."""
    out = tmp_path / "out"
    first = _job(data, out, shard_size=4)
    files = sorted(p.name for p in out.glob("shard-*.parquet"))
    assert files == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    raw = bytearray((out / files[0]).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (out / files[0]).write_bytes(bytes(raw))
    shutil.copyfile(out / files[2], out / files[1])  # a valid Parquet file, but not shard 1
    (out / "shard-00009.parquet").write_bytes(b"stray")
    with pytest.raises(InvalidArgumentError, match="does not match the checksum"):
        first.to_pandas()
    untouched = (out / files[2]).stat().st_mtime_ns
    again = _job(data, out, shard_size=4)
    assert sorted(p.name for p in out.glob("shard-*.parquet")) == files
    assert (out / files[2]).stat().st_mtime_ns == untouched
    assert _frame(again).equals(_frame(reference))


def test_output_directory_of_unrelated_files_or_another_job_is_refused(data, tmp_path):
    """A directory holding other files, or another job's output, is refused and left as it was."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match=r"holds files that are not a lumos job's output \('notes.txt'\)"):
        _job(data, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps({"format": "lumos.job/1", "params": {"seed": 5},
                                                     "model_id": "sha256:0", "shards": {}}))
    before = (other / "manifest.json").read_text()
    with pytest.raises(InvalidArgumentError, match="holds the output of another job"):
        _job(data, other)
    assert (other / "manifest.json").read_text() == before


def test_cli_explain_data_writes_shards_and_reports_skipped_rows(reference, data, tmp_path):
    """`lumos explain --data FILE --out DIR` runs the job; the shards hold what the Python entry point computes."""
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["explain", "--data", str(data), "--methods", "occlusion", "--out", str(out),
                                       "--shard-size", "16", "--on-error", "skip"])
    assert result.exit_code == 0, result.output
    assert "8 explanations of 10 examples (occlusion) in 1 shards" in result.output
    assert "skipped row 4: the text is empty" in result.output
    frame = JobResult(out).to_pandas()
    ref = reference.to_pandas()
    ref = ref[ref.method == "occlusion"].reset_index(drop=True)
    assert list(frame.example_id) == list(ref.example_id)
    for a, b in zip(frame["values"], ref["values"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    bad = CliRunner().invoke(main, ["explain", "--data", str(data), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2
    assert f"{data}, row 4, column 'text': the text is empty (1 more bad rows)" in bad.output


def test_lumos_imports_without_ray():
    """`import lumos` and the jobs package do not import Ray (it is optional)."""
    code = "import sys, lumos, lumos.jobs, lumos.cli; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_row_a_method_refuses_is_named_or_skipped(tmp_path):
    """A row the method cannot explain stops the job naming its row and column, or with on_error='skip' is
    recorded in the manifest while the rows of its group are still explained."""
    data = tmp_path / "d.csv"
    data.write_text("text\nlate again\nthe flight was late again and again\nthanks\n")
    method = [("exact_shapley", {"max_features": 3})]
    with pytest.raises(InvalidArgumentError, match=r"d\.csv, row 2, column 'text': could not be explained: "
                                                   r"ExactShapley evaluates all 2\^n coalitions"):
        explain_dataset(data, methods=method, out=tmp_path / "a", group_size=4, shard_size=4)
    result = explain_dataset(data, methods=method, out=tmp_path / "b", group_size=4, shard_size=4, on_error="skip")
    assert list(result.to_pandas().example_id) == [0, 2]
    assert [(s["example_id"], s["row"], s["column"]) for s in result.skipped] == [(1, 2, "text")]
    # Shapley values are efficient: they sum to the gap between the full and the empty coalition.
    for e in result.iter_explanations():
        assert e.values.sum() == pytest.approx(e.output_value - e.base_value, abs=1e-9)


def test_image_folder_job_explains_each_image_and_skips_a_broken_file(tmp_path):
    """An image folder is explained image by image (a pixel Grid per row, read back as such); a file that is not
    an image is skipped and recorded under on_error='skip'."""
    from PIL import Image

    digits = lumos.zoo.dataset("digits").test
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray((digits.images[i] * 255).round().astype(np.uint8)).save(folder / f"d{i}.png")
    (folder / "d1b.png").write_bytes(b"not a png")
    result = explain_dataset(folder, methods=["saliency"], out=tmp_path / "out", model="digits-cnn",
                             group_size=2, shard_size=2, on_error="skip")
    frame = result.to_pandas()
    assert list(frame.example_id) == [0, 1, 3]
    assert [s["example_id"] for s in result.skipped] == [2] and "d1b.png" in result.skipped[0]["reason"]
    explanations = result.to_explanations()
    adapter = lumos.zoo.load("digits-cnn")
    direct = lumos.Saliency(adapter).attribute(lumos.imaging.read_image(folder / "d0.png"))
    assert explanations[0].features == direct.features and isinstance(explanations[0].features, lumos.Grid)
    np.testing.assert_allclose(explanations[0].values, direct.values, rtol=1e-5, atol=1e-7)
