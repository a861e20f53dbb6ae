"""The report's Attention and Representations sections: present for the transformer, inline SVG, escaped."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

import lumos
from lumos.report import build_report
from lumos.report.common import word_rows
from lumos.report.inside import inside_section
from lumos.report.plots import probe_bars


@pytest.fixture(scope="module")
def model():
    return lumos.zoo.load("tweets-sentiment")


def test_sections_are_inline_svg_and_escape_text(model, tmp_path):
    """The attention matrix, the probe bars and the projections are inline SVG; data text stays escaped."""
    rows = [(f"<b>late</b> flight {i} again", "negative") for i in range(5)] + \
        [(f"thanks, great crew on flight {i}", "positive") for i in range(5)] + \
        [(f"when does boarding start for flight {i}", "neutral") for i in range(5)]
    path = tmp_path / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    html = build_report(model, data=str(path), n=1, out=tmp_path / "out", methods=["saliency"]).read_text()
    attention = html[html.index('<section id="attention">'):html.index('<section id="representations">')]
    representations = html[html.index('<section id="representations">'):]
    assert "&lt;b&gt;late&lt;/b&gt;" in attention and "<b>late" not in html
    assert attention.count('aria-label="attention matrix"') == 3
    for method in ("attention", "rollout", "flow", "attention_x_gradient"):
        assert attention.count(f'<div class="method">{method}</div>') == 3
    assert 'aria-label="probe accuracy per layer"' in representations
    assert representations.count("<title>layers.") == 6
    assert 'aria-label="PCA projection"' in representations and 'aria-label="LDA projection"' in representations
    assert representations.count("<circle") == 2 * 15
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_inside_section_probes_the_held_out_rows_given(model):
    """Probe bars: one per layer plus the embeddings, drawn with heights proportional to accuracy; None for a
    model without attention."""
    val = lumos.zoo.dataset("airline-tweets").validation
    texts, labels = list(val.texts[:40]), np.asarray(val.labels[:40])
    probs = model.predict_proba(texts)
    section = inside_section(model, texts, labels, probs, word_rows, n_attention=1, cv=3)
    bars = probe_bars(section.probe)["bars"]
    assert [b["site"] for b in bars] == ["embeddings", *(f"layers.{i}.output" for i in range(6))]
    assert [b["acc"] for b in bars] == [b["acc"] for b in section.probe["bars"]]
    assert all(b["h"] == pytest.approx(150 * b["acc"]) and 0 <= b["acc"] <= 1 for b in bars)
    assert section.n == 40 and section.query == "mean"
    from lumos.models import TorchAdapter
    import torch
    assert inside_section(TorchAdapter(torch.nn.Linear(2, 2)), texts, labels, probs, word_rows) is None
