"""Fixtures shared by the whole suite: the zoo text classifier, a few held-out tweets, and the hook counter."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import lumos


@pytest.fixture(scope="session")
def tweets_model():
    """The zoo's tweets-sentiment classifier (MiniLM + mean pooling + linear head) as an adapter."""
    return lumos.zoo.load("tweets-sentiment")


@pytest.fixture(scope="session")
def held_out_tweets() -> list[str]:
    """Five test-split tweets (never seen by the head in training) spread from short to long."""
    texts = sorted(lumos.zoo.dataset("airline-tweets").test.texts[:50], key=len)
    picks = [texts[i] for i in (0, 12, 25, 37, 49)]
    assert len({len(t) for t in picks}) == len(picks)  # different lengths, so batches need padding
    return picks


@pytest.fixture(scope="session")
def hook_counts():
    """The hook counter of tests/test_hooks.py, loaded by path (an unrelated 'tests' package may be installed)."""
    spec = importlib.util.spec_from_file_location("_lumos_test_hooks", Path(__file__).parent / "test_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.hook_counts
