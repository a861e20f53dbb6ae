"""Base classes of attribution methods: the shared work (validation, targets, batching, device, progress,
cost accounting, building Explanations) lives here; a subclass writes only its mathematics."""

from __future__ import annotations

import abc
import copy
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
from threadpoolctl import threadpool_limits
import torch

from ..engine import Batcher, batches_by_size, example_rng, track
from ..errors import MAX_EVALS, MAX_STEPS, InvalidArgumentError, check_choice, check_int
from ..explanation import Cost, Explanation, ExplanationSet
from ..maskers import Prepared
from ..models import GradientAdapter, ModelAdapter, as_adapter
from ..models.base import Encoded, FeatureInfo
from ..readout import QUANTITIES, Readout, softmax

#: What gradient methods attribute a generated token to: every earlier token, or the prompt's only.
SOURCES = ("all", "prompt")

__all__ = ["Method", "EncodedMethod", "GradientMethod", "PerturbationMethod", "PerturbationJob", "Estimate", "Score",
           "resolve_targets", "check_output"]


class Method(abc.ABC):
    """An attribution method: ``__init__`` stores settings, :meth:`attribute` explains inputs.

    ``attribute`` returns an :class:`Explanation` for one input and an :class:`ExplanationSet` for a list
    (the type follows the input, never a flag).
    """

    #: Registry name, e.g. "integrated_gradients".
    name: ClassVar[str]
    #: The model explained.
    adapter: ModelAdapter

    @abc.abstractmethod
    def attribute(self, inputs: Any, target: int | str | Sequence[int | str] | None = None
                  ) -> Explanation | ExplanationSet:
        ...

    def params(self) -> dict[str, Any]:
        """The method's settings, as recorded in each Explanation."""
        return {}

    def with_adapter(self, adapter: ModelAdapter) -> "Method":
        """A copy of this method, with the same settings, that explains ``adapter``'s model (what an analysis
        that changes a copy of the model, such as model randomization, runs)."""
        clone = copy.copy(self)
        clone.adapter = adapter
        return clone


