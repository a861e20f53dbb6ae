"""Compute the report's contents as plain data, then render them with the HTML template.

The report is one self-contained HTML file: inline CSS, no scripts or fonts from a network, every piece of
text escaped by the template engine.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..attribution import get_method, method_names
from ..engine.progress import track
from ..errors import InvalidArgumentError, UnsupportedModelError, check_int
from ..explanation import Explanation, ExplanationSet
from ..models import ModelAdapter, as_adapter
from .data import input_kind, load_labelled_texts

__all__ = ["DEFAULT_METHODS", "build_report", "default_methods", "explain_all", "make_methods", "heat_color"]

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


def make_methods(adapter: ModelAdapter, names: Sequence[str], settings: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[dict[str, Any], list[str]]:
    """Instantiate methods by (alias) name with the report's settings: ``(methods, notes)``.

    ``settings`` maps a method's registry name to its keyword arguments; default :data:`DEFAULT_METHODS`.
    A method the model cannot run (gradients through a black box) is left out, with a note saying why; the
    other methods still run. An unknown name raises.
    """
    settings = DEFAULT_METHODS if settings is None else settings
    methods, notes = {}, []
    for name in names:
        cls = get_method(name)
        try:
            methods[cls.name] = cls(adapter, **settings.get(cls.name, {}))
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
    #: Permutation importance and the surrogate tree of a table model (see :mod:`lumos.report.tables`).
    importance: dict[str, Any] | None = None


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


def _evaluate(adapter: ModelAdapter, examples: Sequence[Any], labels: np.ndarray, name: str,
              batch_size: int | None) -> tuple[dict[str, Any], np.ndarray]:
    """Accuracy, per-class metrics and confusion of ``adapter`` on labelled examples, and its probabilities."""
    from ..diagnosis import performance

    t0 = time.perf_counter()
    probs = adapter.predict_proba(list(examples), batch_size=batch_size)
    perf = performance(probs, labels, adapter.class_names)
    evaluation = {"data": name, "n": len(examples), "accuracy": perf.accuracy, "confusion": perf.confusion.tolist(),
                  "per_class": perf.per_class, "seconds": time.perf_counter() - t0}
    return evaluation, probs


def _example_rows(explanations: dict[str, Explanation], example: Any = None) -> list[dict[str, Any]]:
    """One heat row of words per method (a text explanation carries its words, so ``example`` is not needed)."""
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


def explain_all(methods: Mapping[str, Any], inputs: Any, *, progress: bool | None = None
                ) -> tuple[dict[str, ExplanationSet], list[MethodSummary]]:
    """Explain ``inputs`` with every method: the explanations and a cost summary per method."""
    results: dict[str, ExplanationSet] = {}
    summaries = []
    for name, method in track(list(methods.items()), description="Explaining", enabled=progress):
        explained = method.attribute(inputs)
        results[name] = explained
        cost = explained.cost
        deltas = [abs(e.convergence_delta) / max(abs(e.output_value - e.base_value), 1e-12)
                  for e in explained if e.convergence_delta is not None]
        summaries.append(MethodSummary(name=name, params=method.params(),
                                       seconds_per_explanation=cost.seconds / len(explained),
                                       evals_per_explanation=cost.n_evals / len(explained),
                                       relative_delta=float(np.mean(deltas)) if deltas else None,
                                       diagnostics=_mean_diagnostics(explained)))
    return results, summaries


def _builders() -> dict[str, Callable[..., Path]]:
    """The report of each kind of input other than texts (see :func:`lumos.report.data.input_kind`)."""
    from .images import build_image_report
    from .tables import build_table_report

    return {"images": build_image_report, "tables": build_table_report}


def build_report(model: Any = "tweets-sentiment", *, data: str | None = None, n: int = 50,
                 out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                 batch_size: int | None = None, progress: bool | None = None, quality_n: int = 0,
                 compress: Sequence[str] = ()) -> Path:
    """Explain ``n`` held-out examples with each method and write ``out/index.html``.

    Text classifiers get word heat lines, attention and representations; image models saliency overlays
    (:func:`lumos.report.images.build_image_report`); table models feature attributions, permutation importance
    and a surrogate tree (:func:`lumos.report.tables.build_table_report`). The kind of input the model reads
    (:func:`lumos.report.data.input_kind`) decides.

    Parameters
    ----------
    model : zoo name, model directory, module or adapter
    data : zoo dataset name or CSV path; default: the zoo model's dataset (its test split)
        Texts: columns ``text`` and ``label``. Tables: the model's feature columns and ``label``. Images: a
        directory of image files.
    n : int, default 50
        Examples explained (the first ``n`` of the held-out data, so runs are comparable).
    out : path, default "lumos-report"
    methods : names of attribution methods, default :func:`default_methods`
    batch_size : int, optional
        Examples per model call when predicting the held-out data; default 64 for texts, 4096 rows for tables,
        32 for images.
    quality_n : int, default 0
        Texts (the first ``quality_n``) for the "Explanation quality" section (:func:`lumos.metrics.evaluate`
        with every method; 0 leaves the section out, as it re-runs each method several times). Texts only.
    compress : sequence of str, default ()
        Compression specs (``"prune:0.5"``, ``"heads:4"``, ``"int8"``, ``"distill:3"``, see
        :func:`lumos.compression.parse_spec`) for the "Compression" section: each copy is compared with the model
        on the held-out data, and the first ``n`` examples are explained by saliency, Integrated Gradients and
        occlusion on every model. Empty leaves the section out. Texts only.
    """
    from .. import __version__
    from .render import render_report

    n = check_int(n, "n", owner="build_report", minimum=1)
    from ..compression import parse_spec

    for spec in compress:
        parse_spec(spec)  # a bad spec fails before any work
    adapter = as_adapter(model)
    kind = input_kind(adapter)
    if kind != "texts":
        if quality_n or compress:
            raise InvalidArgumentError(f"The 'quality_n' and 'compress' arguments of build_report (--quality, "
                                       f"--compress) apply to text classifiers only; {adapter.name!r} reads {kind}. "
                                       f"Got quality_n={quality_n!r}, compress={list(compress)!r}.")
        return _builders()[kind](adapter, data=data, n=n, out=out, methods=methods, batch_size=batch_size,
                                 progress=progress)
    batch_size = 64 if batch_size is None else check_int(batch_size, "batch_size", owner="build_report", minimum=1)
    card = {"name": adapter.name, **adapter.card}
    if data is None:
        data = card.get("dataset")
        if data is None:
            raise InvalidArgumentError("The 'data' argument is required for a model outside the zoo: a CSV file "
                                       "with 'text' and 'label' columns.")
    labelled = load_labelled_texts(data, adapter.class_names)
    evaluation, probs = _evaluate(adapter, labelled.texts, labelled.labels, labelled.name, batch_size)
    module = getattr(adapter, "model", None)
    if module is not None:
        card["parameters"] = sum(p.numel() for p in module.parameters())
    card.setdefault("classes", list(adapter.class_names))

    instances, notes = make_methods(adapter, default_methods() if methods is None else methods)
    texts = list(labelled.texts[:n])
    results, summaries = explain_all(instances, texts, progress=progress)
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
    from ..diagnosis import describe_texts
    from .sections import diagnosis_section

    diagnosis = diagnosis_section(adapter, labelled.texts, np.asarray(labelled.labels), probs, results, instances,
                                  descriptors=describe_texts(list(labelled.texts), probs, adapter.class_names),
                                  described_by="length, frequent words, predicted class and confidence band",
                                  example_rows=_example_rows, unit="word", min_count=2)
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
        title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__, card=_card_rows(card), evaluation=evaluation, methods=summaries, examples=examples,
        notes=notes, diagnosis=diagnosis, inside=inside, quality=quality, compression=compression,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_report(report), encoding="utf-8")
    return path
