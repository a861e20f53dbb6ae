"""Shared work of the explanation-quality metrics: aligning an explanation with the masker's features,
running masked inputs through the Batcher, rank statistics and confidence intervals."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np
from scipy.stats import rankdata

from ..engine import Batcher
from ..errors import InvalidArgumentError, InvalidTypeError, check_choice
from ..explanation import Explanation, ExplanationSet
from ..maskers import Prepared
from ..models import ModelAdapter

__all__ = ["as_explanations", "aligned_values", "MaskedGame", "spearman", "mean_ci", "example_rng"]


def as_explanations(explanations: Any, owner: str) -> list[Explanation]:
    """A list of Explanations from one Explanation, an ExplanationSet or a sequence of them."""
    if isinstance(explanations, Explanation):
        return [explanations]
    if isinstance(explanations, (ExplanationSet, list, tuple)):
        items = list(explanations)
        if not items:
            raise InvalidArgumentError(f"The 'explanations' parameter of {owner} must hold at least one "
                                       "Explanation. Got none.")
        for i, e in enumerate(items):
            if not isinstance(e, Explanation):
                raise InvalidTypeError(f"The 'explanations' parameter of {owner} must hold Explanations. "
                                       f"Item {i} is a {type(e).__name__}.")
        return items
    raise InvalidTypeError(f"The 'explanations' parameter of {owner} must be an Explanation, an ExplanationSet "
                           f"or a list of Explanations. Got {type(explanations).__name__}.")


def aligned_values(explanation: Explanation, prepared: Prepared, owner: str) -> np.ndarray:
    """The explanation's values, one per feature of the masker (``prepared.labels``).

    An explanation over word pieces (gradient methods) is summed per word when the masker hides words;
    attributions are additive, so a word's value is the sum of its pieces' values.
    """
    if len(explanation.values) == prepared.n_features and (
            explanation.features == prepared.labels or explanation.words is None):
        return np.asarray(explanation.values, dtype=np.float64)
    words, values = explanation.by_word()
    if tuple(words) == tuple(prepared.labels):
        return np.asarray(values, dtype=np.float64)
    raise InvalidArgumentError(
        f"{owner}: the explanation ({explanation.method}) has {len(explanation.values)} features "
        f"{explanation.features[:5]}... that match neither the masker's {prepared.n_features} features "
        f"{prepared.labels[:5]}... nor, summed per word, its words. Use the masker the explanation was made "
        "with (e.g. TextMasker(granularity='tokens') for word pieces).")


def example_rng(seed: int, adapter: ModelAdapter, example: Any, stream: int = 0) -> np.random.Generator:
    """A generator seeded by ``seed``, the example's content and ``stream``: the same draws wherever the
    example stands. Each metric draws from its own stream, so that its draws are independent of the random
    baseline's values (same seed, same example)."""
    digest = hashlib.sha256(adapter.fingerprint(example)).digest()
    return np.random.default_rng([seed, stream, *np.frombuffer(digest, dtype=np.uint32).tolist()])


class MaskedGame:
    """The explained output of many examples on many masks, evaluated together through one Batcher.

    ``add(prepared, masks, target)`` queues masks (True = feature shown) and returns a handle;
    ``run()`` evaluates every queued row in full batches; ``values(handle)`` is then the target's output
    (probability or logit) on each of that call's masks.
    """

    def __init__(self, adapter: ModelAdapter, masker: Any, *, output: str = "probability", batch_size: int = 64,
                 progress: bool | None = None, owner: str = "metric") -> None:
        self.adapter, self.masker = adapter, masker
        self.output = check_choice(output, "output", ("probability", "logit"), owner=owner)
        self.batch_size, self.progress, self.owner = batch_size, progress, owner
        self._rows: list[Any] = []
        self._jobs: list[tuple[int, int, int]] = []  # (first row, n masks, target)
        self._raw: np.ndarray | None = None
        self.n_evals = 0
        self.seconds = 0.0

    def add(self, prepared: Prepared, masks: np.ndarray, target: int) -> int:
        masks = np.asarray(masks, dtype=bool)
        rows = self.masker.apply(prepared, masks)
        self._jobs.append((len(self._rows), len(masks), int(target)))
        self._rows.extend(rows)
        return len(self._jobs) - 1

    def run(self) -> None:
        batcher = Batcher(self.adapter, batch_size=self.batch_size, progress=self.progress)
        self._raw = batcher.run(self._rows, description=self.owner) if self._rows else np.zeros((0, 0))
        self.n_evals, self.seconds = batcher.n_evals, batcher.seconds
        self._rows = []

    def values(self, handle: int) -> np.ndarray:
        if self._raw is None:
            raise RuntimeError("MaskedGame.run() must be called before values().")
        start, m, target = self._jobs[handle]
        k = self.masker.rows_per_mask
        raw = self._raw[start:start + m * k]
        if self.output == "probability":
            if self.adapter.output_kind == "logits":
                z = raw - raw.max(axis=1, keepdims=True)
                raw = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            out = raw[:, target]
        elif self.adapter.output_kind == "logits":
            out = raw[:, target]
        else:
            out = np.log(np.clip(raw[:, target], 1e-12, None))
        return out.reshape(m, k).mean(1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either vector is constant or short."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, int]:
    """Mean, half-width of its ``level`` confidence interval (Student t) and the count, over finite values."""
    from scipy.stats import t

    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan"), 0
    if len(x) == 1:
        return float(x[0]), float("nan"), 1
    half = float(t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return float(x.mean()), half, len(x)