class Score:
    """The explained quantity for a batch of rows: the readout (the target's logit, probability, ...) of the
    adapter's forward pass, applied where the logits are produced.

    Calling it runs the adapter's forward on ``x`` (rows, T, ...) and returns shape (rows,), or (rows, K) for
    K readouts per row (``targets`` of shape (rows, K): every generated token of a sequence, read at the
    positions the encoded batch's ``extras["positions"]`` name).

    Parameters
    ----------
    contrast : Tensor of shape (B, K), optional
        Foils per example: each readout is ``output(target) - output(contrast)``.
    total : bool, default False
        Sum the K readouts of each row into one, (rows, 1): the log-probability of a whole continuation.
    """

    def __init__(self, adapter: GradientAdapter, encoded: Encoded, output: str,
                 fingerprints: Sequence[bytes] = (), *, contrast: torch.Tensor | None = None,
                 total: bool = False) -> None:
        self.adapter, self.encoded, self.output = adapter, encoded, output
        #: The content of each of the batch's examples (``adapter.fingerprint``); per-example randomness is
        #: seeded by it, so an example's values do not depend on what it is batched with.
        self.fingerprints = tuple(fingerprints)
        self.contrast, self.total = contrast, total
        self.n_evals = 0

    def __call__(self, x: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = self.adapter.forward(*self.encoded.take(x, rows))  # (rows, C) or (rows, K, C)
        self.n_evals += x.shape[0]
        contrast = None if self.contrast is None else self.contrast[rows]
        out = Readout(targets, self.output, contrast).apply(logits)
        return out.sum(1, keepdim=True) if self.total else out


class EncodedMethod(Method):
    """Base of methods that run the model's differentiable path on its encoded features (embeddings for
    text, pixels for images): validation, targets, batching of examples, the :class:`Score` (readout) and
    the Explanations are shared here. Subclasses write :meth:`attribute_tensor`: gradient methods
    (:class:`GradientMethod`) differentiate the score, attention methods read the attention weights.

    Parameters
    ----------
    model : model, adapter or zoo name
        Anything :func:`lumos.as_adapter` accepts, as long as it is differentiable.
    baseline : str, default: the adapter's first kind ("pad" for text, "zero" for tensors)
        Reference input for methods that use one.
    output : {"logit", "probability", "log_probability"}, optional
        What is explained for the target class (the quantity of the :class:`~lumos.readout.Readout`); default
        "logit", and "log_probability" for causal language models.
    contrast : class or token, optional
        A foil: explain ``output(target) - output(contrast)`` ("the target rather than the contrast"). For a
        classifier a class index or name; for a causal language model a token (a text that is exactly one
        token, or a token id), compared with every explained generated token.
    sources : {"all", "prompt"}, default "all"
        Causal language models only: attribute each generated token to every earlier token (prompt and
        continuation), or to the prompt's tokens only (the continuation stays as generated).
    batch_size : int, default 16
        Examples prepared together (rows per forward/backward pass are set per method).
    progress : bool or None, default None
        Show a progress bar; ``None`` shows one for long runs in a terminal.
    """

    uses_baseline: ClassVar[bool] = False

    def __init__(self, model: Any, *, baseline: str | None = None, output: str | None = None,
                 contrast: Any = None, sources: str = "all", batch_size: int = 16,
                 progress: bool | None = None) -> None:
        owner = type(self).__name__
        self.adapter = as_adapter(model).require_gradients(owner)
        self.baseline = (check_choice(baseline, "baseline", self.adapter.baseline_kinds, owner=owner)
                         if baseline is not None else self.adapter.baseline_kinds[0])
        self.output = check_output(self.adapter, output, owner)
        self.contrast = _check_contrast(self.adapter, contrast, owner)
        self.sources = check_choice(sources, "sources", SOURCES, owner=owner)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.progress = progress

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"output": self.output}
        if self.uses_baseline:
            out["baseline"] = self.baseline
        if self.contrast is not None:
            out["contrast"] = self.contrast
        return out

    # -- the mathematics, per subclass ----------------------------------------------------------------
    @abc.abstractmethod
    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        """Attribution of shape ``x.shape`` for ``x`` (B, T, ...) against baseline ``x0``, explaining
        ``score`` for ``targets`` (B,). Rows of ``x`` are examples 0..B-1 of the score's batch."""

    #: Whether the method promises completeness (sum of attributions = f(x) - f(baseline)).
    complete: ClassVar[bool] = False

    def attribute_rows(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor,
                       queries: torch.Tensor) -> torch.Tensor:
        """Attribution (K, B, T, ...) of K readouts per example (``targets`` (B, K)), each read at its query
        position (``queries`` (K,): the position whose output is read). Gradient methods need no query: the
        score's K readouts give K gradients."""
        return self.attribute_tensor(score, x, x0, targets)

    def per_feature(self, attribution: torch.Tensor, encoded: Encoded) -> tuple[torch.Tensor, list[FeatureInfo]]:
        """One value per position (B, T) from :meth:`attribute_tensor`'s output, and each example's features:
        by default the adapter's reduction (a sum over every axis beyond the feature axis) and features."""
        return self.adapter.reduce(attribution), encoded.features

    # -- shared work ----------------------------------------------------------------------------------
    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        """Explain ``inputs`` (one input, or a list) for ``target`` (class index or name, one per input, or
        None for the predicted class). For a causal language model, inputs are Generations (or prompts,
        continued greedily) and ``target`` chooses generated tokens (see :mod:`lumos.attribution.sequence`)."""
        examples, single = self.adapter.split_inputs(inputs)
        if self.adapter.task == "causal_lm":
            from .sequence import explain_generations

            explanations = explain_generations(self, examples, target)
            return explanations[0] if single else ExplanationSet(explanations)
        targets = resolve_targets(self.adapter, target, len(examples), type(self).__name__)
        # Batch examples of similar size together (less padding), then restore the caller's order.
        batches = list(batches_by_size(examples, self.batch_size, self.adapter.size))
        explanations: list[Explanation | None] = [None] * len(examples)
        for ids in track(batches, description=type(self).__name__, enabled=self.progress):
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
        foil = None if self.contrast is None else torch.full((len(examples),), self.contrast, device=x.device)
        score = Score(adapter, encoded, self.output, [adapter.fingerprint(e) for e in examples], contrast=foil)
        rows = torch.arange(len(examples), device=x.device)
        # One pass gives the predictions, the default targets and, with a baseline, both ends of the path.
        ends, end_rows = (torch.cat([x, x0]), torch.cat([rows, rows])) if self.uses_baseline else (x, rows)
        with torch.no_grad():
            logits = adapter.forward(*encoded.take(ends, end_rows))
        logits = logits if logits.dtype == torch.float64 else logits.float()  # a float64 model keeps its precision
        score.n_evals += ends.shape[0]
        if not self.uses_baseline:
            logits = torch.cat([logits, logits])  # no baseline: its half is never read
        regressor = adapter.task == "regressor"
        # A regressor's prediction is its outputs themselves, and its default target the first output.
        probs = logits[: len(examples)] if regressor else torch.softmax(logits[: len(examples)], dim=-1)
        default = [0] * len(examples) if regressor else probs.argmax(1).tolist()
        chosen = torch.tensor([p if t is None else t for t, p in zip(targets, default)], device=x.device)
        readout = Readout(chosen, self.output, foil)
        f_x, f_x0 = readout.apply(logits[: len(examples)]), readout.apply(logits[len(examples):])

        attribution = self.attribute_tensor(score, x, x0, chosen).detach()
        per_position, features = self.per_feature(attribution, encoded)
        per_position = per_position.double().cpu()  # (B, T)
        seconds = (time.perf_counter() - t0) / len(examples)
        n_evals = score.n_evals // len(examples)
        out = []
        for i, info in enumerate(features):
            values = per_position[i, list(info.positions)].numpy()
            fx, fx0 = float(f_x[i]), float(f_x0[i])
            out.append(Explanation(
                values=values, features=info.labels, target=int(chosen[i]),
                prediction=probs[i].double().cpu().numpy(), class_names=adapter.class_names,
                method=self.name, params=self.params(), output=self.output, output_value=fx,
                base_value=fx0 if self.uses_baseline else None,
                convergence_delta=float(values.sum() - (fx - fx0)) if self.complete else None,
                cost=Cost(n_evals=n_evals, seconds=seconds), text=info.text, words=info.words,
                word_index=info.word_index, model_id=adapter.model_id, input_id=adapter.input_id(examples[i]),
            ))
        return out


