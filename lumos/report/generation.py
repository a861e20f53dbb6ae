"""The report of a causal language model (kind ``"generations"``): each prompt's continuation with every generated
token attributed to its sources (hover a generated token to light them up), the token-by-token matrix, the
logit lens and a causal trace of the first prompt, and the ranking of the methods."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..attribution.registry import make_methods, preset_methods
from ..engine import track
from ..errors import check_int
from ..explanation import Explanation
from ..models import ModelAdapter
from .common import MethodSummary, ReportData, SectionData, card_rows, explain_all
from .plots import heat_color

__all__ = ["generation_report", "GenerationExample", "DecoderData", "REPORT_METHODS", "lens_data", "sequence_view"]

#: Methods of the report by default: one gradient method over every token, one perturbation method over the
#: prompt's words, and attention x gradient.
REPORT_METHODS = ("integrated_gradients", "occlusion", "attention_x_gradient")


def _show(token: str) -> str:
    """A token as the page shows it: line breaks and tabs visible."""
    return token.replace("\n", "↵").replace("\t", "⇥") or "∅"


@dataclass
class SequenceView(SectionData):
    """One method's explanation of one generation, ready to draw.

    ``units``: what is shown, in order: the explanation's sources, then (when the sources are the prompt's
    words) the generated tokens. Each unit has its text, ``gen`` (the generated step it is, or None) and
    ``colors``: (step, CSS colour) for every generated token it is a source of. ``matrix``: rows of
    (token, [(source, value, colour)]).
    """

    method: str
    output: str
    units: list[dict[str, Any]]
    matrix: list[dict[str, Any]]
    scale: float
    delta: float | None = None


@dataclass
class GenerationExample(SectionData):
    index: int
    prompt: str
    continuation: str
    probabilities: list[float]
    views: list[SequenceView] = field(default_factory=list)


@dataclass
class DecoderData(SectionData):
    """Inside the decoder for one prompt: the logit lens (``lens``: layers x positions, top token and the
    final token's probability) and a causal trace (``trace``: layers x positions, recovery of the answer's
    probability when one hidden state is restored)."""

    prompt: str
    lens: dict[str, Any] | None = None
    trace: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def sequence_view(e: Explanation, generation: Any) -> SequenceView:
    """The units, hover colours and matrix of one 2-D generation explanation."""
    values = np.asarray(e.values)
    mask = e.source_mask
    scale = float(np.abs(values[mask]).max()) if mask.any() else 0.0
    n_sources = len(e.features)
    if e.target_positions is not None:  # sources are every token; generated token k stands at its position
        gen_at = {p: k for k, p in enumerate(e.target_positions)}
        texts = list(e.features)
    else:  # sources are the prompt's words (or tokens); the generated tokens follow them
        gen_at = {n_sources + k: k for k in range(len(e.targets))}
        texts = [f"{f} " for f in e.features] + [generation.tokens[generation.n_prompt + k]
                                                    for k in range(len(e.targets))]
    units = []
    for j, text in enumerate(texts):
        colors = [(k, heat_color(float(values[k, j]), scale)) for k in range(len(e.targets))
                  if j < n_sources and mask[k, j]]
        units.append({"text": _show(text), "gen": gen_at.get(j), "colors": colors})
    matrix = [{"token": _show(t), "cells": [(_show(str(f)), float(values[k, j]), heat_color(float(values[k, j]), scale))
                                              for j, f in enumerate(e.features) if mask[k, j]]}
              for k, t in enumerate(e.targets)]
    delta = None
    if e.convergence_delta is not None:
        gap = np.abs(np.asarray(e.output_value) - np.asarray(e.base_value))
        delta = float(np.mean(np.abs(e.convergence_delta) / np.maximum(gap, 1e-12)))
    return SequenceView(method=e.method, output=e.output, units=units, matrix=matrix, scale=scale, delta=delta)


def generation_report(adapter: ModelAdapter, *, data: str | None = None, n: int = 4,
                      methods: Sequence[str] | None = None, max_new_tokens: int = 12, quality_n: int = 0,
                      decoder: bool = True, progress: bool | None = None, **_: Any) -> ReportData:
    """The report data of a causal language model.

    Parameters
    ----------
    adapter : CausalLMAdapter
    data : zoo prompt set name or a text file of prompts (one per line); default the zoo's "demo-prompts"
    n : int, default 4
        Prompts continued and explained.
    methods : names, default :data:`REPORT_METHODS`
    max_new_tokens : int, default 12
    quality_n : int, default 0
        Prompts for the ranking of methods (:func:`lumos.metrics.evaluate` on the "generation" preset).
    decoder : bool, default True
        Add the logit lens and a causal trace of the first prompt.
    """
    from .. import __version__
    from ..zoo.data import load_prompts

    n = check_int(n, "n", owner="build_report", minimum=1)
    quality_n = check_int(quality_n, "quality_n", owner="build_report", minimum=0)
    prompts = load_prompts(data or "demo-prompts", argument="--data")[:max(n, quality_n)]
    card = {"name": adapter.name, "parameters": sum(p.numel() for p in adapter.module.parameters()),
            "layers": adapter.n_layers, "vocabulary": adapter.vocab_size, "context length": adapter.context_length,
            **{k: v for k, v in adapter.card.items() if k not in ("n_parameters", "n_layers", "vocab_size")}}
    instances, notes = make_methods(adapter, list(REPORT_METHODS) if methods is None else list(methods),
                                    "generation")
    generations = [adapter.generate(p, max_new_tokens=max_new_tokens)
                   for p in track(prompts[:n], description="Generating", enabled=progress)]
    results, summaries = explain_all(instances, generations, progress=progress)
    examples = []
    for i, g in enumerate(generations):
        examples.append(GenerationExample(
            index=i, prompt=g.prompt, continuation=g.continuation, probabilities=np.exp(g.log_probs).tolist(),
            views=[sequence_view(results[name][i], g) for name in results]))
    quality = None
    if quality_n:
        from ..metrics import evaluate
        from .quality import quality_section

        quality = quality_section(evaluate(adapter, prompts[:quality_n], methods=preset_methods("generation"),
                                           data_name=data or "demo-prompts", progress=progress))
    inside = _decoder(adapter, generations[0], results, progress) if decoder else None
    return ReportData(
        kind="generations", title=f"lumos report: {card['name']}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        card=card_rows(card), evaluation=None, methods=summaries, examples=examples, notes=notes,
        quality=quality, inside=inside)


def lens_data(adapter: ModelAdapter, prompt: str, k: int = 3) -> dict[str, Any]:
    """The logit lens of ``prompt`` as the page shows it: tokens, layer names, the ``k`` top tokens of each layer at
    each position, and the final top token's probability and rank at each layer and position."""
    from ..generation import logit_lens

    lens = logit_lens(adapter, prompt, k=k)
    return {"tokens": [_show(t) for t in lens.tokens], "layers": list(lens.layer_names),
            "top_tokens": [[[_show(str(t)) for t in cell] for cell in row] for row in lens.top_tokens],
            "target_prob": np.asarray(lens.target_prob).tolist(), "target_rank": np.asarray(lens.target_rank).tolist()}


