"""The report's "Attention" and "Representations" sections as plain data (SVG geometry is computed here; the
template only writes it, escaped)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import LumosError
from ..representation.capture import capture, n_layers

__all__ = ["inside_section"]

#: Colours of the classes in scatter plots (cycled), and of wrong predictions' outline.
_PALETTE = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2")


def _attention_matrix(adapter: Any, text: str, size: int = 220) -> dict[str, Any]:
    """Last layer's attention (mean of heads) between the tokens of ``text`` as heat-map cells."""
    with capture(adapter, f"layers.{n_layers(adapter.model) - 1}.attention.probs") as cap:
        adapter.predict([text])
    a = next(iter(cap.values()))[0].mean(0).double().numpy()  # (T, T)
    ids = adapter.tokenizer(text, truncation=True, max_length=adapter.max_length)["input_ids"]
    tokens = adapter.tokenizer.convert_ids_to_tokens(ids)
    n = len(tokens)
    cell = size / n
    peak = float(a.max()) or 1.0
    cells = [{"x": j * cell, "y": i * cell, "w": cell, "opacity": float(a[i, j] / peak),
              "title": f"{tokens[i]} -> {tokens[j]}: {a[i, j]:.3f}"} for i in range(n) for j in range(n)]
    return {"size": size, "cells": cells, "tokens": tokens, "cell": cell}


def _scatter(coords: np.ndarray, labels: np.ndarray, correct: np.ndarray, class_names: Sequence[str],
             size: int = 220) -> list[dict[str, Any]]:
    lo, hi = coords.min(0), coords.max(0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    xy = 8 + (coords - lo) / span * (size - 16)
    return [{"x": float(x), "y": float(size - y), "color": _PALETTE[int(k) % len(_PALETTE)], "wrong": not bool(ok),
             "title": f"{class_names[int(k)]}{'' if ok else ' (misclassified)'}"}
            for (x, y), k, ok in zip(xy, labels, correct)]


def inside_section(adapter: Any, texts: Sequence[str], labels: np.ndarray, probs: np.ndarray,
                   example_rows: Callable[[dict], list], *, n_attention: int = 3, n_probe: int = 200,
                   cv: int = 5) -> dict[str, Any] | None:
    """Attention of a few examples (rollout, flow, attention x gradient per word and the last layer's attention
    matrix) and, over up to ``n_probe`` held-out texts, per-layer probe accuracy and PCA / LDA views of the
    last layer coloured by label and correctness. None for models without attention layers."""
    from ..attention import AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention
    from ..representation import collect, probe, project

    module = getattr(adapter, "model", None)
    if module is None or not hasattr(adapter, "tokenizer") or n_layers(module) == 0:
        return None
    notes: list[str] = []
    chosen = list(texts[:n_attention])
    methods = {"attention": RawAttention(adapter), "rollout": AttentionRollout(adapter),
               "flow": AttentionFlow(adapter), "attention_x_gradient": AttentionXGradient(adapter)}
    explained = {name: m.attribute(chosen) for name, m in methods.items()}
    attention = [{"text": t, "rows": example_rows({name: res[i] for name, res in explained.items()}),
                  "matrix": _attention_matrix(adapter, t)} for i, t in enumerate(chosen)]
    k = min(n_probe, len(texts))
    if k < 10:
        notes.append(f"Probes and projections left out: {k} held-out examples are too few (at least 10 are needed).")
        return {"attention": attention, "query": methods["rollout"].query, "n": k, "cv": cv, "probe": None,
                "views": [], "classes": [], "notes": notes}
    used, y = list(texts[:k]), np.asarray(labels[:k])
    correct = probs[:k].argmax(1) == y
    acts = collect(adapter, used)
    probes, bars = None, []
    try:
        probes = probe(acts, y, cv=cv)
    except LumosError as exc:
        notes.append(f"Probes left out: {exc}")
    if probes is not None:
        for i, (site, acc, std) in enumerate(zip(probes.sites, probes.accuracy, probes.std)):
            bars.append({"site": site, "acc": float(acc), "std": float(std), "x": 10 + i * 34,
                         "h": float(acc) * 150, "y": 160 - float(acc) * 150})
    views = []
    last = acts.sites[-1]
    for method in ("pca", "lda"):
        try:
            view = project({last: acts[last]}, y, method=method)[last]
        except (LumosError, ValueError) as exc:
            notes.append(f"{method.upper()} view left out: {exc}")
            continue
        views.append({"method": method.upper(), "site": last, "quality": view.quality,
                      "points": _scatter(view.coords, y, correct, adapter.class_names)})
    return {"attention": attention, "query": methods["rollout"].query, "n": k, "cv": cv,
            "probe": None if probes is None else {"chance": probes.chance, "bars": bars,
                                                  "chance_y": 160 - probes.chance * 150},
            "views": views, "classes": [{"name": c, "color": _PALETTE[i % len(_PALETTE)]}
                                        for i, c in enumerate(adapter.class_names)],
            "notes": notes}
