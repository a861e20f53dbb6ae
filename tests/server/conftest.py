"""One server for all the server tests (loading models is the dear part): the app, a test client on it, and the
same app served for real by uvicorn on a free port of 127.0.0.1 (for the browser and load tests)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time

import pytest

TOKEN = "test-token-0123456789"
MODELS = ["tweets-sentiment", "tweets-sentiment@int8", "digits-cnn", "breast-cancer-mlp"]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("serve") / "feedback.sqlite"


@pytest.fixture(scope="session")
def app(store_path):
    pytest.importorskip("fastapi")
    from lumos.server import create_app

    return create_app(MODELS, token=TOKEN, store=store_path)


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"X-Lumos-Token": TOKEN}) as c:
        yield c


@contextlib.contextmanager
def serving(app):
    """``app`` served by uvicorn on 127.0.0.1 at a free port, in a thread: its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app served for real on 127.0.0.1."""
    with serving(app) as url:
        yield url


def launch_chromium(playwright):
    """Debian's chromium, headless, without the sandbox (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])


@pytest.fixture(scope="session")
def shots(tmp_path_factory):
    """Where screenshots go: ``$LUMOS_SCREENSHOTS`` or a temporary directory (test artifacts)."""
    import os
    from pathlib import Path

    where = os.environ.get("LUMOS_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
