"""Base classes of attribution methods: the shared work (validation, targets, batching, device, progress,
cost accounting, building Explanations) lives here; a subclass writes only its mathematics."""

from __future__ import annotations

import abc
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
from threadpoolctl import threadpool_limits
import torch

from ..engine import Batcher, track
from ..errors import InvalidArgumentError, check_choice, check_int
from ..explanation import Cost, Explanation, ExplanationSet
from ..models import GradientAdapter, as_adapter
from ..models.base import Encoded

__all__ = ["Method", "GradientMethod", "PerturbationMethod", "Estimate", "Score"]


class Method(abc.ABC):
    """An attribution method: ``__init__`` stores settings, :meth:`attribute` explains inputs.

    ``attribute`` returns an :class:`Explanation` for one input and an :class:`ExplanationSet` for a list
    (the type follows the input, never a flag).
    """

    #: Registry name, e.g. "integrated_gradients".
    name: ClassVar[str]

    @abc.abstractmethod
    def attribute(self, inputs: Any, target: int | str | Sequence[int | str] | None = None
                  ) -> Explanation | ExplanationSet:
        ...

    def params(self) -> dict[str, Any]:
        """The method's settings, as recorded in each Explanation."""
        return {}


class Score:
    """The explained quantity for a batch of rows: the target's logit or probability.

    Calling it runs the adapter's forward on ``x`` (rows, T, ...) and returns shape (rows,).
    """

    def __init__(self, adapter: GradientAdapter, encoded: Encoded, output: str,
                 fingerprints: Sequence[bytes] = ()) -> None:
        self.adapter, self.encoded, self.output = adapter, encoded, output
        #: The content of each of the batch's examples (``adapter.fingerprint``); per-example randomness is
        #: seeded by it, so an example's values do not depend on what it is batched with.
        self.fingerprints = tuple(fingerprints)
        self.n_evals = 0

    def __call__(self, x: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.adapter.forward(*self.encoded.take(x, rows))  # (rows, C)
        self.n_evals += x.shape[0]
        if self.output == "probability":
            logits = torch.softmax(logits, dim=-1)
        return logits.gather(1, targets[:, None]).squeeze(1)


class GradientMethod(Method):
    """Base of methods that differentiate the model at its features (embeddings for text).

    Parameters
    ----------
    model : model, adapter or zoo name
        Anything :func:`lumos.as_adapter` accepts, as long as it is differentiable.
    baseline : str, default: the adapter's first kind ("pad" for text, "zero" for tensors)
        Reference input for methods that use one.
    output : {"logit", "probability"}, default "logit"
        What is explained for the target class.
    batch_size : int, default 16
        Examples prepared together (rows per forward/backward pass are set per method).
    progress : bool or None, default None
        Show a progress bar; ``None`` shows one for long runs in a terminal.
    """

    uses_baseline: ClassVar[bool] = False

    def __init__(self, model: Any, *, baseline: str | None = None, output: str = "logit",
                 batch_size: int = 16, progress: bool | None = None) -> None:
        owner = type(self).__name__
        self.adapter = as_adapter(model).require_gradients(owner)
        self.baseline = (check_choice(baseline, "baseline", self.adapter.baseline_kinds, owner=owner)
                         if baseline is not None else self.adapter.baseline_kinds[0])
        self.output = check_choice(output, "output", ("logit", "probability"), owner=owner)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.progress = progress

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"output": self.output}
        if self.uses_baseline:
            out["baseline"] = self.baseline
        return out

    # -- the mathematics, per subclass ----------------------------------------------------------------
    @abc.abstractmethod
    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        """Attribution of shape ``x.shape`` for ``x`` (B, T, ...) against baseline ``x0``, explaining
        ``score`` for ``targets`` (B,). Rows of ``x`` are examples 0..B-1 of the score's batch."""

    #: Whether the method promises completeness (sum of attributions = f(x) - f(baseline)).
    complete: ClassVar[bool] = False

    # -- shared work ----------------------------------------------------------------------------------
    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        """Explain ``inputs`` (one input, or a list) for ``target`` (class index or name, one per input, or
        None for the predicted class)."""
        examples, single = self.adapter.split_inputs(inputs)
        targets = _resolve_targets(self.adapter, target, len(examples), type(self).__name__)
        # Batch examples of similar size together (less padding), then restore the caller's order.
        order = sorted(range(len(examples)), key=lambda i: self.adapter.size(examples[i]))
        starts = range(0, len(examples), self.batch_size)
        explanations: list[Explanation | None] = [None] * len(examples)
        for start in track(starts, description=f"{type(self).__name__}", enabled=self.progress):
            ids = order[start:start + self.batch_size]
            batch = self._attribute_batch([examples[i] for i in ids], [targets[i] for i in ids])
            for i, explanation in zip(ids, batch):
                explanations[i] = explanation
        return explanations[0] if single else ExplanationSet(explanations)

    def _attribute_batch(self, examples: list[Any], targets: list[int | None]) -> list[Explanation]:
        t0 = time.perf_counter()
        adapter = self.adapter
        encoded = adapter.encode(examples)
        x = encoded.x
        x0 = adapter.baseline(encoded, self.baseline) if self.uses_baseline else torch.zeros_like(x)
        score = Score(adapter, encoded, self.output, [adapter.fingerprint(e) for e in examples])
        rows = torch.arange(len(examples), device=x.device)
        # One pass gives the predictions, the default targets and, with a baseline, both ends of the path.
        ends, end_rows = (torch.cat([x, x0]), torch.cat([rows, rows])) if self.uses_baseline else (x, rows)
        with torch.no_grad():
            logits = adapter.forward(*encoded.take(ends, end_rows)).float()
        score.n_evals += ends.shape[0]
        if not self.uses_baseline:
            logits = torch.cat([logits, logits])  # no baseline: its half is never read
        probs = torch.softmax(logits[: len(examples)], dim=-1)
        chosen = torch.tensor([p if t is None else t for t, p in zip(targets, probs.argmax(1).tolist())],
                              device=x.device)
        outputs = probs if self.output == "probability" else logits[: len(examples)]
        base_outputs = torch.softmax(logits[len(examples):], -1) if self.output == "probability" \
            else logits[len(examples):]
        f_x = outputs.gather(1, chosen[:, None]).squeeze(1)
        f_x0 = base_outputs.gather(1, chosen[:, None]).squeeze(1)

        attribution = self.attribute_tensor(score, x, x0, chosen).detach()
        per_position = adapter.reduce(attribution).double().cpu()  # (B, T)
        seconds = (time.perf_counter() - t0) / len(examples)
        n_evals = score.n_evals // len(examples)
        out = []
        for i, info in enumerate(encoded.features):
            values = per_position[i, list(info.positions)].numpy()
            fx, fx0 = float(f_x[i]), float(f_x0[i])
            out.append(Explanation(
                values=values, features=info.labels, target=int(chosen[i]),
                prediction=probs[i].double().cpu().numpy(), class_names=adapter.class_names,
                method=self.name, params=self.params(), output=self.output, output_value=fx,
                base_value=fx0 if self.uses_baseline else None,
                convergence_delta=float(values.sum() - (fx - fx0)) if self.complete else None,
                cost=Cost(n_evals=n_evals, seconds=seconds), text=info.text, words=info.words,
                word_index=info.word_index,
            ))
        return out


