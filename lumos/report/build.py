"""Compute the report's contents as plain data, then render them with the HTML template.

The report is one self-contained HTML file: inline CSS, no scripts or fonts from a network, every piece of
text escaped by the template engine.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..attribution import get_method, method_names
from ..engine.progress import track
from ..errors import InvalidArgumentError, UnsupportedModelError, check_int
from ..explanation import Explanation, ExplanationSet
from ..models import ModelAdapter, as_adapter
from .data import LabelledTexts, load_labelled_texts

__all__ = ["DEFAULT_METHODS", "build_report", "default_methods", "make_methods", "heat_color"]

#: Methods shown in the report by registry name, with the settings used there: gradient methods, then
#: perturbation methods (which need no gradients, so black-box models get them too).
DEFAULT_METHODS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "gradient_x_input": {},
    "integrated_gradients": {"n_steps": 32},
    "smoothgrad": {"n_samples": 16},
    "occlusion": {},
    "lime": {"n_evals": 300},
    "kernel_shap": {"n_evals": 300},
}


def default_methods() -> list[str]:
    """The names of :data:`DEFAULT_METHODS` that are registered (a method not installed is left out)."""
    registered = set(method_names())
    return [name for name in DEFAULT_METHODS if name in registered]


def make_methods(adapter: ModelAdapter, names: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Instantiate methods by (alias) name with the report's settings: ``(methods, notes)``.

    A method the model cannot run (gradients through a black box) is left out, with a note saying why; the
    other methods still run. An unknown name raises.
    """
    methods, notes = {}, []
    for name in names:
        cls = get_method(name)
        try:
            methods[cls.name] = cls(adapter, **DEFAULT_METHODS.get(cls.name, {}))
        except UnsupportedModelError as exc:
            notes.append(f"{cls.name} is left out: {exc}")
    return methods, notes


def heat_color(value: float, scale: float) -> str:
    """A CSS background for an attribution: red pushes towards the explained class, blue away from it."""
    if scale <= 0 or not np.isfinite(value):
        return "transparent"
    a = min(abs(value) / scale, 1.0) * 0.85
    return f"rgba(220,38,38,{a:.3f})" if value > 0 else f"rgba(37,99,235,{a:.3f})"


@dataclass
class MethodSummary:
    name: str
    params: dict[str, Any]
    seconds_per_explanation: float
    evals_per_explanation: float
    relative_delta: float | None = None
    #: Mean of each of the method's diagnostics over the examples (e.g. LIME's local fit R^2).
    diagnostics: dict[str, float] = field(default_factory=dict)


@dataclass
class ReportData:
    title: str
    generated: str
    version: str
    card: list[tuple[str, Any]]
    evaluation: dict[str, Any]
    methods: list[MethodSummary]
    examples: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    #: Errors and slices, calibration and global importance (see :mod:`lumos.report.sections`).
    diagnosis: dict[str, Any] | None = None
    #: Explanation quality: metrics table, ranking, curves, sanity plot (see :mod:`lumos.report.quality`).
    quality: dict[str, Any] | None = None
    #: Attention and representations of transformer models (see :mod:`lumos.report.inside`).
    inside: dict[str, Any] | None = None
    #: Compressed copies against the original (see :mod:`lumos.report.compression`).
    compression: dict[str, Any] | None = None


_CARD_LABELS = {
    "name": "name", "description": "description", "parameters": "parameters", "classes": "classes",
    "dataset": "training data", "n_train": "training examples", "n_validation": "validation examples",
    "n_test": "test examples", "validation_accuracy": "validation accuracy (at build)",
    "test_accuracy": "test accuracy (at build)", "weight_decay": "head L2 penalty (chosen on validation)",
    "seconds": "build seconds", "recipe": "recipe", "torch": "built with torch",
}


