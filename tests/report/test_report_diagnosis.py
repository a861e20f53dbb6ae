"""The report's "Errors and slices", "Calibration" and "Global importance" sections."""

from __future__ import annotations

import csv

import lumos
from lumos.diagnosis import calibration
from lumos.report import build_report
from lumos.report.data import load_labelled_texts


def test_report_shows_calibration_slices_errors_and_importance(tweets_model, tmp_path):
    """The sections are present; the ECE printed is the library's on the same data; error text is escaped."""
    data = lumos.zoo.dataset("airline-tweets").test
    rows = [(t, tweets_model.class_names[int(y)]) for t, y in zip(data.texts[:40], data.labels[:40])]
    rows.append(("<script>x</script> thank you so much, great crew", "negative"))  # a confident mistake
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    html = build_report(tweets_model, data=str(path), n=4, out=tmp_path / "out", methods=["saliency"]).read_text()
    for heading in ("Errors and slices", "Calibration", "Global importance", "Most confident errors"):
        assert f">{heading}<" in html
    labelled = load_labelled_texts(str(path), tweets_model.class_names)
    ece = calibration(tweets_model.predict_proba(list(labelled.texts)), labelled.labels).ece
    assert f"Expected calibration error {ece:.3g}" in html
    assert "<script>x" not in html and "&lt;script&gt;x" in html
    assert html.count('class="method error-method"') == html.count('class="example error-example"') >= 1
