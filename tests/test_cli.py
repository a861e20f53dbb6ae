"""The `lumos` command: explain, report, zoo, methods; errors as one clear line with exit status 2."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main


@pytest.fixture(scope="module")
def runner():
    lumos.zoo.load("tweets-sentiment")  # build the head once, outside the timed commands
    return CliRunner()


def test_explain_json_is_an_explanation(runner):
    """`lumos explain --json` prints an Explanation that round-trips and names the requested target."""
    result = runner.invoke(main, ["explain", "the flight was late again", "--method", "ig", "--n-steps", "16",
                                  "--target", "positive", "--json"])
    assert result.exit_code == 0, result.output
    e = lumos.Explanation.from_json(result.output)
    assert e.method == "integrated_gradients" and e.target_label == "positive"
    assert e.params["n_steps"] == 16
    assert e.words == ("the", "flight", "was", "late", "again")


def test_explain_prints_prediction_and_words(runner):
    """The terminal view shows the predicted class, every word and the completeness check."""
    result = runner.invoke(main, ["explain", "@united thanks for the great flight"])
    assert result.exit_code == 0, result.output
    assert "prediction:" in result.output
    for word in ("@united", "thanks", "great", "flight"):
        assert word in result.output
    assert "completeness" in result.output


def test_explain_lime_takes_evals(runner):
    """`--method lime --n-evals N` runs LIME with n_evals=N masks: at most N distinct model evaluations (here at
    most the 2^5 coalitions of five words), and a local fit R^2."""
    result = runner.invoke(main, ["explain", "the flight was late again", "--method", "lime", "--n-evals", "60",
                                  "--json"])
    assert result.exit_code == 0, result.output
    e = lumos.Explanation.from_json(result.output)
    assert e.method == "lime" and e.params["n_evals"] == 60 and 2 < e.cost.n_evals <= 2 ** 5
    assert e.features == ("the", "flight", "was", "late", "again")
    assert 0.0 <= e.diagnostics["r2"] <= 1.0


def test_explain_kernelshap_shows_standard_errors_and_diagnostics(runner):
    """`--method kernelshap` on a 12-word text with fewer evaluations than coalitions prints each top word's
    standard error, the estimator's diagnostics, and exact completeness; markup in the text stays text."""
    text = "@united [bold]lost[/bold] my bag again and nobody at the desk could help"
    result = runner.invoke(main, ["explain", text, "--method", "kernelshap", "--n-evals", "120"])
    assert result.exit_code == 0, result.output
    assert "[bold]lost[/bold]" in result.output  # printed literally, not as rich markup
    assert re.search(r"top words: \S+ [-+]\d\.\d{3} ± \d\.\d{3}", result.output)
    assert "fraction_evaluated=0.0293" in result.output  # 120 of 2^12 coalitions
    assert re.search(r"delta [-+]\d\.\d\de-(1[0-9]|0[89])", result.output) or "delta +0.00e+00" in result.output
    assert "120 model evaluations" in result.output


def test_explain_occlusion_by_alias(runner):
    """`--method loo` runs occlusion: one evaluation per word plus the full and empty texts."""
    result = runner.invoke(main, ["explain", "the flight was late again", "--method", "loo", "--json"])
    assert result.exit_code == 0, result.output
    e = lumos.Explanation.from_json(result.output)
    assert e.method == "occlusion" and e.cost.n_evals == 5 + 2
    assert e.base_value is not None and e.output_value is not None


def test_explain_help_lists_registered_methods(runner):
    """`lumos explain --help` lists every registered method and documents --n-evals and --n-steps."""
    result = runner.invoke(main, ["explain", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # help is wrapped to the terminal width
    for name in lumos.method_names():
        assert name in text
    assert "--n-evals" in text and "--n-steps" in text


@pytest.mark.parametrize("args, message", [
    (["explain", ""], "empty"),
    (["explain", "hello", "--method", "nope"], "'method' parameter must be one of"),
    (["explain", "hello", "--target", "angry"], "'target' parameter"),
    (["explain", "hello", "--target", "9"], "class index in [0, 2]"),
    (["explain", "hello", "--model", "/no/such/model"], "neither a zoo model"),
    (["explain", "hello", "--method", "ig", "--n-evals", "50"],
     "The '--n-evals' option sets 'n_evals', which integrated_gradients does not take. Methods that take it: "),
    (["explain", "hello", "--method", "lime", "--n-steps", "8"],
     "The '--n-steps' option sets 'n_steps', which lime does not take. Methods that take it: integrated_gradients"),
    (["explain", "hello", "--method", "lime", "--n-evals", "2"], "'n_evals' parameter of LIME must be an int >= 3"),
    (["report", "--n", "0"], "Invalid value for '--n': 0 is not in the range 1<=x"),
    (["zoo", "build", "nope"], "zoo model must be one of"),
])
def test_bad_input_is_one_clear_line(runner, args, message):
    """Bad input exits with status 2 and one 'error:' line naming the problem, no traceback."""
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_report_command_writes_page(runner, tmp_path):
    """`lumos report` writes index.html with the requested number of examples."""
    out = tmp_path / "rep"
    result = runner.invoke(main, ["report", "--n", "2", "--out", str(out), "--methods", "saliency,gxi"])
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    assert html.count('class="example"') == 2
    assert "Held-out accuracy" in html


def test_report_default_methods_include_perturbation_methods(runner, tmp_path):
    """Without --methods the report shows every registered default method, occlusion and LIME included."""
    from lumos.report.build import default_methods

    out, data = tmp_path / "rep", tmp_path / "d.csv"
    data.write_text("text,label\nthe flight was late again,negative\n")
    result = runner.invoke(main, ["report", "--n", "1", "--out", str(out), "--data", str(data)])
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    assert {"occlusion", "lime"} <= set(default_methods())
    for name in default_methods():
        assert html.count(f'<div class="method">{name}</div>') == 1


def test_zoo_list_and_methods(runner):
    """`lumos zoo list` shows the built model's accuracy; `lumos methods` lists every registered method."""
    listed = runner.invoke(main, ["zoo", "list"])
    assert "tweets-sentiment" in listed.output and "test accuracy" in listed.output
    methods = runner.invoke(main, ["methods"]).output
    for name in lumos.method_names():
        assert name in methods
