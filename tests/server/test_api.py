"""The JSON API through FastAPI's test client: every endpoint, bad inputs, and the security checks."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from .conftest import TOKEN

TEXT = "the flight was late again"


def _png(size=(8, 8), seed=0) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def explained(client):
    r = client.post("/api/explain", json={"text": TEXT, "methods": ["ig", "occlusion"]})
    assert r.status_code == 200, r.text
    return r.json()


def test_models_lists_what_each_reads(client):
    """GET /api/models names each loaded model with what it reads, its classes and its runnable methods."""
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(models) == {"tweets-sentiment", "tweets-sentiment@int8", "digits-cnn", "breast-cancer-mlp"}
    assert models["breast-cancer-mlp"]["reads"] == "tables" and len(models["breast-cancer-mlp"]["features"]) == 30
    assert models["tweets-sentiment"]["reads"] == "texts"
    assert models["digits-cnn"]["reads"] == "images"
    assert models["tweets-sentiment"]["classes"] == ["negative", "neutral", "positive"]
    assert "integrated_gradients" in models["tweets-sentiment"]["methods"]


def test_methods_lists_the_registry(client):
    """GET /api/methods lists the registered attribution methods."""
    assert "occlusion" in client.get("/api/methods").json()["methods"]


def test_explain_gives_each_method_with_its_quality(explained):
    """Two methods come back side by side; IG's values sum to f(x) - f(baseline) up to its reported delta."""
    ig, occ = explained["methods"]
    assert (ig["method"], occ["method"]) == ("integrated_gradients", "occlusion")
    assert ig["pieces"]["labels"] == ["the", "flight", "was", "late", "again"]
    gap = ig["output_value"] - ig["base_value"]
    assert abs(sum(ig["pieces"]["values"]) - gap - ig["delta"]) < 1e-4 * max(1.0, abs(gap))
    assert abs(sum(ig["words"]["values"]) - sum(ig["pieces"]["values"])) < 1e-6
    assert ig["relative_delta"] == pytest.approx(abs(ig["delta"]) / abs(gap))
    assert occ["delta"] is None and occ["n_evals"] > 0
    probs = [p["p"] for p in explained["prediction"]]
    assert sum(probs) == pytest.approx(1.0, abs=1e-5)
    assert explained["predicted"] == explained["prediction"][int(np.argmax(probs))]["name"]


def test_explain_target_and_contrast_change_what_is_explained(client, explained):
    """A named target class is explained instead of the predicted one; a contrast explains target minus foil."""
    r = client.post("/api/explain", json={"text": TEXT, "methods": ["saliency"], "target": "positive"}).json()
    assert r["methods"][0]["target"] == "positive"
    c = client.post("/api/explain", json={"text": TEXT, "methods": ["ig"], "target": "negative",
                                          "contrast": "positive"}).json()["methods"][0]
    plain = explained["methods"][0]
    assert c["target"] == "negative"
    assert not np.allclose(c["pieces"]["values"], plain["pieces"]["values"])
    bad = client.post("/api/explain", json={"text": TEXT, "methods": ["occlusion"], "contrast": "upward"})
    assert bad.status_code == 400 and "upward" in bad.json()["error"]


