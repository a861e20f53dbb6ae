"""Shared work of the explanation-quality metrics: aligning an explanation with the masker's features,
running masked inputs through the Batcher, rank statistics and confidence intervals."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..engine import Batcher, example_rng as _content_rng
from ..errors import InvalidArgumentError, InvalidTypeError, check_choice
from ..explanation import Explanation, ExplanationSet
from ..maskers import Prepared
from ..models import ModelAdapter
from ..readout import QUANTITIES, Readout
from ..sequences import Generation

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


def aligned_values(explanation: Explanation, prepared: Prepared, owner: str, masker: Any = None) -> np.ndarray:
    """The explanation's values, one per feature of the masker (``prepared.labels``).

    An explanation over word pieces (gradient methods) is summed per word when the masker hides words;
    attributions are additive, so a word's value is the sum of its pieces' values. An explanation of a
    generation (``prepared.example`` a Generation) gives the attribution of its whole continuation to the
    prompt's features (:meth:`~lumos.maskers.generation.PromptMasker.feature_values`).
    """
    if isinstance(prepared.example, Generation):
        return masker.feature_values(explanation, prepared)
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
    return _content_rng(seed, adapter.fingerprint(example), stream)


class MaskedGame:
    """The explained output of many examples on many masks, evaluated together through one executor.

    ``add(prepared, masks, target)`` queues masks (True = feature shown) and returns a handle;
    ``run()`` evaluates every queued row in full batches, reading only the target's output of each row
    (a per-row :class:`~lumos.readout.Readout`); ``values(handle)`` is then that output (probability or
    logit) on each of that call's masks.

    For a causal language model the examples are Generations and the explained output is the whole
    continuation: the sum of its tokens' readouts (``output``, e.g. log-probability), each token read where
    it stands in the masked row (:meth:`~lumos.maskers.generation.PromptMasker.readout`); ``target`` is not
    used. Each generation's rows run in calls of their own (their readouts have one value per token).

    ``executor`` is the :class:`~lumos.engine.Batcher` (or another engine) that runs the model; by default
    one of ``batch_size`` rows is made. ``n_evals`` and ``seconds`` count this game's rows alone.
    """

    def __init__(self, adapter: ModelAdapter, masker: Any, *, output: str | None = "probability",
                 batch_size: int = 64, progress: bool | None = None, owner: str = "metric",
                 executor: Batcher | None = None) -> None:
        self.adapter, self.masker = adapter, masker
        self.output = metric_output(adapter, output, owner)
        self.owner = owner
        self.executor = executor if executor is not None else Batcher(adapter, batch_size=batch_size,
                                                                      progress=progress)
        self._rows: list[Any] = []
        self._targets: list[int] = []  # one per row
        self._jobs: list[tuple[int, int]] = []  # (first row, n masks)
        self._sequences: list[tuple[int, int, Readout]] = []  # causal LMs: (first row, n rows, readout) per job
        self._values: np.ndarray | None = None
        self.n_evals = 0
        self.seconds = 0.0

    def add(self, prepared: Prepared, masks: np.ndarray, target: int) -> int:
        masks = np.asarray(masks, dtype=bool)
        rows = self.masker.apply(prepared, masks)
        if self.adapter.task == "causal_lm":
            self._sequences.append((len(self._rows), len(rows), self.masker.readout(prepared, rows, self.output)))
            target = -1  # not read: the sequence's own readout is
        self._jobs.append((len(self._rows), len(masks)))
        self._rows.extend(rows)
        self._targets.extend([int(target)] * len(rows))
        return len(self._jobs) - 1

    def run(self) -> None:
        before = (self.executor.n_evals, self.executor.seconds)
        if self._sequences:
            self._values = np.zeros(len(self._rows))
            for start, n, readout in self._sequences:
                self._values[start:start + n] = self.executor.run(self._rows[start:start + n], readout=readout,
                                                                  description=self.owner).sum(1)
            self._sequences = []
        else:
            readout = Readout(np.asarray(self._targets, dtype=np.int64), self.output)
            self._values = self.executor.run(self._rows, readout=readout, description=self.owner) if self._rows \
                else np.zeros(0)
        self.n_evals = self.executor.n_evals - before[0]
        self.seconds = self.executor.seconds - before[1]
        self._rows, self._targets = [], []

    def values(self, handle: int) -> np.ndarray:
        if self._values is None:
            raise RuntimeError("MaskedGame.run() must be called before values().")
        start, m = self._jobs[handle]
        k = self.masker.rows_per_mask
        return self._values[start:start + m * k].reshape(m, k).mean(1)


def metric_output(adapter: ModelAdapter, output: str | None, owner: str) -> str:
    """The output a metric reads: ``output``, or by default (None) a classifier's probability and a regressor's
    predicted value; a regressor has no other (its real-valued outputs have no probabilities)."""
    regressor = adapter.task == "regressor"
    output = check_choice(output if output is not None else ("value" if regressor else "probability"), "output",
                          QUANTITIES, owner=owner)
    if regressor and output != "value":
        raise InvalidArgumentError(f"The 'output' parameter of {owner} must be 'value' for the regressor "
                                   f"{adapter.name!r} (real-valued outputs have no logits or probabilities). Got "
                                   f"{output!r}.")
    return output


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either vector is constant or short."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    from scipy.stats import rankdata  # scipy.stats costs half a second to import: only when ranks are taken

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
