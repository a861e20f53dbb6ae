"""Output of the commands: --format table|json|csv on listing commands, tables never cut when piped, outputs under
the lumos data directory unless --out says otherwise, reports written whole or not at all."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main
from lumos.cli._common import data_dir, output_dir


def test_methods_in_every_format():
    """`lumos methods` prints the same methods as a table, as JSON and as CSV, with full descriptions."""
    runner = CliRunner()
    as_json = json.loads(runner.invoke(main, ["methods", "--format", "json"]).stdout)
    assert [m["name"] for m in as_json] == list(lumos.method_names())
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, ["methods", "--format", "csv"]).stdout)))
    assert rows == as_json
    table = runner.invoke(main, ["methods"]).stdout  # piped: rich would assume 80 columns
    assert "…" not in table
    for m in as_json:
        assert any(m["name"] in line and m["description"] in line for line in table.splitlines())


def test_zoo_list_as_json_and_bad_format():
    """`lumos zoo list --format json` lists the models and datasets; an unknown format is a usage error."""
    runner = CliRunner()
    rows = json.loads(runner.invoke(main, ["zoo", "list", "--format", "json"]).stdout)
    assert {r["name"] for r in rows if r["kind"] == "model"} == set(lumos.zoo.names())
    assert {r["name"] for r in rows if r["kind"] == "dataset"} == set(lumos.zoo.datasets())
    bad = runner.invoke(main, ["zoo", "list", "--format", "xml"])
    assert bad.exit_code == 2 and "'table', 'json', 'csv'" in bad.output


def test_wide_tables_keep_headers_and_cells_whole(capsys):
    """Piped (rich assumes 80 columns), a wide table prints every header and every 'mean ± ci' cell whole."""
    from rich.table import Table

    from lumos.display import print_tables

    table = Table(title="wide")
    labels = [f"comprehensiveness {i}" for i in range(12)]
    for label in labels:
        table.add_column(label, justify="right")
    table.add_row(*(f"0.{i:03d} ± 0.{i:03d}" for i in range(12)))
    narrow = Table(title="a title much longer than the table it names, which must stay on one line")
    narrow.add_column("x")
    narrow.add_row("1")
    print_tables([table, narrow], footer="a footer")
    lines = capsys.readouterr().out.splitlines()
    assert any("a title much longer than the table it names, which must stay on one line" in line for line in lines)
    assert not any("…" in line for line in lines)
    for i, label in enumerate(labels):
        assert any(label in line for line in lines)
        assert any(f"0.{i:03d} ± 0.{i:03d}" in line for line in lines)
    assert lines[-1] == "a footer"


def test_outputs_default_under_the_data_directory(tmp_path, monkeypatch):
    """Without --out a command's output goes to <data dir>/<kind>/<model>; with it, where asked."""
    monkeypatch.setenv("LUMOS_DATA_DIR", str(tmp_path / "data"))
    assert data_dir() == tmp_path / "data"
    assert output_dir(None, "compressed", "tweets-sentiment") == tmp_path / "data" / "compressed" / "tweets-sentiment"
    assert output_dir(None, "reports", "/some/where/my model/") == tmp_path / "data" / "reports" / "my-model"
    assert output_dir("here", "reports", "x").as_posix() == "here"


def test_report_without_out_writes_under_the_data_directory_and_says_where(tmp_path, monkeypatch):
    """`lumos report` without --out leaves the current directory alone and prints the page's path."""
    monkeypatch.setenv("LUMOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", "--model", "breast-cancer-gbm", "--n", "2", "--methods", "occlusion"])
    assert result.exit_code == 0, result.output
    page = tmp_path / "data" / "reports" / "breast-cancer-gbm" / "index.html"
    assert page.is_file() and str(page) in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_failed_report_leaves_no_page(tmp_path):
    """A report whose page cannot be rendered leaves no index.html (empty or partial) behind."""
    from lumos.report.render import write_report

    class Broken:
        kind = "texts"

    with pytest.raises(Exception):
        write_report(Broken(), tmp_path / "out")
    assert not (tmp_path / "out" / "index.html").exists()


def test_feedback_list_in_every_format(tmp_path):
    """`lumos feedback list --format csv|json|table` lists the stored records; the compact lines stay the default."""
    import numpy as np
    from PIL import Image

    digit = lumos.zoo.dataset("digits").test.images[0]
    png = tmp_path / "digit.png"
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(png)
    store = str(tmp_path / "fb.sqlite")
    runner = CliRunner()
    added = runner.invoke(main, ["feedback", "add", "--image", str(png), "--model", "digits-cnn", "--irrelevant", "63",
                                 "--rating", "4", "--author", "ann", "--store", store])
    assert added.exit_code == 0, added.output
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, ["feedback", "list", "--store", store, "--format",
                                                                "csv"]).stdout)))
    assert len(rows) == 1 and rows[0]["author"] == "ann" and rows[0]["model"] == "digits-cnn"
    assert rows[0]["rating"] == "4" and rows[0]["kind"] == "image"
    records = json.loads(runner.invoke(main, ["feedback", "list", "--store", store, "--format", "json"]).stdout)
    assert records[0]["irrelevant"] == [63] and records[0]["author"] == "ann"
    table = runner.invoke(main, ["feedback", "list", "--store", store, "--format", "table"]).stdout
    assert "ann" in table and "digits-cnn" in table and "…" not in table
    empty = runner.invoke(main, ["feedback", "list", "--store", store, "--author", "nobody", "--format", "csv"])
    assert empty.stdout.splitlines() == ["id,created_at,author,model,kind,input,irrelevant,relevant,label,rating"]
