"""The page in a real browser (Debian's chromium driven by Playwright): explain with two methods, switch the
target, upload an image, page the data, mark a token, and show hostile text literally. Screenshots of each view
are written as test artifacts (``$LUMOS_SCREENSHOTS`` or the test's temporary directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .conftest import CHROMIUM, TOKEN, launch_chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def page(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        pg.console_errors = []
        pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
        pg.goto(f"{live_server}/?token={TOKEN}")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        yield pg
        context.close()
        browser.close()


def _explain(page, text, methods=("integrated_gradients", "occlusion")):
    page.select_option("#model", "tweets-sentiment")
    page.fill("#explain-text", text)
    for box in page.query_selector_all("#explain-methods input"):
        box.set_checked(box.get_attribute("value") in methods)
    page.click("#explain-go")
    page.wait_for_function(f"() => document.querySelectorAll('.method-card').length === {len(methods)} && "
                           "document.getElementById('status').textContent.startsWith('explained')", timeout=20000)


def test_explain_two_methods_match_the_api(page, client, shots):
    """Two methods side by side; each highlighted word carries the value the API gives for the same input."""
    text = "the flight was late again and the crew was rude"
    _explain(page, text)
    api = client.post("/api/explain", json={"text": text, "methods": ["ig", "occlusion"]}).json()
    for m in api["methods"]:
        spans = page.query_selector_all(f".method-card[data-method='{m['method']}'] .tok")
        assert [s.text_content() for s in spans] == m["words"]["labels"]
        shown = [float(s.get_attribute("data-value")) for s in spans]
        np.testing.assert_allclose(shown, m["words"]["values"], rtol=1e-5, atol=1e-6)
        colours = [s.evaluate("e => getComputedStyle(e).backgroundColor") for s in spans]
        biggest = int(np.argmax(np.abs(m["words"]["values"])))
        assert colours[biggest].endswith("0.85)")  # the largest |value| is drawn at full strength
    page.screenshot(path=str(shots / "explain.png"), full_page=True)
    assert not page.dialogs


def test_switching_the_target_class_re_explains(page):
    """Choosing another target class explains that class (the cards say so)."""
    _explain(page, "the flight was late again")
    page.select_option("#explain-target", "positive")
    page.wait_for_function("() => [...document.querySelectorAll('.method-card > .meta')].every(m => "
                           "m.textContent.startsWith('target positive'))", timeout=20000)
    page.select_option("#explain-target", "")


def test_per_piece_toggle(page):
    """The per-piece toggle shows word pieces (a long word splits into several)."""
    _explain(page, "unbelievably late", methods=("saliency",))
    words = page.query_selector_all(".method-card .tok")
    page.check("input[name=unit][value=pieces]")
    pieces = page.query_selector_all(".method-card .tok")
    assert len(pieces) > len(words)
    page.check("input[name=unit][value=words]")


def test_mark_a_token_irrelevant_is_stored(page, store_path):
    """Clicking a word marks it irrelevant; saving writes that piece's mark into the SQLite store."""
    from lumos.feedback import FeedbackStore

    _explain(page, "the flight was late again", methods=("occlusion",))
    page.click(".method-card .tok[data-index='3']")
    page.click(".method-card .save-feedback")
    page.wait_for_function("() => document.querySelector('.method-card .saved').textContent.startsWith('saved')")
    fid = int(page.text_content(".method-card .saved").split()[-1])
    record = FeedbackStore(store_path).get(fid)
    assert record.irrelevant == (3,) and record.features[3] == "late" and record.method == "occlusion"


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
                                     "</script><script>alert(2)</script>"])
def test_hostile_text_is_shown_literally(page, payload):
    """Markup in the input is shown as text, and no dialog fires."""
    _explain(page, f"late {payload}", methods=("occlusion",))
    shown = "".join(s.text_content() for s in page.query_selector_all(".method-card .tok"))
    assert "<" in shown and ">" in shown
    assert page.query_selector(".method-card img") is None and page.query_selector(".method-card script") is None
    assert page.dialogs == []


def test_image_upload_shows_an_overlay(page, shots, tmp_path):
    """Uploading an image for the image model shows one overlay per method."""
    from PIL import Image

    path = tmp_path / "digit.png"
    from sklearn.datasets import load_digits

    digit = load_digits().images[0] / 16.0
    Image.fromarray((np.repeat(digit[..., None], 3, axis=2) * 255).astype(np.uint8)).save(path)
    page.select_option("#model", "digits-cnn")
    page.set_input_files("#explain-image", str(path))
    page.click("#explain-go")
    page.wait_for_selector(".method-card img.overlay", timeout=20000)
    overlays = page.query_selector_all(".method-card img.overlay")
    assert len(overlays) == 2
    assert all(o.evaluate("e => e.complete && e.naturalWidth > 0") for o in overlays)
    page.screenshot(path=str(shots / "explain-image.png"), full_page=True)
    page.select_option("#model", "tweets-sentiment")


