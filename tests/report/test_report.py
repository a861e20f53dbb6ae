"""The offline HTML report: content, escaping, self-containment, and data loading errors."""

from __future__ import annotations

import csv
import re

import pytest

import lumos
from lumos.report import build_report, heat_color
from lumos.report.data import load_labelled_texts


@pytest.fixture(scope="module")
def model():
    return lumos.zoo.load("tweets-sentiment")


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_report_is_self_contained_and_escapes_text(model, tmp_path):
    """Text from the data reaches the page escaped, and the page references nothing on a network."""
    data = _write_csv(tmp_path / "d.csv", [
        ("<script>alert('x')</script> the flight was late", "negative"),
        ("great crew & friendly staff, thanks", "positive"),
        ("what time does the gate open", "neutral"),
    ])
    path = build_report(model, data=str(data), n=3, out=tmp_path / "out", methods=["saliency", "ig"])
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html
    # Every example has one heat row per method, and the page states held-out accuracy on the data given.
    assert html.count('class="example"') == 3
    assert html.count('<div class="method">saliency</div>') == 3
    assert html.count('<div class="method">integrated_gradients</div>') == 3
    assert "on 3 examples of d.csv" in html


def test_report_accuracy_matches_model_predictions(model, tmp_path):
    """The accuracy printed in the report is the model's accuracy on the rows given."""
    rows = [("the flight was late again, terrible", "negative"), ("thank you so much, great flight", "positive"),
            ("the flight was late again, terrible", "positive"), ("what gate for the 5pm flight?", "neutral")]
    data = _write_csv(tmp_path / "d.csv", rows)
    predicted = model.predict_proba([t for t, _ in rows]).argmax(1)
    expected = sum(model.class_names[p] == label for p, (_, label) in zip(predicted, rows)) / len(rows)
    html = build_report(model, data=str(data), n=1, out=tmp_path, methods=["gxi"]).read_text()
    assert f"Accuracy <strong>{expected:.4g}</strong>" in html


def test_zoo_data_is_the_held_out_split(model):
    """Without --data the zoo model is evaluated on its dataset's test split, never on training data."""
    data = load_labelled_texts("airline-tweets", model.class_names)
    test = lumos.zoo.dataset("airline-tweets").test
    assert data.texts == test.texts
    assert set(data.texts).isdisjoint(lumos.zoo.dataset("airline-tweets").train.texts)


def test_bad_data_arguments_are_named(model, tmp_path):
    """A missing file, missing columns and unknown labels give errors that say what is accepted."""
    with pytest.raises(lumos.InvalidArgumentError, match="'data' argument must be a zoo dataset"):
        load_labelled_texts(str(tmp_path / "missing.csv"), model.class_names)
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,y\nhello,negative\n")
    with pytest.raises(lumos.InvalidArgumentError, match="must have 'text' and 'label' columns"):
        load_labelled_texts(str(bad), model.class_names)
    unknown = _write_csv(tmp_path / "u.csv", [("hello", "angry")])
    with pytest.raises(lumos.InvalidArgumentError, match="label 'angry' is not one of"):
        load_labelled_texts(str(unknown), model.class_names)
    with pytest.raises(lumos.InvalidArgumentError, match="'n' parameter of build_report"):
        build_report(model, n=0, out=tmp_path)


def test_heat_color_encodes_sign_and_strength():
    """Positive values are red, negative blue, and the opacity grows with |value| up to the row's scale."""
    assert heat_color(1.0, 1.0).startswith("rgba(220,38,38,")
    assert heat_color(-1.0, 1.0).startswith("rgba(37,99,235,")
    weak, strong = (float(heat_color(v, 1.0).rstrip(")").split(",")[-1]) for v in (0.2, 0.8))
    assert weak < strong
    assert heat_color(0.5, 0.0) == "transparent"