def _card_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The model card as (label, value) rows: known fields first, in a fixed order, then the rest."""
    rows = []
    for key, label in _CARD_LABELS.items():
        if key in card:
            value = card[key]
            rows.append((label, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value))
    hidden = set(_CARD_LABELS) | {"corpus_sha256", "class_names"}
    rows += [(k, v) for k, v in sorted(card.items()) if k not in hidden]
    return rows


def _evaluate(adapter: ModelAdapter, data: LabelledTexts, batch_size: int) -> tuple[dict[str, Any], np.ndarray]:
    t0 = time.perf_counter()
    probs = adapter.predict_proba(list(data.texts), batch_size=batch_size)
    pred = probs.argmax(1)
    k = adapter.n_classes
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (data.labels, pred), 1)
    per_class = []
    for c, name in enumerate(adapter.class_names):
        tp = confusion[c, c]
        precision = tp / confusion[:, c].sum() if confusion[:, c].sum() else float("nan")
        recall = tp / confusion[c].sum() if confusion[c].sum() else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        per_class.append({"name": name, "support": int(confusion[c].sum()), "precision": precision,
                          "recall": recall, "f1": f1})
    evaluation = {"data": data.name, "n": len(data.texts), "accuracy": float((pred == data.labels).mean()),
                  "confusion": confusion.tolist(), "per_class": per_class,
                  "seconds": time.perf_counter() - t0}
    return evaluation, probs


def _example_rows(explanations: dict[str, Explanation]) -> list[dict[str, Any]]:
    rows = []
    for name, e in explanations.items():
        words, values = e.by_word()
        scale = float(np.abs(values).max()) if len(values) else 0.0
        cells = [{"word": w, "value": float(v), "color": heat_color(float(v), scale)} for w, v in zip(words, values)]
        rows.append({"method": name, "cells": cells, "sum": float(values.sum()),
                     "delta": e.convergence_delta})
    return rows


def _mean_diagnostics(explained: ExplanationSet) -> dict[str, float]:
    keys = sorted({k for e in explained for k in e.diagnostics})
    return {k: float(np.mean([e.diagnostics[k] for e in explained if k in e.diagnostics])) for k in keys}


def build_report(model: Any = "tweets-sentiment", *, data: str | None = None, n: int = 50,
                 out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                 batch_size: int = 64, progress: bool | None = None, quality_n: int = 0,
                 compress: Sequence[str] = ()) -> Path:
    """Explain ``n`` held-out examples with each method and write ``out/index.html``.

    Parameters
    ----------
    model : zoo name, model directory, module or adapter
    data : zoo dataset name or CSV path (columns ``text``, ``label``); default: the zoo model's dataset
    n : int, default 50
        Examples explained (the first ``n`` of the held-out data, so runs are comparable).
    out : path, default "lumos-report"
    methods : names of attribution methods, default :func:`default_methods`
    quality_n : int, default 0
        Texts (the first ``quality_n``) for the "Explanation quality" section (:func:`lumos.metrics.evaluate`
        with every method; 0 leaves the section out, as it re-runs each method several times).
    compress : sequence of str, default ()
        Compression specs (``"prune:0.5"``, ``"heads:4"``, ``"int8"``, ``"distill:3"``, see
        :func:`lumos.compression.parse_spec`) for the "Compression" section: each copy is compared with the model
        on the held-out data, and the first ``n`` examples are explained by saliency, Integrated Gradients and
        occlusion on every model. Empty leaves the section out.
    """
    from .. import __version__
    from .render import render_report

    n = check_int(n, "n", owner="build_report", minimum=1)
    from ..compression import parse_spec

    for spec in compress:
        parse_spec(spec)  # a bad spec fails before any work
    adapter = as_adapter(model)
    from ..models import ImageAdapter

    if isinstance(adapter, ImageAdapter):  # images: saliency overlays instead of word heat lines
        from .images import build_image_report

        return build_image_report(adapter, data=data, n=n, out=out, methods=methods,
                                  progress=progress)
    card = {"name": adapter.name, **adapter.card}
    if data is None:
        data = card.get("dataset")
        if data is None:
            raise InvalidArgumentError("The 'data' argument is required for a model outside the zoo: a CSV file "
                                       "with 'text' and 'label' columns.")
    labelled = load_labelled_texts(data, adapter.class_names)
    evaluation, probs = _evaluate(adapter, labelled, batch_size)
    module = getattr(adapter, "model", None)
    if module is not None:
        card["parameters"] = sum(p.numel() for p in module.parameters())
    card.setdefault("classes", list(adapter.class_names))

    instances, notes = make_methods(adapter, default_methods() if methods is None else methods)
    texts = list(labelled.texts[:n])
    results: dict[str, ExplanationSet] = {}
    summaries = []
    for name, method in track(list(instances.items()), description="Explaining", enabled=progress):
        explained = method.attribute(texts)
        results[name] = explained
        cost = explained.cost
        deltas = [abs(e.convergence_delta) / max(abs(e.output_value - e.base_value), 1e-12)
                  for e in explained if e.convergence_delta is not None]
        summaries.append(MethodSummary(name=name, params=method.params(),
                                       seconds_per_explanation=cost.seconds / len(explained),
                                       evals_per_explanation=cost.n_evals / len(explained),
                                       relative_delta=float(np.mean(deltas)) if deltas else None,
                                       diagnostics=_mean_diagnostics(explained)))
    examples = []
    for i, text in enumerate(texts):
        p = probs[i]
        examples.append({
            "index": i, "text": text, "label": adapter.class_names[labelled.labels[i]],
            "predicted": adapter.class_names[int(p.argmax())],
            "correct": int(p.argmax()) == int(labelled.labels[i]),
            "probabilities": [{"name": c, "p": float(q)} for c, q in zip(adapter.class_names, p)],
            "rows": _example_rows({name: res[i] for name, res in results.items()}),
        })
    from .sections import diagnosis_section

    diagnosis = diagnosis_section(adapter, labelled.texts, np.asarray(labelled.labels), probs, results, instances,
                                  example_rows=_example_rows)
    from .inside import inside_section

    inside = inside_section(adapter, labelled.texts, np.asarray(labelled.labels), probs, _example_rows)
    quality = None
    if check_int(quality_n, "quality_n", owner="build_report", minimum=0):
        from ..metrics import evaluate
        from .quality import quality_section

        quality = quality_section(evaluate(adapter, list(labelled.texts[:quality_n]), methods=instances,
                                           data_name=labelled.name, batch_size=batch_size, progress=progress))
    compression = None
    if compress:
        from .. import zoo
        from .compression import compression_section

        needs_train = any("distill" in spec for spec in compress)
        train = (load_labelled_texts(data, adapter.class_names, split="train")
                 if needs_train and data in zoo.datasets() else None)
        compression = compression_section(adapter, compress, labelled, train, n_explain=min(n, 20),
                                          batch_size=batch_size, progress=progress)
    report = ReportData(
        quality=quality, compression=compression,
        title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__, card=_card_rows(card), evaluation=evaluation, methods=summaries, examples=examples, notes=notes, diagnosis=diagnosis,
        inside=inside,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_report(report), encoding="utf-8")
    return path