def test_mark_image_regions_is_stored(page, store_path, tmp_path, shots):
    """Clicking the image model's overlay marks the grid cell under the pointer (once: irrelevant, twice:
    relevant); saving stores the marks on that cell's pixels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from lumos.feedback import FeedbackStore
    from lumos.maskers.image import segment

    path = tmp_path / "digit.png"
    digit = load_digits().images[1] / 16.0
    Image.fromarray((np.repeat(digit[..., None], 3, axis=2) * 255).astype(np.uint8)).save(path)
    page.select_option("#model", "digits-cnn")
    page.set_input_files("#explain-image", str(path))
    for box in page.query_selector_all("#explain-methods input"):
        box.set_checked(box.get_attribute("value") == "grad_cam")
    page.click("#explain-go")
    canvas = ".method-card[data-method='grad_cam'] canvas.regions"
    page.wait_for_selector(canvas, timeout=20000)
    size = page.eval_on_selector(canvas, "c => c.getBoundingClientRect().width")
    page.click(canvas, position={"x": 2, "y": 2})                        # the top-left cell: irrelevant
    page.click(canvas, position={"x": size - 2, "y": size - 2})          # the bottom-right cell: relevant
    page.click(canvas, position={"x": size - 2, "y": size - 2})
    assert page.get_attribute(canvas, "data-irrelevant") == "0"
    page.screenshot(path=str(shots / "explain-image-marks.png"), full_page=True)
    page.click(".method-card .save-feedback")
    page.wait_for_function("() => document.querySelector('.method-card .saved').textContent.startsWith('saved')")
    record = FeedbackStore(store_path).get(int(page.text_content(".method-card .saved").split()[-1]))
    cells = segment(np.zeros((8, 8, 1)), "grid", grid=4).reshape(-1)  # the digits model's image masker: 4 x 4 cells
    assert record.kind == "image" and record.method == "grad_cam" and len(record.features) == 64
    assert record.irrelevant == tuple(np.flatnonzero(cells == cells[0]))
    assert record.relevant == tuple(np.flatnonzero(cells == cells[-1]))
    page.select_option("#model", "tweets-sentiment")


def test_data_view_pages(page, shots):
    """The Data view shows 20 rows with predictions; next shows the following 20."""
    page.click("#tabs button[data-view=data]")
    page.wait_for_selector("#data-table tbody tr", timeout=20000)
    assert page.get_attribute("#data-table tbody tr", "data-index") == "0"
    assert len(page.query_selector_all("#data-table tbody tr")) == 20
    page.screenshot(path=str(shots / "data.png"), full_page=False)
    page.click("#data-next")
    page.wait_for_function("() => document.querySelector('#data-table tbody tr')?.dataset.index === '20'")
    assert page.get_attribute("#data-table tbody tr", "data-index") == "20"
    assert "rows 21–40" in page.text_content("#data-info")


def test_evaluate_job_progress_streams_and_cancels(page):
    """'Evaluate all rows' follows the job through its event stream (no polling): the progress bar rises, and
    Cancel ends it as cancelled."""
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    page.click("#tabs button[data-view=data]")
    page.click("#data-evaluate")
    page.wait_for_function("() => document.getElementById('data-progress').value > 0", timeout=20000)
    page.click("#data-cancel")
    page.wait_for_function("() => document.getElementById('data-job').textContent === 'job cancelled'",
                           timeout=20000)
    assert page.is_hidden("#data-cancel")
    streams = [u for m, u in requests if "/events?token=" in u]
    polls = [u for m, u in requests if m == "GET" and "/api/jobs/job-" in u and "/events" not in u]
    assert len(streams) == 1 and polls == [], requests


def test_compare_and_feedback_views(page, shots):
    """Compare draws both models' explanations with drift; Feedback lists the stored records."""
    page.click("#tabs button[data-view=compare]")
    page.select_option("#cmp-method", "occlusion")
    page.click("#cmp-go")
    page.wait_for_selector("#cmp-output .card:nth-child(2) .tok", timeout=20000)
    assert "rank agreement" in page.text_content("#cmp-drift")
    page.screenshot(path=str(shots / "compare.png"), full_page=True)
    page.click("#tabs button[data-view=feedback]")
    page.wait_for_selector("#fb-table tbody tr", timeout=10000)
    assert "records in" in page.text_content("#fb-stats")
    marked = page.query_selector_all("#fb-table tbody tr td:nth-child(4)")
    assert "late" in [m.text_content() for m in marked]  # the word marked irrelevant above
    page.screenshot(path=str(shots / "feedback.png"), full_page=True)
    assert page.console_errors == []


def test_table_row_form_explains_columns(page, client, shots):
    """For a table model the Explain view shows one number field per column; explaining gives one bar per column
    with the API's values."""
    page.click("#tabs button[data-view=explain]")
    page.select_option("#model", "breast-cancer-mlp")
    fields = page.query_selector_all("#input-row input")
    names = [f.get_attribute("name") for f in fields]
    assert len(names) == 30 and page.is_hidden("#explain-text")
    row = {name: float(i % 7) + 0.5 for i, name in enumerate(names)}
    for f in fields:
        f.fill(str(row[f.get_attribute("name")]))
    for box in page.query_selector_all("#explain-methods input"):
        box.set_checked(box.get_attribute("value") == "occlusion")
    page.click("#explain-go")
    page.wait_for_selector(".method-card[data-method='occlusion'] .tok", timeout=20000)
    api = client.post("/api/explain", json={"model": "breast-cancer-mlp", "row": row, "methods": ["occlusion"]}).json()
    spans = page.query_selector_all(".method-card .tok")
    assert [s.text_content() for s in spans] == api["methods"][0]["pieces"]["labels"]
    np.testing.assert_allclose([float(s.get_attribute("data-value")) for s in spans],
                               api["methods"][0]["pieces"]["values"], rtol=1e-5, atol=1e-6)
    page.screenshot(path=str(shots / "explain-table.png"), full_page=True)
    page.select_option("#model", "tweets-sentiment")
