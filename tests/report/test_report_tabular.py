"""The report for table models: sections, self-containment, numbers that match the library's, escaping."""

from __future__ import annotations

import html as _html
import re

import numpy as np
import pytest

import lumos
from lumos.attribution import get_method
from lumos.diagnosis import calibration
from lumos.global_ import SurrogateTree, permutation_importance
from lumos.report import build_report
from lumos.report.build import default_methods

SECTIONS = ("Model card", "Held-out accuracy", "Attribution methods", "Examples", "Errors and slices",
            "Most confident errors", "Calibration", "Global importance", "Permutation importance")


@pytest.fixture(scope="module")
def gbm():
    """The zoo's gradient-boosting model on breast cancer (a black box: perturbation methods only)."""
    return lumos.zoo.load("breast-cancer-gbm")


@pytest.fixture(scope="module")
def mlp():
    """The zoo's MLP on breast cancer (differentiable: gradient and perturbation methods)."""
    return lumos.zoo.load("breast-cancer-mlp")


@pytest.fixture(scope="module")
def test_split():
    """The held-out rows of breast cancer, the tabular models' default report data."""
    return lumos.zoo.dataset("breast-cancer").test


def _accuracy_shown(page: str) -> tuple[float, int]:
    match = re.search(r"Accuracy <strong>([0-9.]+)</strong> on (\d+) examples", page)
    assert match, "no accuracy line"
    return float(match[1]), int(match[2])


def _is_self_contained(page: str) -> bool:
    return re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I) is None and "<script" not in page


def _heat_rows(page: str, example: int) -> dict[str, list[str]]:
    """Method -> the cell labels of its heat row, for one example of the Examples section."""
    block = page.split(f'<div class="example" id="example-{example}">', 1)[1].split('<div class="example"', 1)[0]
    rows = re.findall(r'<div class="method">([^<]*)</div>\s*<div>(.*?)</div>', block, re.S)
    return {method: [_html.unescape(c) for c in re.findall(r'<span class="tok"[^>]*>([^<]*)</span>', cells)]
            for method, cells in rows}


def test_gbm_report_is_self_contained_with_every_section(gbm, test_split, tmp_path):
    """The boosting model's page has every section, loads nothing, names columns and states its test accuracy."""
    path = build_report(gbm, n=2, out=tmp_path, progress=False)
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "index.html"
    assert _is_self_contained(page)
    for heading in (*SECTIONS, "Surrogate tree"):
        assert f">{heading}<" in page
    assert "worst texture" in page
    rows, _ = gbm.split_inputs(test_split.frame)
    accuracy = float((gbm.predict_proba(rows).argmax(1) == test_split.labels).mean())
    shown, n = _accuracy_shown(page)
    assert n == len(test_split) and shown == pytest.approx(accuracy, abs=5e-5)
    heat = _heat_rows(page, 0)
    assert set(heat) == {"occlusion", "lime", "kernel_shap"}  # no gradients through a tree ensemble
    assert all(len(cells) == 8 for cells in heat.values())
    assert page.count('class="example" id="example-') == 2
    assert "saliency is left out" in page


def test_mlp_report_rows_are_the_largest_attributions_with_their_values(mlp, test_split, tmp_path):
    """Each heat row lists a method's 8 largest |attributions| in order, as feature = value (attribution)."""
    page = build_report(mlp, n=2, out=tmp_path, progress=False).read_text(encoding="utf-8")
    assert _is_self_contained(page)
    for heading in SECTIONS:
        assert f">{heading}<" in page
    heat = _heat_rows(page, 1)
    assert list(heat) == default_methods()  # gradient methods too: the MLP is differentiable
    row = test_split.frame.iloc[1]
    explanation = get_method("occlusion")(mlp).attribute(test_split.frame.iloc[[1]])[0]
    top = np.argsort(-np.abs(explanation.values), kind="stable")[:8]
    assert [c.split(" = ")[0] for c in heat["occlusion"]] == [explanation.features[i] for i in top]
    first = heat["occlusion"][0]
    name, value, attribution = re.fullmatch(r"(.+) = ([-0-9.,e+]+) \(([-+0-9.e]+)\)", first).groups()
    assert float(value.replace(",", "")) == pytest.approx(row[name], rel=5e-4)
    assert float(attribution) == pytest.approx(explanation.values[top[0]], rel=5e-3)


