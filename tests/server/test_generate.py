"""The Generate view on the zoo's language model: the API's continuation, attribution matrix and logit lens, and
in the browser, hovering a generated token lights its sources in the API's colours."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import pytest

from .conftest import CHROMIUM, TOKEN, launch_chromium, serving

PROMPT = "The capital of France is"


def _rgba(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"[0-9.]+", text)]


@pytest.fixture(scope="module")
def lm_app():
    pytest.importorskip("fastapi")
    from lumos.server import create_app

    return create_app(["smollm2-135m"], token=TOKEN)


@pytest.fixture(scope="module")
def generated(lm_app):
    from fastapi.testclient import TestClient

    client = TestClient(lm_app, base_url="http://127.0.0.1", headers={"X-Lumos-Token": TOKEN})
    r = client.post("/api/generate", json={"prompt": PROMPT, "methods": ["occlusion"], "max_new_tokens": 4})
    assert r.status_code == 200, r.text
    return r.json()


def test_generate_returns_the_greedy_continuation_and_its_matrix(lm_app, generated):
    """The continuation is the model's greedy one; the matrix has a row per generated token, sources the prompt's
    words; the lens has one row per layer (and the embeddings) and one column per prompt token."""
    adapter = lm_app.state.models.get("smollm2-135m")
    g = adapter.generate(PROMPT, max_new_tokens=4)
    assert generated["continuation"] == g.continuation
    view = generated["views"][0]
    assert view["method"] == "occlusion" and len(view["matrix"]) == 4
    assert [c[0].strip() for c in view["matrix"][0]["cells"]] == PROMPT.split()
    gens = [u for u in view["units"] if u["gen"] is not None]
    assert [u["gen"] for u in gens] == [0, 1, 2, 3]
    lens = generated["lens"]
    assert len(lens["layers"]) == adapter.n_layers + 1 and len(lens["top_tokens"][0]) == len(lens["tokens"])


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_hover_lights_the_sources(lm_app, generated, shots):
    """Hovering the first generated token colours each prompt word with that step's colour from the API."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with serving(lm_app) as url, sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?token={TOKEN}")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#tabs button[data-view=generate]")
        page.fill("#gen-prompt", PROMPT)
        page.fill("#gen-n", "4")
        page.click("#gen-go")
        page.wait_for_selector("#gen-output .tok.gen", timeout=60000)
        page.hover("#gen-output .tok.gen[data-gen='0']")
        spans = page.query_selector_all("#gen-output .card:first-child .tokens .tok")
        units = generated["views"][0]["units"]
        assert len(spans) == len(units)
        lit = 0
        for span, unit in zip(spans, units):
            want = dict((k, c) for k, c in unit["colors"]).get(0)
            got = span.evaluate("e => e.style.backgroundColor")
            if want is None:
                assert got == ""
            else:  # the browser may round the alpha: compare the numbers
                np.testing.assert_allclose(_rgba(got), _rgba(want), atol=0.01)
                lit += 1
        assert lit == len(PROMPT.split())
        page.screenshot(path=str(shots / "generate.png"), full_page=True)
        browser.close()
