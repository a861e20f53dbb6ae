"""A cache of deterministic results on disk, keyed by what they depend on, verified on every read.

Backbone features that heads train on, a model's outputs on a dataset, explanations: each is a pure function of
the model's weights (its id), the inputs (their ids) and settings, so it is computed once and stored under a name
derived from that key, with a sidecar JSON holding the key and the file's SHA-256. A read checks both and never
trusts a file blindly: a missing, corrupt (checksum mismatch, unreadable) or foreign (another key) entry is
computed again and replaced atomically (:mod:`lumos.engine.files`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Mapping

from ..errors import InvalidArgumentError
from .files import atomic_path, write_text_atomic

__all__ = ["cache_file", "read_verified", "write_verified", "cached_tensors"]


def _digest(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def cache_file(directory: str | Path, key: Mapping[str, Any], suffix: str = ".safetensors", prefix: str = "") -> Path:
    """Where the entry of ``key`` is stored under ``directory``: ``<prefix><digest of key><suffix>``."""
    return Path(directory) / f"{prefix}{_digest(key)}{suffix}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_verified(path: str | Path, key: Mapping[str, Any]) -> Path | None:
    """``path`` if it exists, was written for ``key`` and still has the checksum recorded then; else None."""
    path = Path(path)
    try:
        meta = json.loads(_sidecar(path).read_text())
        if meta.get("key") != json.loads(json.dumps(key)) or meta.get("sha256") != _sha256(path):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return path


def write_verified(path: str | Path, key: Mapping[str, Any], write: Callable[[Path], None]) -> Path:
    """Write an entry: ``write(tmp)`` fills a temporary file, renamed to ``path``, then the sidecar (key and
    checksum) is written; an entry without its sidecar is never read back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        write(tmp)
    write_text_atomic(_sidecar(path), json.dumps({"key": key, "sha256": _sha256(path)}, indent=2))
    return path


def cached_tensors(directory: str | Path, key: Mapping[str, Any], compute: Callable[[], Mapping[str, Any]], *,
                   on_compute: Callable[[], None] | None = None, prefix: str = "") -> tuple[dict[str, Any], bool]:
    """Tensors (by name) of ``key``: read from ``directory`` when a verified copy is there, else ``compute()``d and
    stored as safetensors. Returns ``(tensors, computed)``.

    Parameters
    ----------
    directory : path
        Created when needed.
    key : mapping of JSON values
        Everything the result depends on: the model's id (its weights hash), the data's id, settings.
    compute : callable
        Returns the tensors by name (torch tensors).
    on_compute : callable, optional
        Called before ``compute`` (to tell the user that work is starting).
    prefix : str
        Prefix of the file name (what the entry is, for people looking at the directory).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    if not isinstance(key, Mapping) or not key:
        raise InvalidArgumentError(f"The 'key' parameter of cached_tensors must be a non-empty mapping. Got {key!r}.")
    path = cache_file(directory, key, prefix=prefix)
    if read_verified(path, key) is not None:
        try:
            return load_file(str(path)), False
        except (OSError, SafetensorError):
            pass
    if on_compute is not None:
        on_compute()
    tensors = {name: t.detach().cpu().contiguous() for name, t in compute().items()}
    write_verified(path, key, lambda tmp: save_file(tensors, str(tmp)))
    return tensors, True
