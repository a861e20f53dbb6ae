"""The hook counter of tests/test_hooks.py, loaded by path (an unrelated 'tests' package may be installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hook_counts():
    spec = importlib.util.spec_from_file_location("_lumos_test_hooks", Path(__file__).parents[1] / "test_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.hook_counts
