"""The batcher: every perturbation's model call goes through it.

It packs model inputs from one example or many into batches of rows of similar size (so dynamic padding
wastes little), runs them without autograd, and counts evaluations and time.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ..errors import check_int
from ..models.base import ModelAdapter
from .progress import track

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

    def __init__(self, adapter: ModelAdapter, *, batch_size: int = 64, progress: bool | None = None) -> None:
        self.adapter = adapter
        self.batch_size = check_int(batch_size, "batch_size", owner="Batcher", minimum=1)
        self.progress = progress
        self.n_evals = 0
        self.seconds = 0.0

    def run(self, rows: Sequence[Any], *, description: str = "Model evaluations") -> np.ndarray:
        """Raw outputs (len(rows), n_classes), in the order of ``rows``."""
        t0 = time.perf_counter()
        order = sorted(range(len(rows)), key=lambda i: self.adapter.size(rows[i]))
        out = np.empty((len(rows), self.adapter.n_classes), dtype=np.float64)
        starts = range(0, len(order), self.batch_size)
        for start in track(starts, description=description, enabled=self.progress):
            idx = order[start:start + self.batch_size]
            out[idx] = self.adapter.predict([rows[i] for i in idx], batch_size=len(idx))
        self.n_evals += len(rows)
        self.seconds += time.perf_counter() - t0
        return out
