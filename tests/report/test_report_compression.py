"""The report's Compression section: the comparison table, drift per method and inline plots, escaped."""

from __future__ import annotations

import csv
import re

import pytest

import lumos
from lumos.report import build_report


def test_compression_section_lists_each_model_with_sizes_and_drift(tweets_model, tmp_path):
    """With compress=['prune:0.3'], the page has a Compression section with the original and the pruned model,
    their sizes, the drift of the three default methods, and SVG plots; text from the data stays escaped."""
    data = tmp_path / "d.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows([("<b>late</b> again, the flight was awful", "negative"),
                          ("thanks for the great crew", "positive"), ("what gate is it", "neutral"),
                          ("lost my bag again", "negative")])
    html = build_report(tweets_model, data=str(data), n=2, out=tmp_path / "out", methods=["saliency"],
                        compress=["prune:0.3"]).read_text(encoding="utf-8")
    section = html[html.index('<section id="compression">'):]
    section = section[:section.index("</section>")]
    assert "on 4 examples of d.csv" in section
    assert re.search(r"<tr><td>original</td>", section) and re.search(r"<tr><td>prune:0.3</td>", section)
    for method in ("saliency", "integrated_gradients", "occlusion"):
        assert f"{method} ρ ↑" in section
    assert section.count("<svg") == 4  # accuracy, then one drift plot per method
    assert "<b>" not in html and "&lt;b&gt;late&lt;/b&gt;" in html


def test_bad_compression_spec_fails_before_any_work(tweets_model, tmp_path):
    """An unknown compression name is a clear error raised before the report explains anything."""
    with pytest.raises(lumos.UnknownNameError, match="'shrink' .* is not one of 'prune'"):
        build_report(tweets_model, n=1, out=tmp_path, compress=["shrink:2"])
    assert not (tmp_path / "index.html").exists()