class GradientMethod(EncodedMethod):
    """Base of methods that differentiate the model at its features (embeddings for text); the parameters
    are those of :class:`EncodedMethod`."""


#: Readouts whose gradients one vectorised backward pass computes together (more: more memory, as every
#: intermediate gradient gains an axis of this size; fewer: more passes). On a quiet 2-core CPU one at a time
#: was fastest for SmolLM2 (12.2 s for a 12-token IG matrix against 13.1 s at 4 and 14.3 s at 12); on an H200
#: the chunk size made no difference.
READOUTS_PER_BACKWARD = 1


def gradient(score: Score, x: torch.Tensor, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d score / d x for a batch of rows (x is not modified): shape ``x.shape``, or (K, *x.shape) when the
    score has K readouts per row. Then one forward pass serves all K, and the backward passes are vectorised
    over up to :data:`READOUTS_PER_BACKWARD` readouts at a time (a vector-Jacobian product per readout)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = score(x, rows, targets)
        if out.dim() == 1:
            (grad,) = torch.autograd.grad(out.sum(), x)
            return grad
        k = out.shape[1]
        # grad_outputs[j] selects readout j of every row: (K, rows, K).
        select = torch.eye(k, dtype=out.dtype, device=out.device)[:, None, :].expand(k, out.shape[0], k)
        parts = []
        for start in range(0, k, READOUTS_PER_BACKWARD):
            chunk = select[start:start + READOUTS_PER_BACKWARD]
            keep = start + READOUTS_PER_BACKWARD < k
            if len(chunk) == 1:
                (grad,) = torch.autograd.grad(out, x, grad_outputs=chunk[0], retain_graph=keep)
                grad = grad[None]
            else:
                (grad,) = torch.autograd.grad(out, x, grad_outputs=chunk, is_grads_batched=True, retain_graph=keep)
            parts.append(grad)
    return torch.cat(parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Estimate:
    """What a perturbation method computes from its masks and the game's values."""

    values: np.ndarray  # (n_features,)
    stderr: np.ndarray | None = None
    diagnostics: dict[str, float] = field(default_factory=dict)



@dataclass
class PerturbationJob:
    """A planned perturbation run over several examples: what to evaluate, and how to read it back.

    An executor runs it in two calls (:meth:`PerturbationMethod.run_job`): first the examples themselves
    (``head``: their full coalition, whose raw outputs give the predictions and the default targets), then
    every other distinct coalition (``body``) with a per-row :class:`~lumos.readout.Readout`, so that only
    one number per row comes back.

    Attributes
    ----------
    prepared : list of Prepared
        One per example (the masker's view of it).
    targets : list of int or None
        The requested target of each example (None: the predicted class).
    masks : list of bool ndarray (m_i, n_features_i)
        Every planned coalition of each example: full, empty, then the method's plan.
    distinct, where : lists of ndarrays
        Each example's distinct coalitions (full first) and, for each planned one, its distinct row.
    rows : list
        The model inputs of every distinct coalition of every example, ``rows_per_mask`` rows each.
    bounds : list of int
        Example ``i``'s rows are ``rows[bounds[i]:bounds[i + 1]]``.
    rows_per_mask : int
    """

    prepared: list[Prepared]
    targets: list[int | None]
    masks: list[np.ndarray]
    distinct: list[np.ndarray]
    where: list[np.ndarray]
    rows: list[Any]
    bounds: list[int]
    rows_per_mask: int

    @property
    def head(self) -> list[int]:
        """Indices into ``rows`` of each example's full-coalition rows."""
        k = self.rows_per_mask
        return [start + j for start in self.bounds[:-1] for j in range(k)]

    @property
    def body(self) -> list[int]:
        """Indices into ``rows`` of every other row."""
        k = self.rows_per_mask
        return [r for start, end in zip(self.bounds[:-1], self.bounds[1:]) for r in range(start + k, end)]


class PerturbationMethod(Method):
    """Base of methods that only see masks and model outputs (no gradients; any model).

    The game explained is ``v(S)`` = the target's output when only the features in ``S`` are shown (the
    masker hides the rest). A call runs in three phases, so that another engine can run the middle one:
    :meth:`plan_job` plans masks for every example (per example, the subclass's :meth:`plan`),
    :meth:`run_job` evaluates them through the executor (a :class:`~lumos.engine.Batcher` by default, which
    packs the masks of every example of the call into full batches), and :meth:`estimate_job` turns the game's
    values into attributions (per example, the subclass's :meth:`estimate`). Every plan starts with the full
    and the empty coalition, which give ``output_value`` and ``base_value``. A coalition planned more than
    once is evaluated once (``cost.n_evals`` counts the distinct ones).

    Parameters
    ----------
    model : model, adapter or zoo name
    masker : Masker, optional
        Default: the adapter's (text: hide words with the mask token).
    output : {"logit", "probability", "log_probability"}, optional
        The explained quantity for the target class; default "logit" for models returning logits,
        "probability" for models returning probabilities.
    batch_size : int, default 64
        Rows per forward pass (of the default executor).
    seed : int, default 0
        Randomness comes only from here: each example's generator is seeded by ``seed`` and the example's
        content, so results do not depend on batching.
    progress : bool or None, default None
    executor : Batcher, optional
        What runs the model; default a :class:`~lumos.engine.Batcher` of ``batch_size`` rows. Pass one to
        share it (and its counts) between methods and metrics, or another engine with the same ``run``.
    """

    #: Whether the values sum to v(all) - v(none) by construction (efficiency / completeness).
    complete: ClassVar[bool] = False

    def __init__(self, model: Any, *, masker: Any = None, output: str | None = None, contrast: Any = None,
                 batch_size: int = 64, seed: int = 0, progress: bool | None = None,
                 executor: Batcher | None = None) -> None:
        owner = type(self).__name__
        self.adapter = as_adapter(model)
        self.masker = masker if masker is not None else self.adapter.default_masker()
        self.output = check_output(self.adapter, output, owner)
        self.contrast = _check_contrast(self.adapter, contrast, owner)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.seed = check_int(seed, "seed", owner=owner, minimum=0)
        self.progress = progress
        self.executor = executor if executor is not None else Batcher(self.adapter, batch_size=self.batch_size,
                                                                      progress=progress)

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"output": self.output, "seed": self.seed}
        if self.contrast is not None:
            out["contrast"] = self.contrast
        return out

    def with_adapter(self, adapter: ModelAdapter) -> "PerturbationMethod":
        clone = super().with_adapter(adapter)
        clone.executor = self.executor.for_adapter(adapter)
        return clone

    # -- the mathematics, per subclass ----------------------------------------------------------------
    def check_budget(self, n_features: int) -> None:
        """Raise a clear error when the method cannot run on ``n_features`` features with its settings."""

    @abc.abstractmethod
    def plan(self, n_features: int, rng: np.random.Generator) -> np.ndarray:
        """Boolean masks (m, n_features) to evaluate, True = feature shown (full and empty are added)."""

    @abc.abstractmethod
    def estimate(self, masks: np.ndarray, values: np.ndarray, full: float, empty: float) -> Estimate:
        """Attributions from the game's ``values`` (m,) on ``masks`` (m, n), with v(all) and v(none)."""

    # -- shared work: plan, run, estimate -------------------------------------------------------------
    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        """Explain ``inputs`` (one input, or a list) for ``target`` (class index or name, one per input, or
        None for the predicted class). For a causal language model, inputs are Generations (or prompts,
        continued greedily) and ``target`` chooses generated tokens (see :mod:`lumos.attribution.sequence`)."""
        examples, single = self.adapter.split_inputs(inputs)
        if self.adapter.task == "causal_lm":
            from .sequence import explain_generations

            explanations = explain_generations(self, examples, target)
            return explanations[0] if single else ExplanationSet(explanations)
        job = self.plan_job(examples, resolve_targets(self.adapter, target, len(examples), type(self).__name__))
        before = (self.executor.n_evals, self.executor.seconds)
        head, values = self.run_job(job)
        n_rows = self.executor.n_evals - before[0]
        seconds_per_row = (self.executor.seconds - before[1]) / max(n_rows, 1)
        explanations = self.estimate_job(job, head, values, seconds_per_row=seconds_per_row)
        return explanations[0] if single else ExplanationSet(explanations)

    def plan_job(self, examples: Sequence[Any], targets: Sequence[int | None]) -> PerturbationJob:
        """Plan the coalitions of every example (validated examples, one target or None each)."""
        prepared = [self.masker.prepare(e) for e in examples]
        plans, uniques = [], []
        for i, p in enumerate(prepared):
            if p.n_features == 0:
                raise InvalidArgumentError(f"Input {i} has no features to explain.")
            self.check_budget(p.n_features)
            rng = example_rng(self.seed, self.adapter.fingerprint(p.example))
            ends = np.array([[True] * p.n_features, [False] * p.n_features])
            plans.append(np.concatenate([ends, self.plan(p.n_features, rng)]))
            # A coalition planned twice is evaluated once: the model is deterministic, so only the cost changes.
            uniques.append(_unique_rows(plans[-1]))
        rows, bounds = [], [0]
        for p, (distinct, _) in zip(prepared, uniques):
            rows.extend(self.masker.apply(p, distinct))
            bounds.append(len(rows))
        return PerturbationJob(prepared=prepared, targets=list(targets), masks=plans,
                               distinct=[d for d, _ in uniques], where=[w for _, w in uniques], rows=rows,
                               bounds=bounds, rows_per_mask=self.masker.rows_per_mask)

    def run_job(self, job: PerturbationJob) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate a job through the executor: the raw outputs of the head rows (n_examples * k, C), and
        the readout of every row (len(job.rows),), one float per row."""
        name = type(self).__name__
        head_idx, body_idx = job.head, job.body
        head = self.executor.run([job.rows[i] for i in head_idx], description=name)
        targets = self._chosen(job, head)
        per_row = np.repeat(np.asarray(targets, dtype=np.int64), np.diff(job.bounds))  # each example's target
        values = np.empty(len(job.rows), dtype=np.float64)
        foil = self.contrast  # a class index, the same for every row (or None)
        values[head_idx] = Readout(per_row[head_idx], self.output, foil).apply(head, self.adapter.output_kind)
        if body_idx:
            values[body_idx] = self.executor.run([job.rows[i] for i in body_idx], description=name,
                                                 readout=Readout(per_row[body_idx], self.output, foil))
        return head, values

    def _chosen(self, job: PerturbationJob, head: np.ndarray) -> list[int]:
        """Each example's target: the requested one, or the class its first full-coalition row predicts."""
        k = job.rows_per_mask
        if self.adapter.task == "regressor":  # no predicted class: the first output, unless told
            return [0 if t is None else t for t in job.targets]
        return [t if t is not None else int(self._probabilities(head[i * k:i * k + 1])[0].argmax())
                for i, t in enumerate(job.targets)]

    def _probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities of raw outputs; a regressor's outputs are its prediction as they are."""
        return softmax(raw) if self.adapter.output_kind == "logits" else raw

    def estimate_job(self, job: PerturbationJob, head: np.ndarray, values: np.ndarray, *,
                     seconds_per_row: float = 0.0) -> list[Explanation]:
        """Explanations from a job's evaluated head outputs and per-row values (see :meth:`run_job`)."""
        k = job.rows_per_mask
        chosen = self._chosen(job, head)
        explanations = []
        # The estimators' matrices are small: one BLAS thread is as fast, and several would fight torch's
        # threads, still spinning after the forward passes (3-10x slower on 2 cores).
        with threadpool_limits(1, user_api="blas"):
            for i, (p, masks) in enumerate(zip(job.prepared, job.masks)):
                t0 = time.perf_counter()
                distinct, where = job.distinct[i], job.where[i]
                # The full coalition comes first, so its rows are the example itself (k copies with a background).
                probs = self._probabilities(head[i * k:i * k + 1])
                v = values[job.bounds[i]:job.bounds[i + 1]].reshape(len(distinct), k).mean(1)[where]  # v(S) per mask
                est = self.estimate(masks[2:], v[2:], v[0], v[1])
                full, empty = float(v[0]), float(v[1])
                explanations.append(Explanation(
                    values=est.values, features=p.labels, target=chosen[i], prediction=probs[0],
                    class_names=self.adapter.class_names, method=self.name, params=self.params(), output=self.output,
                    output_value=full, base_value=empty,
                    convergence_delta=float(est.values.sum() - (full - empty)) if self.complete else None,
                    stderr=est.stderr, diagnostics=est.diagnostics,
                    cost=Cost(n_evals=len(distinct) * k,
                              seconds=len(distinct) * k * seconds_per_row + time.perf_counter() - t0),
                    text=p.text, words=p.words, word_index=p.word_index,
                    model_id=self.adapter.model_id, input_id=self.adapter.input_id(p.example),
                ))
        return explanations


def _default_output(adapter: ModelAdapter) -> str:
    """The quantity explained when a method is not told: a causal LM's log-probability of each token, a
    regressor's predicted value, a classifier's logit (or probability, for a model that returns probabilities)."""
    if adapter.task == "causal_lm":
        return "log_probability"
    if adapter.task == "regressor":
        return "value"
    return "logit" if adapter.output_kind == "logits" else "probability"


def check_output(adapter: ModelAdapter, output: str | None, owner: str) -> str:
    """The explained quantity ``output`` (default: the model's, see :func:`_default_output`), checked against
    the model: a regressor has only its predicted ``"value"`` (no logits, no probabilities)."""
    output = check_choice(output if output is not None else _default_output(adapter), "output", QUANTITIES,
                          owner=owner)
    if adapter.task == "regressor" and output != "value":
        raise InvalidArgumentError(f"The 'output' parameter of {owner} must be 'value' for the regressor "
                                   f"{adapter.name!r} (real-valued outputs have no logits or probabilities). Got "
                                   f"{output!r}.")
    return output


def _check_contrast(adapter: ModelAdapter, contrast: Any, owner: str) -> Any:
    """A classifier's foil as a class index; a causal LM's as given (a one-token text or a token id, checked
    now, so that a foil of several tokens fails before any work)."""
    if contrast is None:
        return None
    if adapter.task == "causal_lm":
        adapter.token_id(contrast, owner=owner)
        return contrast
    return adapter.resolve_target(contrast, owner=owner)


def _unique_rows(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``masks`` (m, n) in order of first appearance, and for each row its distinct row."""
    packed = np.packbits(masks, axis=1)
    _, first, where = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct rows by first appearance: the full coalition stays first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return masks[first[order]], rank[where.reshape(-1)]


def resolve_targets(adapter: ModelAdapter, target: Any, n: int, owner: str) -> list[int | None]:
    """One target per input: None (the predicted class), or a class index or name."""
    if target is None:
        return [None] * n
    if isinstance(target, (list, tuple, np.ndarray)):
        if len(target) != n:
            raise InvalidArgumentError(f"The 'target' parameter of {owner} must be one target or one per "
                                       f"input ({n}). Got {len(target)}.")
        return [None if t is None else adapter.resolve_target(t, owner=owner) for t in target]
    return [adapter.resolve_target(target, owner=owner)] * n

