"""Cached backbone features: what a frozen backbone computes for a dataset, computed once and stored.

A head trained on a frozen backbone only needs the backbone's output for each example, so the backbone runs once
per (model, data) pair and the head trains on the stored features. :func:`cached_features` keeps them as
safetensors under a name derived from the key (model id, data id and whatever else changes the features), with a
sidecar JSON holding the key and the file's SHA-256. A read checks both and never trusts the file blindly: a
missing, corrupt (checksum mismatch, unreadable) or foreign (another key) file is computed again and replaced
atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..engine.files import atomic_path, write_text_atomic
from ..errors import InvalidArgumentError

__all__ = ["cached_features", "feature_file"]


def _digest(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def feature_file(directory: str | Path, key: Mapping[str, Any]) -> Path:
    """Where the features of ``key`` are stored under ``directory`` (``features-<digest of key>.safetensors``)."""
    return Path(directory) / f"features-{_digest(key)}.safetensors"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path, key: Mapping[str, Any]) -> dict[str, torch.Tensor] | None:
    """The stored features of ``key`` if the file is there, matches its checksum and was written for ``key``."""
    from safetensors.torch import load_file

    sidecar = path.with_suffix(".json")
    try:
        meta = json.loads(sidecar.read_text())
        if meta.get("key") != json.loads(json.dumps(key)) or meta.get("sha256") != _sha256(path):
            return None
        return load_file(str(path))
    except (OSError, ValueError, KeyError, AttributeError, TypeError, RuntimeError):  # missing or unreadable
        return None


def cached_features(directory: str | Path, key: Mapping[str, Any],
                    compute: Callable[[], Mapping[str, torch.Tensor]], *,
                    on_compute: Callable[[], None] | None = None) -> tuple[dict[str, torch.Tensor], bool]:
    """The features of ``key``: read from ``directory`` when a verified copy is there, else ``compute()``d and
    stored. Returns ``(features, computed)``.

    Parameters
    ----------
    directory : path
        Created when needed.
    key : mapping of JSON values
        Everything the features depend on: at least the backbone's id (its weights hash) and the data's id (the
        corpus hash and split recipe), plus any setting such as pooling or truncation.
    compute : callable
        Returns the features, tensors by name (e.g. one (N, D) tensor per split).
    on_compute : callable, optional
        Called before ``compute`` (to tell the user that work is starting).
    """
    from safetensors.torch import save_file

    if not isinstance(key, Mapping) or not key:
        raise InvalidArgumentError(f"The 'key' parameter of cached_features must be a non-empty mapping. Got {key!r}.")
    path = feature_file(directory, key)
    found = _read(path, key)
    if found is not None:
        return found, False
    if on_compute is not None:
        on_compute()
    features = {name: t.detach().cpu().contiguous() for name, t in compute().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(features, str(tmp))
    write_text_atomic(path.with_suffix(".json"), json.dumps({"key": key, "sha256": _sha256(path)}, indent=2))
    return features, True