def _decoder(adapter: ModelAdapter, generation: Any, results: dict[str, Any], progress: bool | None) -> DecoderData:
    """Logit lens of the first prompt and a causal trace that corrupts its most attributed word."""
    from ..generation import causal_trace

    section = DecoderData(prompt=generation.prompt)
    section.lens = lens_data(adapter, generation.prompt)
    words = [e for name, e in ((n, r[0]) for n, r in results.items()) if e.target_positions is None]
    subject = None
    if words:  # the prompt word whose removal moves the first generated token most
        first = words[0]
        subject = str(first.features[int(np.argmax(np.abs(first.values[0])))])
    if subject is not None:
        trace = causal_trace(adapter, generation.prompt, corrupt=subject, n_samples=5, progress=progress)
        section.trace = {"tokens": [_show(trace.tokens[p]) for p in trace.positions], "layers": list(trace.layers),
                         "recovery": np.nan_to_num(trace.recovery, nan=0.0).tolist(),
                         "answer": _show(trace.target_token), "p_clean": trace.p_clean, "p_corrupt": trace.p_corrupt}
        section.notes.append(f"Causal trace: the word {subject!r} (the prompt word whose removal moves the first "
                             "generated token most) is corrupted with noise; each cell restores one layer's "
                             "hidden state at one position.")
    return section
