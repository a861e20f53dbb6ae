"""Explaining generations: every generated token attributed to every earlier token, as one 2-D Explanation.

The attribution methods explain a causal language model's :class:`~lumos.models.Generation` through the same
classes and ``attribute`` call as a classifier's input; this module holds the shared work for sequences.

*Targets.* ``target=None`` explains every generated token (one row each); an int or a list of ints chooses
generated steps (negative counts from the end); ``"continuation"`` explains the log-probability of the whole
continuation as one row. The quantity is the method's ``output`` (default ``"log_probability"`` for causal
LMs); ``contrast`` (a token, the method's setting) makes each row "this token rather than the foil".

*Gradient methods* run the sequence once per quadrature point / sample and take one batched backward pass for
all K rows (:func:`~lumos.attribution.base.gradient`): the causal mask makes one path serve every row, since
the logits of position ``p`` never see positions after ``p``. ``sources="all"`` attributes to every earlier
token, prompt and continuation (the path interpolates all of them); ``sources="prompt"`` to the prompt's tokens
only (the continuation is kept as generated, as Captum's ``LLMGradientAttribution`` does).

*Perturbation methods* hide parts of the prompt (:class:`~lumos.maskers.generation.PromptMasker`: words,
sentences or tokens) and score every generated token of each masked sequence in one teacher-forced forward,
so a whole matrix costs what one row costs; the estimator then runs once per row.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ..engine import track
from ..errors import InvalidArgumentError, InvalidTypeError
from ..explanation import Cost, Explanation
from ..readout import Readout
from ..sequences import Generation

from .base import EncodedMethod, PerturbationMethod, Score

__all__ = ["explain_generations", "resolve_steps"]


def resolve_steps(generation: Generation, target: Any, owner: str) -> tuple[np.ndarray, bool]:
    """The generated steps explained (indices into the continuation) and whether they are summed into one
    row (``target="continuation"``)."""
    n = generation.n_generated
    if target is None:
        return np.arange(n), False
    if isinstance(target, str):
        if target == "continuation":
            return np.arange(n), True
        raise InvalidArgumentError(f"The 'target' parameter of {owner} for a causal language model must be None "
                                   f"(every generated token), 'continuation', a generated step or a list of steps "
                                   f"in [{-n}, {n - 1}]. Got {target!r}.")
    steps = [target] if isinstance(target, (int, np.integer)) and not isinstance(target, bool) else target
    if not isinstance(steps, (list, tuple, np.ndarray)) or len(steps) == 0 or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and -n <= s < n for s in steps):
        raise InvalidArgumentError(f"The 'target' parameter of {owner} for a causal language model must be None, "
                                   f"'continuation', or generated steps (ints in [{-n}, {n - 1}]; this continuation "
                                   f"has {n} tokens). Got {target!r}.")
    return np.asarray([int(s) % n for s in steps], dtype=np.int64), False


def explain_generations(method: Any, generations: Sequence[Generation], target: Any) -> list[Explanation]:
    """One 2-D Explanation per generation (see the module's description)."""
    owner = type(method).__name__
    if isinstance(target, (list, tuple)) and len(generations) > 1 and any(isinstance(t, (list, tuple)) for t in target):
        raise InvalidTypeError(f"The 'target' parameter of {owner} applies to every generation; explain them one "
                               "at a time to choose different steps.")
    explain = _gradient if isinstance(method, EncodedMethod) else _perturbation
    return [explain(method, g, *resolve_steps(g, target, owner))
            for g in track(generations, description=owner, enabled=method.progress)]


def _contrast_ids(method: Any, k: int) -> np.ndarray | None:
    if method.contrast is None:
        return None
    return np.full(k, method.adapter.token_id(method.contrast, owner=type(method).__name__))


def _labels(generation: Generation, steps: np.ndarray, total: bool) -> tuple[str, ...]:
    if total:
        return (generation.continuation,)
    return tuple(generation.tokens[generation.n_prompt + int(s)] for s in steps)


def _gradient(method: EncodedMethod, g: Generation, steps: np.ndarray, total: bool) -> Explanation:
    t0 = time.perf_counter()
    adapter = method.adapter
    encoded = adapter.encode([g])
    x = encoded.x  # (1, T, D)
    n_prompt = g.n_prompt
    queries = torch.as_tensor(n_prompt - 1 + steps, device=x.device)  # the positions whose logits are read
    encoded.extras["positions"] = queries[None]  # (1, K)
    targets = torch.as_tensor(np.asarray(g.ids)[n_prompt + steps], device=x.device)[None]  # (1, K)
    contrast = _contrast_ids(method, len(steps))
    contrast = None if contrast is None else torch.as_tensor(contrast, device=x.device)[None]
    if method.uses_baseline:
        x0 = adapter.baseline(encoded, method.baseline)
        if method.sources == "prompt":  # the continuation stays as generated on the whole path
            x0[:, n_prompt:] = x[:, n_prompt:]
    else:
        x0 = torch.zeros_like(x)
    score = Score(adapter, encoded, method.output, [adapter.fingerprint(g)], contrast=contrast, total=total)
    with torch.no_grad():  # one pass of the input and its baseline: the explained values and the probabilities
        logits = adapter.forward(*encoded.take(torch.cat([x, x0]), torch.zeros(2, dtype=torch.long,
                                                                                 device=x.device)))  # (2, K, V)
        score.n_evals += 2
        ends = Readout(targets.expand(2, -1), method.output,
                       None if contrast is None else contrast.expand(2, -1)).apply(logits)  # (2, K)
        ends = ends.sum(1, keepdim=True) if total else ends
        logp = torch.log_softmax(logits[0].double(), -1).gather(1, targets[0, :, None]).squeeze(1)  # (K,)
    if total:
        queries = queries[-1:]  # one readout: the sum, traced from the last read position
    attribution = method.attribute_rows(score, x, x0, targets, queries).detach()  # (K, 1, T, ...)
    k_rows = attribution.shape[0]
    per_position, _ = method.per_feature(attribution.flatten(0, 1), encoded)
    values = per_position.double().cpu().reshape(k_rows, -1).numpy()  # (K, T)
    info = encoded.features[0]
    positions = (n_prompt + steps).tolist()
    if total:
        positions = [len(g.ids) - 1]
    if method.sources == "prompt":
        values, features, causal = values[:, :n_prompt], info.labels[:n_prompt], None
        word_index = info.word_index[:n_prompt]
        words = info.words[: max(word_index) + 1]
    else:
        # Exactly zero past each row's own token: the causal mask, made exact for quadrature round-off.
        values = np.where(np.arange(values.shape[1])[None, :] < np.asarray(positions)[:, None], values, 0.0)
        features, causal, word_index, words = info.labels, tuple(positions), info.word_index, info.words
    fx, fx0 = ends[0].double().cpu().numpy(), ends[1].double().cpu().numpy()
    prob = np.exp(logp.cpu().numpy())
    labels = _labels(g, steps, total)
    return Explanation(
        values=values, features=features, targets=labels, class_names=labels, target=0,
        prediction=np.array([prob.prod()]) if total else prob, method=method.name,
        params={**method.params(), "sources": method.sources, **_contrast_param(method)},
        output=method.output, output_value=fx,
        base_value=fx0 if method.uses_baseline else None,
        convergence_delta=values.sum(1) - (fx - fx0) if method.complete else None,
        cost=Cost(n_evals=score.n_evals, seconds=time.perf_counter() - t0),
        text=g.text if method.sources == "all" else "".join(g.tokens[:n_prompt]),
        words=words, word_index=word_index, model_id=adapter.model_id, input_id=adapter.input_id(g),
        target_positions=causal,
    )


def _log_probs(adapter: Any, g: Generation) -> np.ndarray:
    """The model's log-probability of each generated token (recorded when generated, else scored)."""
    if len(g.log_probs) == g.n_generated:
        return np.asarray(g.log_probs, dtype=np.float64)
    return adapter.score(g.ids, g.n_prompt)


def _contrast_param(method: Any) -> dict[str, Any]:
    return {} if method.contrast is None else {"contrast": method.contrast}


def _perturbation(method: PerturbationMethod, g: Generation, steps: np.ndarray, total: bool) -> Explanation:
    job = method.plan_job([g], [None])
    p, masks = job.prepared[0], job.masks[0]
    rows = job.rows  # every distinct coalition of this generation, full first
    contrast = _contrast_ids(method, 1)
    readout = method.masker.readout(p, rows, method.output, steps=steps,
                                    contrast=None if contrast is None else int(contrast[0]))
    before = (method.executor.n_evals, method.executor.seconds)
    values = method.executor.run(rows, readout=readout, description=type(method).__name__)  # (m, K)
    n_rows = method.executor.n_evals - before[0]
    seconds = method.executor.seconds - before[1]
    if total:
        values = values.sum(1, keepdims=True)
    distinct, where = job.distinct[0], job.where[0]
    r = job.rows_per_mask
    v = values.reshape(len(distinct), r, -1).mean(1)[where]  # (n_masks, K')
    t0 = time.perf_counter()
    estimates = []
    with threadpool_limits(1, user_api="blas"):
        for j in range(v.shape[1]):
            estimates.append(method.estimate(masks[2:], v[2:, j], v[0, j], v[1, j]))
    full, empty = v[0], v[1]
    est_values = np.stack([e.values for e in estimates])
    stderr = None if estimates[0].stderr is None else np.stack([e.stderr for e in estimates])
    diagnostics = {key: float(np.mean([e.diagnostics[key] for e in estimates])) for key in estimates[0].diagnostics}
    logp = _log_probs(method.adapter, g)[steps]
    labels = _labels(g, steps, total)
    return Explanation(
        values=est_values, features=p.labels, targets=labels, class_names=labels, target=0,
        prediction=np.exp([logp.sum()]) if total else np.exp(logp), method=method.name,
        params={**method.params(), "granularity": _granularity(method.masker), **_contrast_param(method)},
        output=method.output, output_value=full, base_value=empty,
        convergence_delta=est_values.sum(1) - (full - empty) if method.complete else None,
        stderr=stderr, diagnostics=diagnostics,
        cost=Cost(n_evals=n_rows, seconds=seconds + time.perf_counter() - t0),
        text=p.text, words=p.words, word_index=p.word_index, model_id=method.adapter.model_id,
        input_id=method.adapter.input_id(g),
    )


def _granularity(masker: Any) -> str:
    """The masker's granularity, for the record (a PromptMasker's setting; another masker's class name)."""
    from ..maskers.generation import PromptMasker

    return masker.granularity if isinstance(masker, PromptMasker) else type(masker).__name__
