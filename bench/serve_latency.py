"""`lumos serve` latency: start to ready (model cached), the first IG explanation of a 12-word sentence visible in
the browser after the click, and 20 concurrent clients x 10 occlusion requests (p50 / p95 latency, requests per
second) against one client's latency. Appends a section to bench/RESULTS.md.

    python bench/serve_latency.py [--clients 20] [--requests 10] [--no-write]

Goals (issue 17): ready <= 5 s; first IG visible <= 1 s after the click; 20-client p95 within 2x of the
single-client latency times the queue depth (the clients in flight).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
SENTENCE = "the flight was delayed again and the crew never told us why at all"  # 12 words
SHORT = ["late again", "great crew", "lost my bag", "thanks so much", "delayed two hours", "rude agent",
         "smooth flight", "no wifi", "friendly staff", "cancelled flight"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    """Start `lumos serve` and wait until the API answers: the process and the seconds it took."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lumos.cli", "serve", "--port", str(port), "--token", TOKEN],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    if "ready at" not in line:
        proc.kill()
        raise RuntimeError(f"lumos serve did not start: {line}{proc.stdout.read()}")
    httpx.get(f"http://127.0.0.1:{port}/api/models", headers={"X-Lumos-Token": TOKEN}).raise_for_status()
    return proc, time.perf_counter() - t0


def import_floor() -> float:
    """Seconds for a fresh process to import what the server needs (lumos with torch and transformers, fastapi,
    uvicorn) and exit: the part of start-to-ready that is not loading the model or serving."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import lumos.cli, fastapi, uvicorn"], cwd=ROOT, check=True)
    return time.perf_counter() - t0


def browser_first_ig(base: str) -> tuple[float, float]:
    """Seconds from the click on Explain to the IG highlights on the page (first and a repeat)."""
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/?token={TOKEN}")
        page.wait_for_selector("body[data-ready='1']")
        for box in page.query_selector_all("#explain-methods input"):
            box.set_checked(box.get_attribute("value") == "integrated_gradients")
        page.fill("#explain-text", SENTENCE)
        for _ in range(2):
            page.evaluate("() => document.getElementById('explain-results').replaceChildren()")
            t0 = time.perf_counter()
            page.click("#explain-go")
            page.wait_for_selector(".method-card[data-method='integrated_gradients'] .tok")
            times.append(time.perf_counter() - t0)
        browser.close()
    return times[0], times[1]


def load(base: str, clients: int, requests: int) -> dict:
    def one(k: int) -> list[tuple[float, int]]:
        out = []
        with httpx.Client(base_url=base, headers={"X-Lumos-Token": TOKEN}, timeout=300) as http:
            for i in range(requests):
                t0 = time.perf_counter()
                r = http.post("/api/explain", json={"text": SHORT[(k + i) % len(SHORT)], "methods": ["occlusion"]})
                out.append((time.perf_counter() - t0, r.status_code))
        return out

    single = [t for t, _ in one(0) + one(1)]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        rows = [r for part in pool.map(one, range(clients)) for r in part]
    wall = time.perf_counter() - t0
    lat = sorted(t for t, _ in rows)
    return {"single_p50": statistics.median(single), "p50": statistics.median(lat),
            "p95": lat[int(0.95 * (len(lat) - 1))], "rps": len(rows) / wall, "n": len(rows),
            "errors": sum(s != 200 for _, s in rows), "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load_before = os.getloadavg()[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    floor = import_floor()
    proc, ready = start_server(port)
    try:
        first, repeat = browser_first_ig(base)
        res = load(base, args.clients, args.requests)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    bound = 2 * res["single_p50"] * args.clients
    lines = [
        f"| start to ready (model cached) | {ready:.2f} s (of which importing lumos, torch, transformers, fastapi: "
        f"{floor:.2f} s in a bare process) | <= 5 s | {'met' if ready <= 5 else 'missed'} |",
        f"| first IG of a 12-word sentence visible after the click | {first:.2f} s (repeat {repeat:.2f} s) | <= 1 s | "
        f"{'met' if first <= 1 else 'missed'} |",
        f"| single-client occlusion latency (p50) | {1000 * res['single_p50']:.0f} ms | | |",
        f"| {args.clients} clients x {args.requests} occlusion requests | p50 {1000 * res['p50']:.0f} ms, p95 "
        f"{1000 * res['p95']:.0f} ms, {res['rps']:.1f} req/s, {res['errors']} errors of {res['n']} | p95 <= 2 x "
        f"single x {args.clients} = {1000 * bound:.0f} ms | {'met' if res['p95'] <= bound else 'missed'} |",
    ]
    print("\n".join(lines))
    if not args.no_write:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = ["", f"## `lumos serve` latency (bench/serve_latency.py, {stamp})", "",
                   f"{os.cpu_count()} cores shared with other work: load average {load_before:.1f} at the start, "
                   f"{os.getloadavg()[0]:.1f} at the end (timings on a loaded machine are upper bounds).", "",
                   "| measure | result | goal | |", "| --- | --- | --- | --- |", *lines, ""]
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n".join(section))


if __name__ == "__main__":
    main()
