"""The report of a model retrained from feedback: a "Feedback retraining" section with the parent's and the new
version's accuracy on the report's data, the measures recorded when it was retrained, its training curves, and
the same texts explained by both models."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos.feedback import Annotated, retrain
from lumos.report import report_data
from lumos.report.render import render_report

TEXTS = ["the flight was late again and nobody told us", "great crew, smooth flight, thank you",
         "lost my bag, still waiting on hold", "ok flight, nothing special", "worst airline ever, cancelled twice",
         "thanks for the quick rebooking"]
LABELS = ["negative", "positive", "negative", "neutral", "negative", "positive"]


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """tweets-sentiment with its head retrained (one epoch, RRR) on six texts, the words 'flight' marked
    irrelevant where they occur; saved and loaded back as every command loads it; and a CSV of the texts."""
    root = tmp_path_factory.mktemp("retrained")
    parent = lumos.zoo.load("tweets-sentiment")
    marks = tuple(tuple(i for i, f in enumerate(parent.encode([t]).features[0].labels) if f == "flight")
                  for t in TEXTS)
    labels = [parent.class_names.index(label) for label in LABELS]
    result = retrain(parent, Annotated(list(TEXTS), labels, marks), validation=Annotated(list(TEXTS), labels,
                     ((),) * len(TEXTS)), method="rrr", train="head", epochs=2, progress=False)
    model = lumos.load_model(result.save(root / "tweets-v2"))
    csv = root / "texts.csv"
    csv.write_text("text,label\n" + "".join(f'"{t}",{y}\n' for t, y in zip(TEXTS, LABELS)), encoding="utf-8")
    return parent, model, result, str(csv)


@pytest.fixture(scope="module")
def data(retrained):
    """The report data of the retrained model on the six texts, two of them explained."""
    _, model, _, csv = retrained
    return report_data(model, data=csv, n=2, methods=["occlusion"], progress=False)


def test_the_section_compares_the_parent_and_the_new_version(retrained, data):
    """Accuracy of both models on the report's data is measured, the card's measures are shown as recorded, the
    curves hold one point per epoch, and each example is explained by the same method on both models."""
    parent, model, result, csv = retrained
    section = data.retraining
    assert section is not None and section.parent == "tweets-sentiment"
    assert section.parent_model_id == parent.model_id and section.model_id == model.model_id != parent.model_id
    labels = np.array([parent.class_names.index(y) for y in LABELS])
    held_out, recorded, share = section.measures
    for model_, value in ((parent, held_out["before"]), (model, held_out["after"])):
        assert value == float((model_.predict_proba(TEXTS).argmax(1) == labels).mean())
    assert (recorded["before"], recorded["after"]) == (result.before["accuracy"], result.after["accuracy"])
    assert (share["before"], share["after"]) == (result.before["marked_share"], result.after["marked_share"])
    assert [len(s.xs) for chart in section.curves for s in chart.series] == [2] * sum(
        len(chart.series) for chart in section.curves) and section.curves
    ig = lumos.IntegratedGradients
    for i, example in enumerate(section.examples):
        before, after = example["rows"]
        for row, model_ in ((before, parent), (after, model)):
            words, values = ig(model_).attribute(TEXTS[i]).by_word()
            assert [c.word for c in row.cells] == list(words)
            np.testing.assert_allclose([c.value for c in row.cells], values, rtol=1e-5, atol=1e-7)
    assert len(section.examples) == 2


def test_the_page_shows_the_section_and_hides_the_raw_card_fields(retrained, data):
    """The page has the section with both models' ids; the history and metric dicts are not dumped in the card."""
    _, model, result, _ = retrained
    page = render_report(data)
    assert 'id="retraining"' in page and "Feedback retraining" in page and model.model_id in page
    assert "metrics_before" not in page and "cross_entropy&#39;:" not in page
    assert f"{result.after['marked_share']:.4g}"[:4] in page


def test_only_a_retrained_card_asks_for_the_section(tweets_model, retrained):
    """The section is built for a card that records a parent and both measures, never for an ordinary model."""
    from lumos.report.retraining import is_retrained_card

    assert is_retrained_card(retrained[1].card) and not is_retrained_card(tweets_model.card)
