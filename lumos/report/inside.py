"""The report's "Attention" and "Representations" sections as plain data (drawn by the template with
:mod:`lumos.report.plots`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import LumosError
from ..models.sites import capture
from .common import HeatRow, SectionData

__all__ = ["InsideData", "inside_section"]


@dataclass
class InsideData(SectionData):
    """Attention and representations of a transformer text model.

    ``attention``: per example its text, heat rows of the attention methods (traced from the ``query``) and
    ``matrix``, the last layer's attention ``{"tokens", "weights"}`` (weights: (T, T), row: query token).
    ``probe``: ``{"chance", "bars": [{"site", "acc", "std"}]}``, ``cv``-fold probe accuracy per layer over ``n``
    held-out texts (None where left out). ``views``: 2-D projections of the last layer, each
    ``{"method", "site", "quality", "coords" (n, 2), "labels", "correct"}``. ``classes``: the class names."""

    attention: list[dict[str, Any]]
    query: str
    n: int
    cv: int
    probe: dict[str, Any] | None
    views: list[dict[str, Any]]
    classes: list[str]
    notes: list[str]


def _attention_matrix(adapter: Any, text: str) -> dict[str, Any]:
    """Last layer's attention (mean of heads) between the tokens of ``text``."""
    with capture(adapter, f"layers.{adapter.n_layers - 1}.attention.probs") as cap:
        adapter.predict([text])
    a = next(iter(cap.values()))[0].mean(0).double().numpy()  # (T, T)
    ids = adapter.tokenizer(text, truncation=True, max_length=adapter.max_length,
                            split_special_tokens=True)["input_ids"]
    tokens = adapter.tokenizer.convert_ids_to_tokens(ids)
    return {"tokens": tokens, "weights": a}


def inside_section(adapter: Any, texts: Sequence[str], labels: np.ndarray, probs: np.ndarray,
                   example_rows: Callable[[dict], list[HeatRow]], *, n_attention: int = 3, n_probe: int = 200,
                   cv: int = 5) -> InsideData | None:
    """Attention of a few examples (rollout, flow, attention x gradient per word and the last layer's attention
    matrix) and, over up to ``n_probe`` held-out texts, per-layer probe accuracy and PCA / LDA views of the
    last layer coloured by label and correctness. None for models without attention layers."""
    from ..attention import AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention
    from ..representation import collect, probe, project

    if adapter.modality != "text" or adapter.n_layers == 0:
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
        return InsideData(attention=attention, query=methods["rollout"].query, n=k, cv=cv, probe=None, views=[],
                          classes=[], notes=notes)
    used, y = list(texts[:k]), np.asarray(labels[:k])
    correct = probs[:k].argmax(1) == y
    acts = collect(adapter, used)
    probes = None
    try:
        probes = probe(acts, y, cv=cv)
    except LumosError as exc:
        notes.append(f"Probes left out: {exc}")
    views = []
    last = acts.sites[-1]
    for method in ("pca", "lda"):
        try:
            view = project({last: acts[last]}, y, method=method)[last]
        except (LumosError, ValueError) as exc:
            notes.append(f"{method.upper()} view left out: {exc}")
            continue
        views.append({"method": method.upper(), "site": last, "quality": view.quality, "coords": view.coords,
                      "labels": y, "correct": correct})
    probe_data = None
    if probes is not None:
        bars = [{"site": site, "acc": float(acc), "std": float(std)}
                for site, acc, std in zip(probes.sites, probes.accuracy, probes.std)]
        probe_data = {"chance": probes.chance, "bars": bars}
    return InsideData(attention=attention, query=methods["rollout"].query, n=k, cv=cv, probe=probe_data, views=views,
                      classes=list(adapter.class_names), notes=notes)
