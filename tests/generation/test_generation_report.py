"""The report of a causal language model: every generation with its hoverable sources, the matrix, the logit
lens, a causal trace and the ranking; everything the user wrote reaches the page escaped."""

from __future__ import annotations

import re

import pytest

from lumos.report.generation import generation_report
from lumos.report.render import render_report


@pytest.fixture(scope="module")
def page(tiny_llama, tmp_path_factory):
    prompts = tmp_path_factory.mktemp("prompts") / "prompts.txt"
    prompts.write_text("the cat sat on the mat\nAlice gave Bob <script>alert(1)</script> a book\n", encoding="utf-8")
    data = generation_report(tiny_llama, data=str(prompts), n=2, max_new_tokens=3, quality_n=2,
                             methods=["gradient_x_input", "occlusion"])
    return data, render_report(data)


def test_every_generation_and_method_is_drawn(page):
    data, html = page
    assert [len(ex.views) for ex in data.examples] == [2, 2]
    # One hover rule per generated step, and every generated token is a hover target.
    assert all(f".g{k}:hover" in html for k in range(3))
    assert len(re.findall(r'class="tok gen g\d', html)) == 2 * 2 * 3
    assert "Token-by-token matrix" in html and "Logit lens" in html and "Causal trace" in html
    assert "Explanation quality" in html and "log-probability of the whole continuation" in html


def test_hover_colours_respect_the_causal_mask(page):
    data, _ = page
    view = data.examples[0].views[0]  # gradient x input: sources are every token
    for j, unit in enumerate(view.units):
        steps = [k for k, _ in unit["colors"]]
        gen = [u["gen"] for u in view.units]
        # A token is a source only of the generated tokens that come after it.
        assert all(gen.index(k) > j for k in steps)


def test_user_text_is_escaped(page):
    _, html = page
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
