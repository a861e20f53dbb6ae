"""The Batcher: outputs in the caller's order for any batch size, batches of similar sizes, counted rows."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

import lumos
from lumos.engine import Batcher
from lumos.models import ModelAdapter


class RecordingAdapter(ModelAdapter):
    """Scores a row of numbers by (sum, length) and records the rows of every batch it runs."""

    class_names = ("sum", "length")

    def __init__(self) -> None:
        self.calls: list[list[np.ndarray]] = []

    def split_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        return list(inputs), False

    def size(self, example: np.ndarray) -> int:
        return len(example)

    def outputs(self, rows: Sequence[np.ndarray]) -> np.ndarray:
        self.calls.append(list(rows))
        return np.array([[float(np.sum(r)), float(len(r))] for r in rows])


def mixed_rows(n: int = 23) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.normal(size=rng.integers(1, 12)) for _ in range(n)]


@pytest.mark.parametrize("batch_size", [1, 2, 5, 7, 23, 64])
def test_outputs_follow_the_callers_order(batch_size):
    """Row i of the output is the model's output for rows[i], whatever the batch size and the row lengths."""
    rows = mixed_rows()
    adapter = RecordingAdapter()
    out = Batcher(adapter, batch_size=batch_size).run(rows)
    expected = np.array([[r.sum(), len(r)] for r in rows])
    np.testing.assert_allclose(out, expected, rtol=1e-15, atol=0)
    assert out.shape == (len(rows), 2) and out.dtype == np.float64


@pytest.mark.parametrize("batch_size", [1, 4, 10])
def test_batches_are_full_and_sorted_by_size(batch_size):
    """Every batch but the last holds batch_size rows, each row is run once, and batches take rows in order of
    size, so a batch pads only to rows of similar length."""
    rows = mixed_rows()
    adapter = RecordingAdapter()
    Batcher(adapter, batch_size=batch_size).run(rows)
    sizes = [len(call) for call in adapter.calls]
    assert sizes[:-1] == [batch_size] * (len(sizes) - 1) and 0 < sizes[-1] <= batch_size
    assert sum(sizes) == len(rows)
    lengths = [len(r) for call in adapter.calls for r in call]
    assert lengths == sorted(len(r) for r in rows)


def test_n_evals_counts_rows_across_runs():
    """n_evals is the number of rows run so far, over every call; seconds grows with them."""
    batcher = Batcher(RecordingAdapter(), batch_size=4)
    assert batcher.n_evals == 0 and batcher.seconds == 0.0
    batcher.run(mixed_rows(10))
    batcher.run(mixed_rows(3))
    assert batcher.n_evals == 13
    assert batcher.seconds > 0


def test_no_rows_give_an_empty_result():
    """Running no rows calls no model and returns an empty (0, n_classes) array."""
    adapter = RecordingAdapter()
    out = Batcher(adapter).run([])
    assert out.shape == (0, 2) and adapter.calls == []


def test_bad_batch_size_is_named():
    """A batch size below 1 raises an error naming the parameter."""
    with pytest.raises(lumos.InvalidArgumentError, match="'batch_size' parameter of Batcher must be an int >= 1. Got 0"):
        Batcher(RecordingAdapter(), batch_size=0)


@pytest.mark.slow
def test_zoo_model_rows_of_mixed_lengths(tweets_model):
    """On the zoo model, token-id rows of different lengths give, in order, the logits predict gives them."""
    masker = tweets_model.default_masker()
    rows = []
    for text in ["ok", "@united lost my bag AGAIN!! unbelievably bad service", "thanks!"]:
        p = masker.prepare(text)
        rows += masker.apply(p, np.tril(np.ones((p.n_features, p.n_features), dtype=bool)))
    direct = np.stack([tweets_model.predict([r])[0] for r in rows])
    for batch_size in (3, 64):
        out = Batcher(tweets_model, batch_size=batch_size).run(rows)
        # float32 logits in batches padded to other lengths: 1e-4 is ~100 ulps.
        np.testing.assert_allclose(out, direct, rtol=0, atol=1e-4)
