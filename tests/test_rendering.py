"""Notebook views: Explanation, ExplanationSet, evaluation results and the report render as offline, escaped HTML
(_repr_html_), and .plot() draws with matplotlib."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import lumos
from lumos import Explanation, ExplanationSet
from lumos.metrics.evaluate import EvaluationResult, MethodEvaluation

PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RLO = "evil\u202eoutput"


def _offline(html: str) -> None:
    """No script, no markup from the payload, nothing fetched from a network."""
    assert "<script" not in html and "<img" not in html
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)


@pytest.fixture(scope="module")
def table_set():
    model = lumos.zoo.load("diabetes-linear")
    return lumos.ExactShapley(model).attribute(lumos.zoo.dataset("diabetes").test.X[:7])


def test_explanation_html_is_escaped_and_isolated():
    """Feature and class names that hold markup or a right-to-left override are escaped and wrapped in <bdi>."""
    e = Explanation(values=[0.5, -0.25, 0.0], features=[PAYLOAD, "b", "c"], target=0, prediction=[0.9, 0.1],
                    class_names=[RLO, "other"], method="occlusion", output_value=0.9, base_value=0.1)
    html = e._repr_html_()
    _offline(html)
    assert "&lt;script&gt;" in html and f"<bdi>{RLO}</bdi>" in html
    assert "+0.5" in html and "-0.25" in html


def test_text_explanation_html_colours_each_word():
    """A text explanation shows each word in a span coloured by its attribution (red positive, blue negative)."""
    e = Explanation(values=[1.0, -1.0, 0.0], features=["good", "bad", PAYLOAD], target=0, prediction=[0.7, 0.3],
                    class_names=["pos", "neg"], method="saliency", text="good bad x")
    html = e._repr_html_()
    _offline(html)
    assert re.search(r"background:rgba\(220,38,38,0\.850\).*<bdi>good</bdi>", html)
    assert re.search(r"background:rgba\(37,99,235,0\.850\).*<bdi>bad</bdi>", html)


def test_set_html_shows_the_first_explanations_and_counts_the_rest(table_set):
    """A set of 7 shows a summary, 5 explanations of a regressor ('for output progression') and '2 more'."""
    html = table_set._repr_html_()
    _offline(html)
    assert "ExplanationSet</b> of 7 explanations" in html and "… and 2 more" in html
    assert html.count('class="lumos-explanation"') == 5 and "for output <b><bdi>progression</bdi></b>" in html


def test_plots_draw_bars_with_matplotlib(table_set):
    """Explanation.plot draws k bars in order of |value|; ExplanationSet.plot the mean |value| per feature."""
    e = table_set[0]
    ax = e.plot(k=4)
    heights = [p.get_width() for p in ax.patches]
    assert len(heights) == 4 and np.allclose(sorted(np.abs(heights)), np.sort(np.abs(e.values))[-4:])
    ax = table_set.plot()
    means = np.abs(np.stack([x.values for x in table_set])).mean(0)
    assert np.allclose(sorted(p.get_width() for p in ax.patches), np.sort(means))
    plt.close("all")
    with pytest.raises(lumos.InvalidArgumentError, match="same features"):
        ExplanationSet([e, Explanation(values=[1.0], features=["z"], target=0, prediction=[1.0], class_names=["y"],
                                       method="m")]).plot()


def test_evaluation_result_html_and_plot():
    """An evaluation result shows its ranking and metric means ± half-widths, escaped; .plot() draws each
    method's deletion and insertion curves."""
    grid = np.linspace(0, 1, 5)
    methods = [MethodEvaluation(method=name, params={}, seconds_per_explanation=0.5, evals_per_explanation=10,
                                per_example={"gap": np.array(gaps)}, deletion_curve=1 - grid, insertion_curve=grid)
               for name, gaps in ((PAYLOAD, [0.2, 0.4]), ("random", [0.0, 0.02]))]
    result = EvaluationResult(model="m", data=RLO, n=2, seconds=1.0, methods=methods, grid=grid)
    html = result._repr_html_()
    _offline(html)
    assert "0.300 ± " in html and f"<bdi>{RLO}</bdi>" in html and "faithfulness gap" in html
    ax = result.plot()
    assert len(ax.lines) == 4
    plt.close("all")


def test_report_renders_inline_as_a_sandboxed_page():
    """The report data of a table model renders inline as a sandboxed iframe holding the escaped page."""
    from lumos.report import report_data

    report = report_data("breast-cancer-mlp", n=2, methods=["saliency"], progress=False)
    html = report._repr_html_()
    assert html.startswith("<iframe srcdoc=\"") and " sandbox>" in html
    assert "&lt;html" in html.lower() and "<html" not in html.lower()
    _offline(html)