def test_mlp_report_numbers_match_the_library(mlp, test_split, tmp_path):
    """Accuracy, ECE, the top permutation feature and the surrogate's fidelity are the library's on the test split."""
    page = build_report(mlp, n=1, out=tmp_path, methods=["saliency"], progress=False).read_text(encoding="utf-8")
    rows, _ = mlp.split_inputs(test_split.frame)
    probs = mlp.predict_proba(rows)
    shown, _ = _accuracy_shown(page)
    assert shown == pytest.approx(float((probs.argmax(1) == test_split.labels).mean()), abs=5e-5)
    assert f"Expected calibration error {calibration(probs, test_split.labels).ece:.3g}" in page
    ranked = permutation_importance(mlp, test_split.frame, test_split.labels).ranked()
    first_row = page.split("<tr><th>feature</th><th>mean drop</th>", 1)[1].split("</tr>", 2)[1]
    assert f"<td>{ranked[0][0]}</td>" in first_row and f"{ranked[0][1]:+.4f}" in first_row
    fidelity = SurrogateTree(mlp).fit(lumos.zoo.dataset("breast-cancer").train.frame).fidelity(test_split.frame)
    assert f"Fidelity <strong>{fidelity:.4g}</strong>" in page


def test_csv_columns_with_html_are_escaped_everywhere(test_split, tmp_path):
    """Column names and values from a CSV reach the page escaped; the accuracy is the model's on the CSV rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def tagged(frame):
        return frame.rename(columns=lambda c: f"<b>{c}</b>")

    train = tagged(lumos.zoo.dataset("breast-cancer").train.frame)
    names = ("malignant", "benign")
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        train, lumos.zoo.dataset("breast-cancer").train.labels)
    model = lumos.as_adapter(estimator, class_names=names, background=train.iloc[:20], name="tagged & <i>lr</i>")
    frame = tagged(test_split.frame)
    flipped = np.arange(len(frame)) % 4 == 0  # a quarter of the labels are wrong, and a column says which
    labels = np.where(flipped, 1 - test_split.labels, test_split.labels)
    frame.insert(0, "<i>site</i>", np.where(flipped, "<script>x</script>", "ok"))
    frame["label"] = [names[y] for y in labels]
    csv = tmp_path / "rows.csv"
    frame.to_csv(csv, index=False)

    page = build_report(model, data=str(csv), n=2, out=tmp_path / "out", methods=["occlusion"],
                        progress=False).read_text(encoding="utf-8")
    assert "<b>" not in page and "<i>" not in page and "<script" not in page
    assert page.count("&lt;b&gt;") >= 2 * 8  # every feature shown in the two examples' heat rows
    assert "&lt;i&gt;site&lt;/i&gt; == &lt;script&gt;x&lt;/script&gt;" in page  # the slice the flipped rows form
    assert "tagged &amp; &lt;i&gt;lr&lt;/i&gt;" in page
    rows, _ = model.split_inputs(frame)
    shown, n = _accuracy_shown(page)
    assert n == len(frame) and shown == pytest.approx(float((model.predict_proba(rows).argmax(1) == labels).mean()),
                                                      abs=5e-5)
    assert "Surrogate tree" not in page and "The surrogate tree is left out" in page


def test_wrong_kind_of_data_or_section_is_a_clear_error(mlp, tmp_path):
    """A table model given texts, a text loader given a table, or text-only sections for a table all say so."""
    from lumos.errors import InvalidArgumentError
    from lumos.report.data import load_labelled_texts

    with pytest.raises(InvalidArgumentError, match="'airline-tweets', a zoo dataset without tables"):
        build_report(mlp, data="airline-tweets", out=tmp_path, progress=False)
    with pytest.raises(InvalidArgumentError, match="'breast-cancer', a zoo dataset without texts"):
        load_labelled_texts("breast-cancer", mlp.class_names)
    with pytest.raises(InvalidArgumentError, match="apply to text classifiers only; 'breast-cancer-mlp' reads tables"):
        build_report(mlp, out=tmp_path, quality_n=3, progress=False)
    assert not (tmp_path / "index.html").exists()