def gradient(score: Score, x: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d score / d x for a batch of rows (x is not modified)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = score(x, rows, targets)
        (grad,) = torch.autograd.grad(out.sum(), x)
    return grad


@dataclass(frozen=True)
class Estimate:
    """What a perturbation method computes from its masks and the game's values."""

    values: np.ndarray  # (n_features,)
    stderr: np.ndarray | None = None
    diagnostics: dict[str, float] = field(default_factory=dict)


class PerturbationMethod(Method):
    """Base of methods that only see masks and model outputs (no gradients; any model).

    The game explained is ``v(S)`` = the target's output when only the features in ``S`` are shown (the
    masker hides the rest). For each example a subclass plans masks (:meth:`plan`) and turns the values of
    the game on them into attributions (:meth:`estimate`); this class runs the masks of every example of
    the call through one :class:`~lumos.engine.Batcher`, so batches are full across examples. Every plan
    starts with the full and the empty coalition, which give ``output_value`` and ``base_value``. A
    coalition planned more than once is evaluated once (``cost.n_evals`` counts the distinct ones).

    Parameters
    ----------
    model : model, adapter or zoo name
    masker : Masker, optional
        Default: the adapter's (text: hide words with the mask token).
    output : {"logit", "probability"}, optional
        The explained quantity for the target class; default "logit" for models returning logits,
        "probability" for models returning probabilities.
    batch_size : int, default 64
        Rows per forward pass.
    seed : int, default 0
        Randomness comes only from here: each example's generator is seeded by ``seed`` and the example's
        content, so results do not depend on batching.
    progress : bool or None, default None
    """

    #: Whether the values sum to v(all) - v(none) by construction (efficiency / completeness).
    complete: ClassVar[bool] = False

    def __init__(self, model: Any, *, masker: Any = None, output: str | None = None, batch_size: int = 64,
                 seed: int = 0, progress: bool | None = None) -> None:
        owner = type(self).__name__
        self.adapter = as_adapter(model)
        self.masker = masker if masker is not None else self.adapter.default_masker()
        default_output = "logit" if self.adapter.output_kind == "logits" else "probability"
        self.output = check_choice(output if output is not None else default_output, "output",
                                   ("logit", "probability"), owner=owner)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.seed = check_int(seed, "seed", owner=owner, minimum=0)
        self.progress = progress

    def params(self) -> dict[str, Any]:
        return {"output": self.output, "seed": self.seed}

    # -- the mathematics, per subclass ----------------------------------------------------------------
    def check_budget(self, n_features: int) -> None:
        """Raise a clear error when the method cannot run on ``n_features`` features with its settings."""

    @abc.abstractmethod
    def plan(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        """Boolean masks (m, n_features) to evaluate, True = feature shown (full and empty are added)."""

    @abc.abstractmethod
    def estimate(self, masks: np.ndarray, values: np.ndarray, full: float, empty: float) -> Estimate:
        """Attributions from the game's ``values`` (m,) on ``masks`` (m, n), with v(all) and v(none)."""

    # -- shared work ----------------------------------------------------------------------------------
    def _explained(self, raw: np.ndarray, target: int) -> np.ndarray:
        """The explained quantity for ``target`` from raw outputs (rows, C)."""
        if self.output == "probability":
            probs = _softmax(raw) if self.adapter.output_kind == "logits" else raw
            return probs[:, target]
        if self.adapter.output_kind == "logits":
            return raw[:, target]
        return np.log(np.clip(raw[:, target], 1e-12, None))  # log-probability: a logit up to a constant

    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        """Explain ``inputs`` (one input, or a list) for ``target`` (class index or name, one per input, or
        None for the predicted class)."""
        owner = type(self).__name__
        examples, single = self.adapter.split_inputs(inputs)
        targets = _resolve_targets(self.adapter, target, len(examples), owner)
        prepared = [self.masker.prepare(e) for e in examples]
        plans = []
        for i, p in enumerate(prepared):
            if p.n_features == 0:
                raise InvalidArgumentError(f"Input {i} has no features to explain.")
            self.check_budget(p.n_features)
            digest = hashlib.sha256(self.adapter.fingerprint(p.example)).digest()
            rng = np.random.default_rng([self.seed, *np.frombuffer(digest, dtype=np.uint32).tolist()])
            ends = np.array([[True] * p.n_features, [False] * p.n_features])
            plans.append(np.concatenate([ends, self.plan(p.n_features, rng)]))
        # A coalition planned twice is evaluated once: the model is deterministic, so only the cost changes.
        uniques = [_unique_rows(masks) for masks in plans]
        rows, bounds = [], [0]
        for p, (distinct, _) in zip(prepared, uniques):
            rows.extend(self.masker.apply(p, distinct))
            bounds.append(len(rows))
        batcher = Batcher(self.adapter, batch_size=self.batch_size, progress=self.progress)
        raw = batcher.run(rows, description=owner)
        seconds_per_row = batcher.seconds / max(len(rows), 1)
        k = self.masker.rows_per_mask
        explanations = []
        # The estimators' matrices are small: one BLAS thread is as fast, and several would fight torch's
        # threads, still spinning after the forward passes (3-10x slower on 2 cores).
        with threadpool_limits(1, user_api="blas"):
            for i, (p, masks) in enumerate(zip(prepared, plans)):
                t0 = time.perf_counter()
                out = raw[bounds[i]:bounds[i + 1]]  # (distinct masks * k, C)
                distinct, where = uniques[i]
                # The full coalition comes first, so its rows are the example itself (k copies with a background).
                probs = _softmax(out[:1]) if self.adapter.output_kind == "logits" else out[:1]
                chosen = targets[i] if targets[i] is not None else int(probs[0].argmax())
                values = self._explained(out, chosen).reshape(len(distinct), k).mean(1)[where]  # v(S) per mask
                est = self.estimate(masks[2:], values[2:], values[0], values[1])
                full, empty = float(values[0]), float(values[1])
                explanations.append(Explanation(
                    values=est.values, features=p.labels, target=chosen, prediction=probs[0],
                    class_names=self.adapter.class_names, method=self.name, params=self.params(), output=self.output,
                    output_value=full, base_value=empty,
                    convergence_delta=float(est.values.sum() - (full - empty)) if self.complete else None,
                    stderr=est.stderr, diagnostics=est.diagnostics,
                    cost=Cost(n_evals=len(distinct) * k,
                              seconds=len(distinct) * k * seconds_per_row + time.perf_counter() - t0),
                    text=p.text, words=p.words, word_index=p.word_index,
                ))
        return explanations[0] if single else ExplanationSet(explanations)


def _unique_rows(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``masks`` (m, n) in order of first appearance, and for each row its distinct row."""
    packed = np.packbits(masks, axis=1)
    _, first, where = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows by first appearance: the full coalition stays first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return masks[first[order]], rank[where.reshape(-1)]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _resolve_targets(adapter: Any, target: Any, n: int, owner: str) -> list[int | None]:
    """One target per input: None (the predicted class), or a class index or name."""
    if target is None:
        return [None] * n
    if isinstance(target, (list, tuple, np.ndarray)):
        if len(target) != n:
            raise InvalidArgumentError(f"The 'target' parameter of {owner} must be one target or one per "
                                       f"input ({n}). Got {len(target)}.")
        return [None if t is None else adapter.resolve_target(t, owner=owner) for t in target]
    return [adapter.resolve_target(target, owner=owner)] * n
