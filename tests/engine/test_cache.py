"""The result cache (backbone features, outputs): computed once per key, verified on every read, rebuilt when
corrupt or foreign."""

from __future__ import annotations

import torch

from lumos.engine.cache import cache_file, cached_tensors


def _compute(calls):
    def compute():
        calls.append(1)
        return {"train": torch.arange(12, dtype=torch.float32).reshape(4, 3), "test": torch.ones(2, 3)}
    return compute


def test_features_are_computed_once_then_read(tmp_path):
    """The second call with the same key reads the stored features (equal tensors) without computing them."""
    calls = []
    key = {"model": "sha256:abc", "data": "sha256:def"}
    first, computed = cached_tensors(tmp_path, key, _compute(calls))
    second, again = cached_tensors(tmp_path, key, _compute(calls))
    assert computed and not again and len(calls) == 1
    assert torch.equal(first["train"], second["train"]) and torch.equal(first["test"], second["test"])


def test_corrupt_or_foreign_features_are_rebuilt(tmp_path):
    """A stored file whose bytes no longer match its checksum is computed again; another key has its own file."""
    calls = []
    key = {"model": "sha256:abc", "data": "sha256:def"}
    cached_tensors(tmp_path, key, _compute(calls))
    path = cache_file(tmp_path, key)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # flip bits of the last tensor's data
    path.write_bytes(bytes(raw))
    features, computed = cached_tensors(tmp_path, key, _compute(calls))
    assert computed and torch.equal(features["test"], torch.ones(2, 3))
    other = {"model": "sha256:abc", "data": "sha256:other"}
    assert cache_file(tmp_path, other) != path
    _, computed = cached_tensors(tmp_path, other, _compute(calls))
    assert computed and len(calls) == 3
    path.with_name(path.name + ".json").unlink()  # a file without its checksum is not trusted
    _, computed = cached_tensors(tmp_path, key, _compute(calls))
    assert computed and len(calls) == 4
