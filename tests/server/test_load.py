"""Load on the real server: 20 concurrent clients x 10 occlusion explanations of short texts, every response
arrives and is right."""

from __future__ import annotations

import concurrent.futures as cf

import httpx

from .conftest import TOKEN

TEXTS = ["late again", "great crew", "lost my bag", "thanks so much", "delayed two hours", "rude agent",
         "smooth flight", "no wifi", "friendly staff", "cancelled flight"]


def test_twenty_clients_ten_requests_each(live_server, client):
    """200 requests from 20 concurrent clients: no errors, no lost responses, each answer is its own text's."""
    expected = {t: client.post("/api/explain", json={"text": t, "methods": ["occlusion"]}).json()["methods"][0]
                ["words"]["values"] for t in TEXTS}

    def one_client(k: int) -> list[tuple[str, int, dict]]:
        out = []
        with httpx.Client(base_url=live_server, headers={"X-Lumos-Token": TOKEN}, timeout=120) as http:
            for i in range(10):
                text = TEXTS[(k + i) % len(TEXTS)]
                r = http.post("/api/explain", json={"text": text, "methods": ["occlusion"]})
                out.append((text, r.status_code, r.json()))
        return out

    with cf.ThreadPoolExecutor(20) as pool:
        results = [r for rows in pool.map(one_client, range(20)) for r in rows]
    assert len(results) == 200
    assert [s for _, s, _ in results].count(200) == 200, {s for _, s, _ in results}
    for text, _, body in results:
        assert body["text"] == text
        values = body["methods"][0]["words"]["values"]
        assert max(abs(a - b) for a, b in zip(values, expected[text])) < 1e-4
