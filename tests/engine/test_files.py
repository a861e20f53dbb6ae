"""Atomic writes: the target appears complete or not at all."""

from __future__ import annotations

import pytest

from lumos.engine.files import atomic_path, write_text_atomic


def test_write_replaces_the_file_whole(tmp_path):
    """A write replaces the previous content and leaves no temporary file behind."""
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    """An error inside the block (a killed or failed writer) keeps the previous file and removes the partial one."""
    target = tmp_path / "model.safetensors"
    target.write_text("complete")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
    fresh = tmp_path / "new.html"
    with pytest.raises(RuntimeError):
        with atomic_path(fresh) as tmp:
            raise RuntimeError("failed before writing")
    assert not fresh.exists()
