"""The offline HTML report: content, escaping, self-containment, and data loading errors."""

from __future__ import annotations

import csv
import re

import pytest

import lumos
from lumos import CallableAdapter
from lumos.maskers import TextMasker
from lumos.report import DEFAULT_METHODS, build_report, heat_color
from lumos.report.build import default_methods, make_methods
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


class BlackBox(CallableAdapter):
    """The zoo model reached only through predict (texts or token ids), with its tokenizer as the masker:
    a black box with no gradients."""

    def __init__(self, model):
        super().__init__(model.predict, class_names=model.class_names, output_kind="logits", name="black box")
        self.tokenizer = model.tokenizer

    def default_masker(self):
        return TextMasker(self.tokenizer)


def test_report_shows_perturbation_methods_beside_gradient_ones(model, tmp_path):
    """Every example gets a heat row for occlusion and LIME next to the gradient rows, and the methods table
    gives LIME's mean local fit R^2 and its evaluations per explanation."""
    data = _write_csv(tmp_path / "d.csv", [("the flight was late again, terrible", "negative"),
                                           ("thank you so much, great flight", "positive")])
    html = build_report(model, data=str(data), n=2, out=tmp_path, methods=["saliency", "loo", "lime"]).read_text()
    for name in ("saliency", "occlusion", "lime"):
        assert html.count(f'<div class="method">{name}</div>') == 2
    assert re.search(r"<td>intercept=[-0-9.e]+, r2=0\.\d+</td>", html)
    # The report's LIME budget is 300 masks; repeated masks are evaluated once, and these short texts (6
    # words each: 64 coalitions) have fewer distinct ones.
    lime_row = re.search(r"<tr><td>lime</td><td>([^<]*)</td>\s*<td class=\"num\">[^<]*</td><td class=\"num\">([^<]*)</td>",
                         html)
    assert "n_evals=300" in lime_row.group(1) and 2 < float(lime_row.group(2)) <= 64


def test_black_box_model_gets_the_perturbation_methods(model, tmp_path):
    """A model without gradients still gets occlusion and LIME; each gradient method is left out with a note."""
    data = _write_csv(tmp_path / "d.csv", [("the flight was late again, terrible", "negative"),
                                           ("what gate for the 5pm flight?", "neutral")])
    html = build_report(BlackBox(model), data=str(data), n=2, out=tmp_path).read_text()
    for name in ("occlusion", "lime"):
        assert html.count(f'<div class="method">{name}</div>') == 2
    for name in ("saliency", "gradient_x_input", "integrated_gradients", "smoothgrad"):
        assert f'<div class="method">{name}</div>' not in html
        assert f'<p class="note">{name} is left out: ' in html
    assert "is not differentiable" in html


def test_make_methods_skips_only_what_the_model_cannot_run(model):
    """make_methods leaves out a gradient method for a black box, with a note, and keeps the others; an
    unknown name still raises."""
    methods, notes = make_methods(BlackBox(model), ["ig", "occlusion", "lime"])
    assert list(methods) == ["occlusion", "lime"] and methods["lime"].n_evals == DEFAULT_METHODS["lime"]["n_evals"]
    assert len(notes) == 1 and notes[0].startswith("integrated_gradients is left out: IntegratedGradients needs")
    methods, notes = make_methods(model, ["ig", "lime"])
    assert list(methods) == ["integrated_gradients", "lime"] and notes == []
    with pytest.raises(lumos.UnknownNameError, match="'method' parameter must be one of"):
        make_methods(model, ["nope"])


def test_default_methods_are_the_registered_ones():
    """The report's default methods are the keys of DEFAULT_METHODS that name a registered method (a method
    still being written is left out), each under its registry name so that its settings apply."""
    names = default_methods()
    assert {"saliency", "integrated_gradients", "occlusion", "lime"} <= set(names)
    assert names == [n for n in DEFAULT_METHODS if n in lumos.method_names()]
    for name in DEFAULT_METHODS:
        try:
            cls = lumos.get_method(name)
        except lumos.UnknownNameError:
            continue
        assert cls.name == name


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


@pytest.mark.parametrize("value, shown", [
    (14283.3, "14,283"), (-98765.4, "-98,765"), (1234.5678, "1235"), (0.000123456, "0.0001235"),
    (3.0, "3"), (12345, "12,345"), (float("nan"), "–"), (None, "–"), (True, "True"),
])
def test_numbers_are_shown_plainly(value, shown):
    """The report's number filter never writes a large float in scientific notation."""
    from lumos.report.render import _fmt

    assert _fmt(value) == shown


def test_report_with_quality_has_the_explanation_quality_section(model, tmp_path):
    """build_report(quality_n=2) runs the evaluation on the first 2 texts and the page gains the quality section:
    the metrics table for the chosen method and the random baseline, the ranking, and the inline plots."""
    data = _write_csv(tmp_path / "d.csv", [
        ("the flight was late and the crew was rude", "negative"),
        ("great crew, thank you", "positive"),
        ("what time does the gate open", "neutral"),
    ])
    html = build_report(model, data=str(data), n=2, out=tmp_path / "out", methods=["occlusion"],
                        quality_n=2).read_text(encoding="utf-8")
    assert '<section id="quality">' in html
    section = html[html.index('<section id="quality">'):]
    section = section[:section.index("</section>")]
    assert "measured on 2 texts of d.csv" in section
    assert re.search(r"<tr><td>occlusion</td>", section) and re.search(r"<tr><td>random</td>", section)
    assert "Ranking: faithfulness gap per second" in section and section.count("<svg") >= 2
    without = build_report(model, data=str(data), n=2, out=tmp_path / "plain", methods=["occlusion"])
    assert '<section id="quality">' not in without.read_text(encoding="utf-8")