@pytest.mark.parametrize("body, status, words", [
    ({"text": "", "methods": ["ig"]}, 400, "non-empty"),
    ({"text": "x" * 5000, "methods": ["ig"]}, 400, "at most 2000"),
    ({"text": 12, "methods": ["ig"]}, 422, "'text'"),
    ({"text": TEXT, "methods": ["no_such_method"]}, 404, "no_such_method"),
    ({"text": TEXT, "methods": []}, 400, "non-empty list"),
    ({"text": TEXT, "methods": ["ig"], "model": "nope"}, 404, "not loaded"),
    ({"row": {"a": 1}, "methods": ["ig"]}, 400, "reads texts"),
    ({"text": TEXT, "methods": ["ig"], "target": "sideways"}, 400, "sideways"),
])
def test_explain_rejects_bad_input_with_a_clear_message(client, body, status, words):
    """Empty, huge, wrong-typed input, unknown model or method: a JSON 4xx whose message names the problem."""
    r = client.post("/api/explain", json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_explain_image_returns_an_overlay_per_method(client):
    """An uploaded PNG is explained by the image model with one overlay (a PNG data URL) per method."""
    r = client.post("/api/explain/image", files={"image": ("x.png", _png(), "image/png")},
                    data={"model": "digits-cnn", "methods": "grad_cam,saliency"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["method"] for m in body["methods"]] == ["grad_cam", "saliency"]
    assert all(m["overlay"].startswith("data:image/png;base64,") for m in body["methods"])
    assert len(body["prediction"]) == 3


def test_explain_image_rejects_non_images_and_big_files(client, app):
    """A file that is not an image, an empty file, or a text model for an image: 400 with the reason."""
    r = client.post("/api/explain/image", files={"image": ("x.png", b"not an image", "image/png")},
                    data={"model": "digits-cnn"})
    assert r.status_code == 400 and "not an image" in r.json()["error"]
    r = client.post("/api/explain/image", files={"image": ("x.png", b"", "image/png")}, data={"model": "digits-cnn"})
    assert r.status_code == 400 and "empty" in r.json()["error"]
    r = client.post("/api/explain/image", files={"image": ("x.png", _png(), "image/png")},
                    data={"model": "tweets-sentiment"})
    assert r.status_code == 400 and "reads texts" in r.json()["error"]
    big = b"x" * (app.state.limits.max_body_bytes + 10)
    r = client.post("/api/explain/image", files={"image": ("x.png", big, "image/png")}, data={"model": "digits-cnn"})
    assert r.status_code == 413


def test_compare_gives_drift_between_two_models(client):
    """One text through the original and its int8 copy: both explanations and drift measures in range."""
    r = client.post("/api/compare", json={"models": ["tweets-sentiment", "tweets-sentiment@int8"], "text": TEXT,
                                          "method": "occlusion"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert [s["model"] for s in d["sides"]] == ["tweets-sentiment", "tweets-sentiment@int8"]
    assert -1 <= d["drift"]["rank_agreement"] <= 1 and 0 <= d["drift"]["top3_overlap"] <= 1
    pa = [p["p"] for p in d["sides"][0]["prediction"]]
    pb = [p["p"] for p in d["sides"][1]["prediction"]]
    assert d["drift"]["max_probability_change"] == pytest.approx(max(abs(a - b) for a, b in zip(pa, pb)))
    assert client.post("/api/compare", json={"models": ["tweets-sentiment"], "text": TEXT}).status_code == 400


def test_generate_needs_a_language_model(client):
    """/api/generate on a classifier is a 400 that names the kind of model it needs."""
    r = client.post("/api/generate", json={"model": "tweets-sentiment", "prompt": "Hello"})
    assert r.status_code == 400 and "generative language model" in r.json()["error"]
    r = client.post("/api/generate", json={"model": "tweets-sentiment", "prompt": "Hello", "max_new_tokens": 99})
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]


def test_data_pages_with_predictions(client, app):
    """GET /api/data pages the zoo test split; each row's prediction is the model's argmax on that text."""
    r = client.get("/api/data", params={"offset": 5, "limit": 3}).json()
    assert r["offset"] == 5 and len(r["rows"]) == 3 and r["total"] > 1000
    adapter = app.state.models.get("tweets-sentiment")
    probs = adapter.predict_proba([row["input"] for row in r["rows"]])
    for row, p in zip(r["rows"], probs):
        assert row["predicted"] == adapter.class_names[int(p.argmax())]
        assert row["confidence"] == pytest.approx(float(p.max()), abs=1e-5)
        assert row["error"] == (row["predicted"] != row["label"])
    assert client.get("/api/data", params={"limit": 1000}).status_code == 400
    assert client.get("/api/data", params={"model": "digits-cnn"}).status_code == 400


def test_data_view_reads_the_users_parquet_file(app, tmp_path):
    """--data FILE.parquet: the Data view pages the file's rows (a table here) with the model's predictions, and a
    file that is not Parquet is a 400 naming --data."""
    from fastapi.testclient import TestClient

    from lumos.server import create_app

    adapter = app.state.models.get("breast-cancer-mlp")
    frame = _seven_rows(adapter)
    frame.to_parquet(tmp_path / "mine.parquet", index=False)
    served = create_app({"mlp": adapter}, token=TOKEN, data=str(tmp_path / "mine.parquet"))
    with TestClient(served, base_url="http://127.0.0.1:8765", headers={"X-Lumos-Token": TOKEN}) as c:
        page = c.get("/api/data", params={"offset": 4, "limit": 10}).json()
        assert page["name"] == "mine.parquet" and page["total"] == 7 and len(page["rows"]) == 3
        rows = frame.iloc[4:]
        probs = adapter.predict_proba(adapter.split_inputs(rows[list(adapter.feature_names)])[0])
        for row, (_, want), p in zip(page["rows"], rows.iterrows(), probs):
            assert row["input"] == {k: pytest.approx(v) for k, v in want.drop("label").items()}
            assert row["label"] == want["label"] and row["confidence"] == pytest.approx(float(p.max()), abs=1e-5)
            assert row["predicted"] == adapter.class_names[int(p.argmax())]
    (tmp_path / "fake.parquet").write_text("not parquet", encoding="utf-8")
    broken = create_app({"mlp": adapter}, token=TOKEN, data=str(tmp_path / "fake.parquet"))
    with TestClient(broken, base_url="http://127.0.0.1:8765", headers={"X-Lumos-Token": TOKEN}) as c:
        r = c.get("/api/data")
        assert r.status_code == 400 and "'--data' file" in r.json()["error"] and "Parquet" in r.json()["error"]


def _seven_rows(adapter):
    """Seven rows of the breast-cancer test split with their labels by name, as a DataFrame."""
    from lumos.zoo.data import load_labelled

    labelled = load_labelled("breast-cancer", adapter.class_names).head(7)
    frame = labelled.inputs[list(adapter.feature_names)].copy()
    frame["label"] = [adapter.class_names[int(i)] for i in labelled.labels]
    return frame


def test_explain_a_dataset_row_by_index(client):
    """A Data row is explained by its index."""
    page = client.get("/api/data", params={"offset": 0, "limit": 1}).json()
    r = client.post("/api/explain", json={"index": 0, "methods": ["occlusion"]}).json()
    assert r["text"] == page["rows"][0]["input"]


def test_jobs_run_in_the_background_and_can_be_cancelled(client):
    """An evaluate job reports progress and its accuracy; an explain job can be cancelled before it ends."""
    job = client.post("/api/jobs", json={"kind": "evaluate", "n": 200}).json()
    assert job["state"] == "running" and job["total"] == 200
    for _ in range(600):
        j = client.get(f"/api/jobs/{job['id']}").json()
        if j["state"] != "running":
            break
        time.sleep(0.1)
    assert j["state"] == "done" and j["done"] == 200
    rows = [r for off in (0, 100) for r in client.get("/api/data", params={"offset": off, "limit": 100}).json()["rows"]]
    assert j["result"]["n_errors"] == sum(row["error"] for row in rows)
    assert j["result"]["accuracy"] == pytest.approx(1 - j["result"]["n_errors"] / 200)
    # The slice filter pages the rows of a slice the job found: its size, its errors.
    found = j["result"]["slices"][0]
    sliced = client.get("/api/data", params={"slice": 0, "limit": 100}).json()
    assert sliced["total"] == found["size"] and sum(r["error"] for r in sliced["rows"]) == found["errors"]
    errors = client.get("/api/data", params={"errors": True, "limit": 100}).json()
    assert errors["total"] == j["result"]["n_errors"] and all(r["error"] for r in errors["rows"])
    assert client.get("/api/data", params={"slice": 99}).status_code == 400
    long = client.post("/api/jobs", json={"kind": "explain", "method": "occlusion", "n": 400}).json()
    client.delete(f"/api/jobs/{long['id']}")
    for _ in range(200):
        j = client.get(f"/api/jobs/{long['id']}").json()
        if j["state"] != "running":
            break
        time.sleep(0.1)
    assert j["state"] == "cancelled" and j["done"] < 400
    assert client.get("/api/jobs/job-999").status_code == 404
    assert client.post("/api/jobs", json={"kind": "dance"}).status_code == 400
    assert any(x["id"] == long["id"] for x in client.get("/api/jobs").json()["jobs"])


def _events(lines) -> list[dict]:
    """The ``job`` events of a Server-Sent Events stream, parsed from its lines."""
    import json

    events, name = [], None
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and name == "job":
            events.append(json.loads(line.split(":", 1)[1]))
    return events


def test_job_progress_streams_as_server_sent_events(client):
    """GET /api/jobs/{id}/events streams the job's progress (token in the query, as EventSource sends it) rising
    to done, and ends with the finished job; a cancelled job's stream ends with 'cancelled'."""
    from fastapi.testclient import TestClient

    bare = TestClient(client.app, base_url="http://127.0.0.1:8765")
    job = client.post("/api/jobs", json={"kind": "explain", "method": "occlusion", "n": 16}).json()
    assert bare.get(f"/api/jobs/{job['id']}/events").status_code == 401
    with bare.stream("GET", f"/api/jobs/{job['id']}/events", params={"token": TOKEN}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.iter_lines())
    done = [e["done"] for e in events]
    assert events[0]["state"] == "running" and len(events) >= 2
    assert done == sorted(done) and len(set(done)) == len(done)  # one event per change, never backwards
    assert events[-1]["state"] == "done" and done[-1] == 16 and events[-1]["result"]["n"] == 16
    assert all(e["state"] == "running" for e in events[:-1])
    assert events[-1]["result"] == client.get(f"/api/jobs/{job['id']}").json()["result"]
    long = client.post("/api/jobs", json={"kind": "explain", "method": "occlusion", "n": 400}).json()
    client.delete(f"/api/jobs/{long['id']}")
    with client.stream("GET", f"/api/jobs/{long['id']}/events") as r:
        events = _events(r.iter_lines())
    assert events[-1]["state"] == "cancelled" and events[-1]["done"] < 400
    assert client.get("/api/jobs/job-999/events").status_code == 404


def test_an_open_event_stream_does_not_hold_the_work_queue(live_server):
    """While a job's event stream is open on the real server, an explain request is answered, and the stream then
    runs to the job's end."""
    import httpx

    with httpx.Client(base_url=live_server, headers={"X-Lumos-Token": TOKEN}, timeout=120) as http:
        job = http.post("/api/jobs", json={"kind": "explain", "method": "occlusion", "n": 16}).json()
        with httpx.stream("GET", f"{live_server}/api/jobs/{job['id']}/events", params={"token": TOKEN},
                          timeout=120) as stream:
            lines = stream.iter_lines()
            first = _events([next(lines), next(lines)])[0]
            assert first["state"] == "running"
            r = http.post("/api/explain", json={"text": TEXT, "methods": ["occlusion"]})
            assert r.status_code == 200 and r.json()["text"] == TEXT
            events = _events(lines)
    assert events[-1]["state"] == "done" and events[-1]["done"] == 16


def test_feedback_is_stored_in_the_store(client, explained, store_path):
    """Marks on an explanation's pieces land in the SQLite store, read back by a fresh FeedbackStore."""
    from lumos.feedback import FeedbackStore

    ig = explained["methods"][0]
    saved = client.post("/api/feedback", json={"explanation": ig["id"], "irrelevant": [0], "rating": 2}).json()
    record = FeedbackStore(store_path).get(saved["id"])
    assert record.irrelevant == (0,) and record.rating == 2 and record.text == TEXT
    assert record.method == "integrated_gradients"
    listed = client.get("/api/feedback").json()
    assert any(r["id"] == saved["id"] for r in listed["records"])
    assert client.post("/api/feedback", json={"explanation": ig["id"]}).status_code == 400
    assert client.post("/api/feedback", json={"explanation": ig["id"], "irrelevant": [99]}).status_code == 400
    assert client.post("/api/feedback", json={"explanation": "nope", "irrelevant": [0]}).status_code == 404


def test_image_regions_are_stored_as_their_pixels(client, store_path):
    """An image explanation lists its regions (the image masker's segments, a 4 x 4 grid for 8 x 8 digits); marked
    regions are stored as the pixels they cover, for a pixel method and for occlusion (whose features they are)."""
    from lumos.feedback import FeedbackStore
    from lumos.maskers.image import segment

    r = client.post("/api/explain/image", files={"image": ("x.png", _png(), "image/png")},
                    data={"model": "digits-cnn", "methods": "grad_cam,occlusion"}).json()
    cells = segment(np.zeros((8, 8, 1)), "grid", grid=4).reshape(-1)
    for m in r["methods"]:
        regions = m["regions"]
        assert (regions["height"], regions["width"], regions["n"]) == (8, 8, 16)
        assert regions["labels"] == cells.tolist()
        saved = client.post("/api/feedback", json={"explanation": m["id"], "irrelevant_regions": [0, 5],
                                                   "relevant_regions": [15]})
        assert saved.status_code == 200, saved.text
        record = FeedbackStore(store_path).get(saved.json()["id"])
        assert record.kind == "image" and record.features.shape == (8, 8) and record.method == m["method"]
        assert record.irrelevant == tuple(np.flatnonzero(np.isin(cells, [0, 5])))
        assert record.relevant == tuple(np.flatnonzero(cells == 15))
    occlusion = r["methods"][1]
    record = FeedbackStore(store_path).get(saved.json()["id"])  # occlusion's values spread over its cells' pixels
    assert all(np.ptp(record.values[cells == c]) == 0 for c in range(16))
    assert record.values.sum() == pytest.approx(4 * occlusion["sum"])  # each cell covers 4 pixels
    bad = client.post("/api/feedback", json={"explanation": occlusion["id"], "irrelevant_regions": [16]})
    assert bad.status_code == 400 and "regions 0..15" in bad.json()["error"]
    text = client.post("/api/explain", json={"text": TEXT, "methods": ["occlusion"]}).json()["methods"][0]
    bad = client.post("/api/feedback", json={"explanation": text["id"], "irrelevant_regions": [0]})
    assert bad.status_code == 400 and "not of an image" in bad.json()["error"]


def test_token_is_required(client):
    """No token: 401; a wrong token: 403; the token as a query parameter works."""
    assert client.get("/api/models", headers={"X-Lumos-Token": ""}).status_code == 401
    from fastapi.testclient import TestClient

    bare = TestClient(client.app, base_url="http://127.0.0.1:8765")
    assert bare.get("/api/models").status_code == 401
    assert bare.get("/api/models", headers={"X-Lumos-Token": "wrong"}).status_code == 403
    assert bare.get("/api/models", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert bare.get("/api/models", params={"token": TOKEN}).status_code == 200
    assert bare.get("/api/openapi.json", params={"token": TOKEN}).json()["info"]["title"] == "lumos"


@pytest.mark.parametrize("host, status", [("evil.example:8765", 400), ("127.0.0.1.nip.io", 400),
                                          ("localhost:8765", 200), ("[::1]:8765", 200)])
def test_host_header_is_checked(client, host, status):
    """A Host header that does not name this machine (DNS rebinding) gets 400, on the API and the page."""
    assert client.get("/api/models", headers={"Host": host}).status_code == status
    assert client.get("/", headers={"Host": host}).status_code == status


def test_page_has_a_strict_csp_and_no_cdn(client):
    """The page and its assets carry a CSP without inline scripts or remote origins, and load nothing remote."""
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "http" not in csp
    assert "<script>" not in r.text and "http" not in r.text.replace('http-equiv', '')
    for name in ("app.js", "api.js", "style.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and "://" not in asset.text
        assert "innerHTML" not in asset.text
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/docs").status_code == 404


def test_full_work_queue_answers_503(client, app):
    """When the work queue holds its maximum of waiting calls, an explain request gets 503 at once."""
    import threading

    work = app.state.work
    gate = threading.Event()
    held = [work.submit(gate.wait)]
    try:
        time.sleep(0.05)
        while True:
            try:
                held.append(work.submit(lambda: None))
            except Exception:
                break
        r = client.post("/api/explain", json={"text": TEXT, "methods": ["occlusion"]})
        assert r.status_code == 503 and "work queue is full" in r.json()["error"]
    finally:
        gate.set()
    assert all(f.result(timeout=10) in (None, True) for f in held)
    assert client.post("/api/explain", json={"text": TEXT, "methods": ["occlusion"]}).status_code == 200


def test_retrain_on_feedback_runs_as_a_job_and_serves_the_new_version(client, explained):
    """Feedback in the store, a retraining job (head only) finishes and its model is served beside the parent."""
    ig = explained["methods"][0]
    client.post("/api/feedback", json={"explanation": ig["id"], "irrelevant": [0, 2], "label": "negative"})
    job = client.post("/api/retrain", json={"epochs": 1, "n": 64}).json()
    for _ in range(600):
        j = client.get(f"/api/jobs/{job['id']}").json()
        if j["state"] != "running":
            break
        time.sleep(0.2)
    assert j["state"] == "done", j
    card = j["result"]["card"]
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert card["parent_model_id"] == models["tweets-sentiment"]["model_id"]
    assert card["model_id"] != card["parent_model_id"] and card["feedback_ids"]
    names = list(models)
    assert j["result"]["model"] in names
    r = client.post("/api/explain", json={"model": j["result"]["model"], "text": TEXT, "methods": ["occlusion"]})
    assert r.status_code == 200
    assert client.post("/api/retrain", json={"epochs": 0}).status_code == 400


def test_table_row_is_explained_per_column(client, app):
    """A table row (column -> number) is explained per column; IG's columns sum to f(x) - f(baseline) + delta;
    a missing column or a non-number is a 400 naming it."""
    page = client.get("/api/data", params={"model": "breast-cancer-mlp", "offset": 0, "limit": 1}).json()
    row = {k: v for k, v in page["rows"][0]["input"].items() if k != "label"}
    adapter = app.state.models.get("breast-cancer-mlp")
    row = {k: row[k] for k in adapter.feature_names}
    r = client.post("/api/explain", json={"model": "breast-cancer-mlp", "row": row, "methods": ["ig", "occlusion"]})
    assert r.status_code == 200, r.text
    ig = r.json()["methods"][0]
    assert ig["pieces"]["labels"] == list(adapter.feature_names)
    gap = ig["output_value"] - ig["base_value"]
    assert abs(sum(ig["pieces"]["values"]) - gap - ig["delta"]) < 1e-4 * max(1.0, abs(gap))
    missing = dict(row)
    missing.pop("mean radius")
    r = client.post("/api/explain", json={"model": "breast-cancer-mlp", "row": missing, "methods": ["occlusion"]})
    assert r.status_code == 400 and "mean radius" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "breast-cancer-mlp", "row": {**row, "mean radius": "big"},
                                          "methods": ["occlusion"]})
    assert r.status_code == 400 and "numbers" in r.json()["error"]
    r = client.post("/api/explain", json={"model": "breast-cancer-mlp", "text": "hello", "methods": ["occlusion"]})
    assert r.status_code == 400 and "reads tables" in r.json()["error"]


def test_page_and_api_work_under_a_proxy_prefix(app):
    """Served under a path prefix (--base-url, the ASGI root path), the page, its assets and the API answer there."""
    from fastapi.testclient import TestClient

    prefixed = TestClient(app, base_url="http://127.0.0.1:8765", root_path="/lumos", headers={"X-Lumos-Token": TOKEN})
    assert prefixed.get("/lumos/").status_code == 200
    assert prefixed.get("/lumos/static/app.js").status_code == 200
    assert prefixed.get("/lumos/api/models").status_code == 200
