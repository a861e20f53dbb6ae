"""The batcher: the in-process executor through which every perturbation's model call goes.

It packs model inputs from one example or many into batches of rows of similar size (so dynamic padding
wastes little), runs them without autograd, applies the readout where the outputs are produced (so only the
explained numbers are kept), and counts evaluations and time. Methods and metrics receive one (their
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
        Progress bar over batches (None: only in a terminal, for more than one batch).

    Attributes
    ----------
    n_evals : int
        Rows run so far; ``seconds`` the time spent in the model.
    """

    def __init__(self, adapter: "ModelAdapter", *, batch_size: int = 64, progress: bool | None = None) -> None:
        self.adapter = adapter
        self.batch_size = check_int(batch_size, "batch_size", owner="Batcher", minimum=1)
        self.progress = progress
        self.n_evals = 0
        self.seconds = 0.0

    def for_adapter(self, adapter: "ModelAdapter") -> "Batcher":
        """A new batcher with the same settings for another adapter (its counts start at zero)."""
        return Batcher(adapter, batch_size=self.batch_size, progress=self.progress)

    def run(self, rows: Sequence[Any], *, readout: "Readout | None" = None,
            description: str = "Model evaluations") -> np.ndarray:
        """The outputs of ``rows``, in their order: raw outputs (len(rows), n_outputs) as float64, or with a
        ``readout`` (per row, or one for all) the explained values (len(rows),), of which only these are kept, or
        (len(rows), K) for a readout with K values per row (every generated token of a sequence)."""
        t0 = time.perf_counter()
        out: np.ndarray | None = None
        batches = list(batches_by_size(rows, self.batch_size, self.adapter.size))
        for idx in track(batches, description=description, enabled=self.progress):
            part = self.adapter.predict([rows[i] for i in idx], batch_size=len(idx),
                                        readout=readout.take(idx) if readout is not None else None)
            if out is None:
                out = np.empty((len(rows), *part.shape[1:]), dtype=np.float64)
            out[idx] = part
        if out is None:
            out = np.empty((0,) if readout is not None else (0, self.adapter.n_classes), dtype=np.float64)
        self.n_evals += len(rows)
        self.seconds += time.perf_counter() - t0
        return out
