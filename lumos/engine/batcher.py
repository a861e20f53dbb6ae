"""The batcher: the in-process executor through which every perturbation's model call goes.

It packs model inputs from one example or many into batches of rows of similar size (so dynamic padding
wastes little), runs them without autograd, applies the readout where the outputs are produced (so only the
explained numbers are kept), and counts evaluations and time. A row asked for twice in one call (same content,
same readout) is run once; with ``memo=True`` the batcher also remembers every output across calls, so that
metrics sharing it never pay twice for the same forward. Methods and metrics receive one (their
``executor=`` parameter) rather than build their own, so another engine can take its place.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..errors import check_int
from .batching import batches_by_size
from .progress import track

if TYPE_CHECKING:
    from ..models.base import ModelAdapter
    from ..readout import Readout

__all__ = ["Batcher"]


class Batcher:
    """Run many model inputs through an adapter in full batches.

    Parameters
    ----------
    adapter : ModelAdapter
    batch_size : int, default 64
        Rows per forward pass.
    progress : bool or None
        Progress over batches (see :func:`lumos.engine.progress.track`).
    memo : bool, default False
        Remember the output of every row (token-id arrays and texts, keyed by their content and readout) across
        calls, and answer a row seen before without running the model. Only for a model that does not change
        while the batcher lives (a method re-run on a model randomized in place must not share one).

    Attributes
    ----------
    n_evals : int
        Rows run so far (rows answered from the memo or repeated within a call are not run, nor counted);
        ``seconds`` the time spent in the model; ``n_reused`` the rows answered without running the model.
    """

    def __init__(self, adapter: "ModelAdapter", *, batch_size: int = 64, progress: bool | None = None,
                 memo: bool = False) -> None:
        self.adapter = adapter
        self.batch_size = check_int(batch_size, "batch_size", owner="Batcher", minimum=1)
        self.progress = progress
        self.memo = bool(memo)
        self._memo: dict[Any, Any] = {}
        self.n_evals = 0
        self.n_reused = 0
        self.seconds = 0.0

    def for_adapter(self, adapter: "ModelAdapter") -> "Batcher":
        """A new batcher with the same settings for another adapter (its counts start at zero, its memo empty)."""
        return Batcher(adapter, batch_size=self.batch_size, progress=self.progress, memo=self.memo)

    def run(self, rows: Sequence[Any], *, readout: "Readout | None" = None,
            description: str = "Model evaluations") -> np.ndarray:
        """The outputs of ``rows``, in their order: raw outputs (len(rows), n_outputs) as float64, or with a
        ``readout`` (per row, or one for all) the explained values (len(rows),), of which only these are kept, or
        (len(rows), K) for a readout with K values per row (every generated token of a sequence)."""
        t0 = time.perf_counter()
        keys = _row_keys(rows, readout)
        if keys is None:  # rows of a kind not keyed by content: every row runs
            out = self._forward(rows, readout, description, len(rows))
            self.n_evals += len(rows)
            self.seconds += time.perf_counter() - t0
            return out
        first: dict[Any, int] = {}
        todo: list[int] = []
        for i, key in enumerate(keys):
            if key not in first and key not in self._memo:
                first[key] = i
                todo.append(i)
        fresh = self._forward([rows[i] for i in todo], readout.take(todo) if readout is not None else None,
                              description, len(todo))
        found = {keys[i]: fresh[j] for j, i in enumerate(todo)}
        if self.memo:
            self._memo.update(found)
        trailing = fresh.shape[1:] if todo or not keys else np.shape(self._memo[keys[0]])
        out = np.empty((len(rows), *trailing), dtype=np.float64)
        for i, key in enumerate(keys):
            out[i] = found[key] if key in found else self._memo[key]
        self.n_evals += len(todo)
        self.n_reused += len(rows) - len(todo)
        self.seconds += time.perf_counter() - t0
        return out

    def _forward(self, rows: Sequence[Any], readout: "Readout | None", description: str, n: int) -> np.ndarray:
        """Run ``rows`` through the adapter in batches of rows of similar size; outputs in the rows' order."""
        out: np.ndarray | None = None
        batches = list(batches_by_size(rows, self.batch_size, self.adapter.size))
        for idx in track(batches, description=description, enabled=self.progress):
            part = self.adapter.predict([rows[i] for i in idx], batch_size=len(idx),
                                        readout=readout.take(idx) if readout is not None else None)
            if out is None:
                out = np.empty((n, *part.shape[1:]), dtype=np.float64)
            out[idx] = part
        if out is None:
            out = np.empty((0,) if readout is not None else (0, self.adapter.n_classes), dtype=np.float64)
        return out


def _row_keys(rows: Sequence[Any], readout: "Readout | None") -> list[Any] | None:
    """A hashable key per row, from its content and its readout (target, contrast, position), or None when the
    rows are not all token-id arrays or texts (other kinds run as they are)."""
    keys: list[Any] = []
    for row in rows:
        if isinstance(row, np.ndarray) and row.dtype.kind in "iub":
            keys.append((row.dtype.str, row.shape, row.tobytes()))
        elif isinstance(row, str):
            keys.append(row)
        else:
            return None
    if readout is None:
        return keys
    import torch

    fields = []
    for value in (readout.target, readout.contrast, readout.position):
        if value is None or isinstance(value, int):
            fields.append(lambda i, v=value: v)
        else:
            array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            fields.append(lambda i, a=array: a[i].tobytes() if a.ndim > 1 else int(a[i]))
    return [(key, readout.quantity, *(f(i) for f in fields)) for i, key in enumerate(keys)]
