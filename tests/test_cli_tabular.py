"""The `lumos` command on table models: `report` writes the tabular page, `evaluate` refuses in one clear line."""

from __future__ import annotations

from click.testing import CliRunner

from lumos.cli import main


def test_report_command_writes_the_table_page(tmp_path):
    """`lumos report` on a zoo table model writes a page with its feature attributions and global importance."""
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", "--model", "breast-cancer-mlp", "--n", "2", "--out", str(out),
                                       "--methods", "saliency,occlusion"])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text(encoding="utf-8")
    assert page.count('class="example" id="example-') == 2
    assert ">Permutation importance<" in page and "worst texture" in page


def test_evaluate_on_a_table_model_is_one_clear_line():
    """`lumos evaluate` on a table model exits with status 2 and one line saying it takes text classifiers."""
    result = CliRunner().invoke(main, ["evaluate", "--model", "breast-cancer-mlp", "--n", "3"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: `lumos evaluate` works on text classifiers")
    assert "'breast-cancer-mlp' reads tables" in lines[0] and "lumos report --model breast-cancer-mlp" in lines[0]
    assert "Traceback" not in result.output


def test_diagnose_and_global_given_data_of_the_other_kind_are_one_clear_line(tmp_path):
    """A table model given a CSV of texts, and a text model given a table, stop before any work with one line
    naming the model's kind and the data's."""
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\nthe tumour is large,malignant\nall clear,benign\n", encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("length,label\n3,negative\n5,positive\n", encoding="utf-8")
    for command, model, data, reads, holds in [
        ("diagnose", "breast-cancer-mlp", texts, "tables", "texts (a 'text' column)"),
        ("global", "breast-cancer-mlp", texts, "tables", "texts (a 'text' column)"),
        ("diagnose", "tweets-sentiment", table, "texts", "a table (no 'text' column)"),
    ]:
        result = CliRunner().invoke(main, [command, "--model", model, "--data", str(data)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and f"reads {reads}, but the '--data'" in lines[0] and holds in lines[0], lines
        assert "Traceback" not in result.output


def test_explain_a_table_row_with_a_regressor():
    """`lumos explain --row N` explains row N of a zoo regressor's data: the predicted value, the top features and
    completeness; the JSON form records output 'value', and a row of the wrong width is one clear line."""
    result = CliRunner().invoke(main, ["explain", "--model", "diabetes-mlp", "--row", "3", "--method", "exact_shapley"])
    assert result.exit_code == 0, result.output
    assert "exact_shapley for output progression" in result.output and "top features: " in result.output
    assert "completeness:" in result.output
    result = CliRunner().invoke(main, ["explain", "--model", "diabetes-linear", "--row", "0.01,0,0,0,0,0,0,0,0,0",
                                       "--json"])
    assert result.exit_code == 0, result.output
    import json

    payload = json.loads(result.output)
    assert payload["output"] == "value" and payload["class_names"] == ["progression"]
    result = CliRunner().invoke(main, ["explain", "--model", "diabetes-mlp", "--row", "1,2"])
    assert result.exit_code == 2 and "must hold 10 finite numbers" in result.output


def test_commands_for_classifiers_refuse_a_regressor_in_one_line():
    """`lumos diagnose` and `lumos report` on a regressor exit with status 2 and say how to explain it instead."""
    for command in (["diagnose", "--model", "diabetes-mlp"], ["report", "--model", "diabetes-mlp", "--n", "2"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "regressor" in lines[0] and "lumos explain" in lines[0], lines


def test_zoo_list_shows_a_regressors_held_out_r2():
    """`lumos zoo list` shows the regression models with their held-out R² instead of an accuracy."""
    import lumos

    lumos.zoo.load("diabetes-linear")  # built (its card written) on load
    result = CliRunner().invoke(main, ["zoo", "list"])
    assert result.exit_code == 0
    line = next(l for l in result.output.splitlines() if "diabetes-linear" in l)
    assert "test R² 0.493" in line
