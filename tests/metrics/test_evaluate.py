"""evaluate and `lumos evaluate`: every method x metric with confidence intervals, a random baseline and a
ranking by faithfulness per second; errors as one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main
from lumos.metrics import METRICS, evaluate


@pytest.fixture(scope="module")
def result(tweets_model, held_out_tweets):
    return evaluate(tweets_model, held_out_tweets[:4], methods=["gradient_x_input", "occlusion"], n_sanity=1,
                    n_sensitivity=2)


def test_every_metric_for_every_method(result):
    """Each method has every faithfulness and form metric on every text, the subset metrics on their subset,
    mean curves from f(x) down (deletion) and up (insertion), and the random baseline is added."""
    assert [m.method for m in result.methods] == ["gradient_x_input", "occlusion", "random"]
    for m in result.methods:
        for key in ("gap", "deletion_auc", "insertion_auc", "comprehensiveness", "sufficiency",
                    "faithfulness_correlation", "complexity", "sparseness"):
            assert len(m.per_example[key]) == 4, key
        assert len(m.per_example["max_sensitivity"]) == 2 and m.sanity.correlation.shape[1] == 1
        assert m.deletion_curve[0] == pytest.approx(m.insertion_curve[-1])
        mean, half, n = m.summary("deletion_auc")
        assert n == 4 and half > 0 and 0 <= mean <= 1
    assert "agreement" not in result.by_name("random").per_example
    keys = [k.key for k in result.metrics()]
    assert keys == [m.key for m in METRICS if m.key not in ("auprc", "rationale_f1")]


def test_ranking_puts_occlusion_ahead_of_chance(result):
    """Occlusion (leave-one-out through the same masker the metric uses) beats the random baseline and is
    ranked trusted; the ranking is ordered by gap per second among trusted methods."""
    rows = result.ranking
    assert {r["method"] for r in rows} == {"gradient_x_input", "occlusion"}
    occ = next(r for r in rows if r["method"] == "occlusion")
    assert occ["gap"] > result.by_name("random").summary("gap")[0]
    trusted = [r["per_second"] for r in rows if r["trusted"]]
    assert trusted == sorted(trusted, reverse=True)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["n"] == 4 and len(data["methods"]) == 3


def test_cli_evaluate_json_and_errors(tweets_model):
    """`lumos evaluate --json` prints the summary; a bad method name is one error line with status 2."""
    runner = CliRunner()
    out = runner.invoke(main, ["evaluate", "--n", "2", "--methods", "saliency", "--n-sanity", "0",
                               "--n-sensitivity", "0", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [m["method"] for m in data["methods"]] == ["saliency", "random"]
    assert "randomization" not in data["methods"][0]["metrics"]
    bad = runner.invoke(main, ["evaluate", "--methods", "nope"])
    assert bad.exit_code == 2 and "'method' parameter must be one of" in bad.output
    table = runner.invoke(main, ["evaluate", "--n", "2", "--methods", "saliency", "--n-sanity", "0",
                                 "--n-sensitivity", "0"])
    assert table.exit_code == 0 and "faithfulness gap" in table.output and "Which explanation" in table.output


def test_report_quality_section_renders_escaped_svg(result):
    """The report section holds the table, the ranking and three inline SVG plots (deletion, insertion,
    randomization) with no script; a method name with markup is escaped in the plots."""
    from types import SimpleNamespace

    from lumos.report.quality import line_plot_svg, quality_section
    from lumos.report.render import _env

    section = quality_section(result)
    html = _env.get_template("quality.html").render(r=SimpleNamespace(quality=section))
    assert html.count("<svg") == 3 and "<script" not in html
    assert "Cascading randomization" in html and "occlusion" in html
    svg = line_plot_svg([("<b>x</b>", [0, 1], [0.2, float("nan")])], title="t<", x_label="a&b", y_label="y")
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg and "t&lt;" in svg and "a&amp;b" in svg


def test_cli_evaluate_reads_rationales_from_the_csv(tweets_model, tmp_path):
    """A 'rationale' column in the --data CSV adds the plausibility metrics (AUPRC, F1) to `lumos evaluate`
    (occlusion finds the highlighted words better than the random baseline); without the column they are
    absent."""
    data = tmp_path / "rated.csv"
    data.write_text("text,label,rationale\n"
                    "@united the flight was late and the crew was rude,negative,late rude\n"
                    "@united great crew and a smooth flight thank you,positive,great smooth\n", encoding="utf-8")
    args = ["evaluate", "--data", str(data), "--n", "2", "--methods", "occlusion", "--n-sanity", "0",
            "--n-sensitivity", "0", "--json"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    occlusion, random = (m["metrics"] for m in json.loads(out.output)["methods"])
    assert {"auprc", "rationale_f1"} <= set(occlusion), sorted(occlusion)
    assert occlusion["auprc"]["n"] == 2 and occlusion["auprc"]["mean"] > random["auprc"]["mean"]  # 0.71 vs 0.24
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(line.rsplit(",", 1)[0] for line in data.read_text().splitlines()) + "\n")
    out = CliRunner().invoke(main, args[:2] + [str(plain)] + args[3:])
    assert out.exit_code == 0, out.output
    assert "auprc" not in json.loads(out.output)["methods"][0]["metrics"]
