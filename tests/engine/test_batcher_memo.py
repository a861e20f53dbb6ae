"""The Batcher never pays twice for the same forward: repeated rows run once, and a memo batcher remembers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from lumos.engine import Batcher
from lumos.models import ModelAdapter
from lumos.readout import Readout


class CountingAdapter(ModelAdapter):
    """Scores a token-id row by (sum, length) as logits and records every row it runs."""

    class_names = ("sum", "length")

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def split_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        return list(inputs), False

    def size(self, example: np.ndarray) -> int:
        return len(example)

    def outputs(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        self.seen.extend(r.tobytes() for r in rows)
        return np.array([[float(np.sum(r)), float(len(r))] for r in rows])


def _rows() -> list[np.ndarray]:
    base = [np.array([1, 2, 3]), np.array([4, 5]), np.array([1, 2, 3]), np.array([7]), np.array([4, 5])]
    return base * 3


def test_repeated_rows_run_once_with_the_same_outputs():
    """Rows repeated within a call are run once; every row still gets exactly its own output, in order."""
    adapter = CountingAdapter()
    batcher = Batcher(adapter, batch_size=2)
    rows = _rows()
    out = batcher.run(rows)
    np.testing.assert_array_equal(out, [[r.sum(), len(r)] for r in rows])
    assert len(adapter.seen) == 3 == batcher.n_evals and batcher.n_reused == len(rows) - 3


def test_rows_with_different_readouts_are_not_merged():
    """The same row read for two different targets is two evaluations, each with its own value."""
    adapter = CountingAdapter()
    rows = [np.array([1, 2, 3])] * 4
    targets = np.array([0, 1, 0, 1])
    out = Batcher(adapter).run(rows, readout=Readout(targets, "logit"))
    np.testing.assert_array_equal(out, [6.0, 3.0, 6.0, 3.0])
    assert len(adapter.seen) == 2


def test_memo_remembers_across_calls_only_when_asked():
    """A memo batcher answers rows seen in an earlier call without the model; a plain one runs them again."""
    rows = _rows()
    plain, memo = CountingAdapter(), CountingAdapter()
    for adapter, flag in ((plain, False), (memo, True)):
        batcher = Batcher(adapter, memo=flag)
        first = batcher.run(rows, readout=Readout(0, "logit"))
        second = batcher.run(rows[:2] + [np.array([9, 9])], readout=Readout(0, "logit"))
        np.testing.assert_array_equal(first, [r.sum() for r in rows])
        np.testing.assert_array_equal(second, [6.0, 9.0, 18.0])
    assert len(plain.seen) == 3 + 3 and len(memo.seen) == 3 + 1
