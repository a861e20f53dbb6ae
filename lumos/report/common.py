"""What every report builder shares: the plain data types of the page's parts (each with a JSON-ready
``to_dict``), the model card rows, the held-out evaluation, and explaining with every method.

Nothing here knows about markup: :mod:`lumos.report.render` turns these objects into HTML, and a web UI can
send ``to_dict()`` as JSON instead.
"""

from __future__ import annotations

from pathlib import Path

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..engine.progress import track
from ..explanation import Explanation, ExplanationSet
from ..models import ModelAdapter

__all__ = ["SectionData", "json_ready", "HeatCell", "HeatRow", "MethodSummary", "Example", "ReportData", "Series",
           "LineChart", "ScatterChart", "CARD_LABELS", "card_rows", "evaluate_held_out", "word_rows", "explain_all",
           "mean_diagnostics"]


def json_ready(value: Any) -> Any:
    """``value`` as JSON types only: dataclasses and mappings as dicts, tuples and arrays as lists, numpy
    scalars as Python numbers, NaN and infinities as None (JSON has no spelling for them)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


class SectionData:
    """Base of the report's data types (dataclasses): ``to_dict()`` gives the JSON-ready form."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON types (see :func:`json_ready`); ``json.dumps(data.to_dict())`` always works."""
        return json_ready(self)


@dataclass
class HeatCell(SectionData):
    """One attributed feature of a heat row: its name (a word, a column) and attribution; ``feature_value`` is
    the feature's value in the example where the page shows it (table rows)."""

    word: str
    value: float
    feature_value: float | None = None


@dataclass
class HeatRow(SectionData):
    """One method's attributions of one example: the cells shown, the sum of every attribution, the
    completeness gap, and ``scale``, the largest |attribution| (the page colours cells relative to it)."""

    method: str
    cells: list[HeatCell]
    sum: float
    delta: float | None
    scale: float


@dataclass
class MethodSummary(SectionData):
    """A method's settings and cost per explanation in the report."""

    name: str
    params: dict[str, Any]
    seconds_per_explanation: float
    evals_per_explanation: float
    relative_delta: float | None = None
    #: Mean of each of the method's diagnostics over the examples (e.g. LIME's local fit R^2).
    diagnostics: dict[str, float] = field(default_factory=dict)


@dataclass
class Example(SectionData):
    """One explained example: the truth, the prediction with each class's probability, and the heat rows.

    ``probabilities`` lists ``{"name", "p"}`` per class (images: the three most probable); ``label`` and
    ``correct`` are None for unlabelled examples. Images carry ``caption`` and ``images`` (the input and one
    overlay per method, base64 PNGs, as ``{"method", "png"}``) instead of heat rows."""

    index: int
    label: str | None
    predicted: str
    correct: bool | None
    probabilities: list[dict[str, Any]]
    rows: list[HeatRow] = field(default_factory=list)
    text: str | None = None
    caption: str | None = None
    image: str | None = None
    overlays: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ReportData(SectionData):
    """Everything a report page shows, as data; ``kind`` ("texts", "tables", "images") says which page.

    ``card``: the model card as (label, value) rows; ``evaluation``: held-out accuracy (texts and tables also
    per-class metrics and the confusion matrix; None for unlabelled images). The optional sections are None where
    the page leaves them out."""

    kind: str
    title: str
    generated: str
    version: str
    card: list[tuple[str, Any]]
    evaluation: dict[str, Any] | None
    methods: list[MethodSummary]
    examples: list[Example]
    notes: list[str] = field(default_factory=list)
    #: Errors and slices, calibration and global importance (:class:`lumos.report.sections.DiagnosisData`).
    diagnosis: SectionData | None = None
    #: Explanation quality (:class:`lumos.report.quality.QualityData`).
    quality: SectionData | None = None
    #: Attention and representations of transformer models (:class:`lumos.report.inside.InsideData`).
    inside: SectionData | None = None
    #: Compressed copies against the original (:class:`lumos.report.compression.CompressionData`).
    compression: SectionData | None = None
    #: What retraining from feedback changed (:class:`lumos.report.retraining.RetrainingData`).
    retraining: SectionData | None = None
    #: Permutation importance and the surrogate tree of a table model
    #: (:class:`lumos.report.tables.ImportanceData`).
    importance: SectionData | None = None

    def _repr_html_(self) -> str:
        """The report's page inside a notebook cell (a sandboxed iframe of the self-contained page: offline, its
        styles kept to itself)."""
        from ..rendering import iframe_html
        from .render import render_report

        return iframe_html(render_report(self))

    def sections(self) -> dict[str, SectionData]:
        """The sections the page shows, by field name (the optional ones that are present)."""
        present = {"diagnosis": self.diagnosis, "quality": self.quality, "inside": self.inside,
                   "compression": self.compression, "importance": self.importance, "retraining": self.retraining}
        return {name: section for name, section in present.items() if section is not None}


#: The model card's known fields with their labels on the page, in the order shown.
CARD_LABELS = {
    "name": "name", "description": "description", "parameters": "parameters", "classes": "classes",
    "dataset": "training data", "n_train": "training examples", "n_validation": "validation examples",
    "n_test": "test examples", "validation_accuracy": "validation accuracy (at build)",
    "test_accuracy": "test accuracy (at build)", "weight_decay": "head L2 penalty (chosen on validation)",
    "seconds": "build seconds", "recipe": "recipe", "torch": "built with torch",
}


def card_rows(card: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The model card as (label, value) rows: known fields first, in a fixed order, then the rest.

    A report is made to be shared: an absolute local path (where a model directory lies on this machine) shows as
    its last part only."""
    rows = []
    for key, label in CARD_LABELS.items():
        if key in card:
            value = card[key]
            rows.append((label, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value))
    # The retraining section shows the measures, curves and feedback of a retrained version.
    hidden = set(CARD_LABELS) | {"corpus_sha256", "class_names", "history", "metrics_before", "metrics_after",
                                 "feedback_ids"}
    rows += [(k, v) for k, v in sorted(card.items()) if k not in hidden]
    return [(label, _shareable(value)) for label, value in rows]


def _shareable(value: Any) -> Any:
    if isinstance(value, (str, Path)) and Path(value).is_absolute():
        return Path(value).name
    return value


def evaluate_held_out(adapter: ModelAdapter, examples: Sequence[Any], labels: np.ndarray, name: str,
                      batch_size: int | None, *, cache: bool = False) -> tuple[dict[str, Any], np.ndarray]:
    """Accuracy, per-class metrics and confusion of ``adapter`` on labelled examples, and its probabilities
    (with ``cache=True`` read from the lumos cache when computed before for the same weights and examples)."""
    from ..diagnosis import performance

    t0 = time.perf_counter()
    probs = (cached_probabilities(adapter, list(examples), batch_size) if cache
             else adapter.predict_proba(list(examples), batch_size=batch_size))
    perf = performance(probs, labels, adapter.class_names)
    evaluation = {"data": name, "n": len(examples), "accuracy": perf.accuracy, "confusion": perf.confusion.tolist(),
                  "per_class": perf.per_class, "seconds": time.perf_counter() - t0}
    return evaluation, probs


def word_rows(explanations: Mapping[str, Explanation], example: Any = None) -> list[HeatRow]:
    """One heat row of words per method (a text explanation carries its words, so ``example`` is not needed)."""
    rows = []
    for name, e in explanations.items():
        words, values = e.by_word()
        scale = float(np.abs(values).max()) if len(values) else 0.0
        cells = [HeatCell(w, float(v)) for w, v in zip(words, values)]
        rows.append(HeatRow(name, cells, float(values.sum()), e.convergence_delta, scale))
    return rows


def mean_diagnostics(explained: ExplanationSet) -> dict[str, float]:
    """Mean of each diagnostic over the explanations that have it."""
    keys = sorted({k for e in explained for k in e.diagnostics})
    return {k: float(np.mean([e.diagnostics[k] for e in explained if k in e.diagnostics])) for k in keys}


def explain_all(methods: Mapping[str, Any], inputs: Any, *, progress: bool | None = None, cache: bool = False
                ) -> tuple[dict[str, ExplanationSet], list[MethodSummary]]:
    """Explain ``inputs`` with every method: the explanations and a cost summary per method.

    With ``cache=True`` each method's explanations of ``inputs`` are read from the lumos cache when they were
    computed before for the same model weights, inputs, settings and code (:func:`cached_explanations`), and
    stored there otherwise; the cost shown is that of the run that computed them."""
    results: dict[str, ExplanationSet] = {}
    summaries = []
    for name, method in track(list(methods.items()), description="Explaining", enabled=progress):
        explained = cached_explanations(method, inputs) if cache else method.attribute(inputs)
        results[name] = explained
        cost = explained.cost
        # One relative gap per explained output (a generation's explanation has one per generated token).
        deltas = [float(d) for e in explained if e.convergence_delta is not None
                  for d in np.atleast_1d(np.abs(e.convergence_delta) /
                                         np.maximum(np.abs(np.asarray(e.output_value) - np.asarray(e.base_value)), 1e-12))]
        summaries.append(MethodSummary(name=name, params=method.params(),
                                       seconds_per_explanation=cost.seconds / len(explained),
                                       evals_per_explanation=cost.n_evals / len(explained),
                                       relative_delta=float(np.mean(deltas)) if deltas else None,
                                       diagnostics=mean_diagnostics(explained)))
    return results, summaries


def cached_probabilities(adapter: ModelAdapter, examples: list[Any], batch_size: int | None) -> np.ndarray:
    """``adapter.predict_proba(examples)``, kept in the lumos cache (``<cache dir>/outputs``) under the model id and
    the examples' ids, verified by checksum on every read; models without a weights id are not cached."""
    import hashlib

    import torch

    from .. import zoo
    from ..engine.cache import cached_tensors

    if adapter.model_id is None:
        return adapter.predict_proba(examples, batch_size=batch_size)
    inputs = hashlib.sha256("\n".join(adapter.input_id(x) for x in examples).encode()).hexdigest()
    key = {"model": adapter.model_id, "inputs": inputs, "n": len(examples), "output": "probabilities"}
    found, _ = cached_tensors(zoo.cache_dir() / "outputs", key, lambda: {
        "probabilities": torch.from_numpy(np.ascontiguousarray(adapter.predict_proba(examples, batch_size=batch_size)))},
        prefix="probabilities-")
    return found["probabilities"].numpy()


def _code_digest(*modules: Any) -> str:
    """SHA-256 of the source files of ``modules``: a cached result is stale once the code that made it changes."""
    import hashlib
    import inspect

    digest = hashlib.sha256()
    for module in modules:
        try:
            digest.update(open(inspect.getsourcefile(module) or "", "rb").read())
        except (OSError, TypeError):
            digest.update(repr(module).encode())
    return digest.hexdigest()[:16]


def cached_explanations(method: Any, inputs: Sequence[Any]) -> ExplanationSet:
    """``method.attribute(inputs)``, read from the lumos cache (``<cache dir>/explanations``) when a verified entry
    exists for the same model weights (model id), inputs (their ids), method settings and method code, else
    computed and stored. A read entry is checked again explanation by explanation (model id, input id, method)
    and recomputed on any mismatch; models without a weights id (no torch module) are never cached."""
    import inspect

    from .. import zoo
    from ..attribution import base
    from ..engine.cache import cache_file, read_verified, write_verified

    adapter = method.adapter
    inputs = list(inputs)
    model_id = adapter.model_id
    if model_id is None or not inputs:
        return method.attribute(inputs)
    input_ids = [adapter.input_id(x) for x in inputs]
    masker = getattr(method, "masker", None)
    key = {"model": model_id, "method": method.name, "params": json_ready(method.params()),
           "inputs": input_ids, "code": _code_digest(inspect.getmodule(type(method)), base,
                                                     inspect.getmodule(type(masker)) if masker is not None else None)}
    path = cache_file(zoo.cache_dir() / "explanations", key, suffix=".json", prefix=f"{method.name}-")
    if read_verified(path, key) is not None:
        try:
            found = ExplanationSet.from_json(path)
        except (OSError, ValueError):
            found = None
        if found is not None and len(found) == len(inputs) and all(
                e.model_id == model_id and e.input_id == i and e.method == method.name
                for e, i in zip(found, input_ids)):
            return found
    explained = method.attribute(inputs)
    write_verified(path, key, lambda tmp: explained.to_json(tmp))
    return explained


@dataclass
class Series(SectionData):
    """One line of a chart: its name and points (NaN: no point)."""

    name: str
    xs: list[float]
    ys: list[float]


@dataclass
class LineChart(SectionData):
    """A line chart: named series over one x axis. ``x_ticks`` names the points of a categorical axis
    (0, 1, ...); ``y_range`` fixes the y axis (default: the data's range)."""

    title: str
    x_label: str
    y_label: str
    series: list[Series]
    x_ticks: list[str] | None = None
    y_range: tuple[float, float] | None = None


@dataclass
class ScatterChart(SectionData):
    """A scatter chart of labelled points ``{"label", "x", "y"}`` (NaN: no point), x from 0."""

    title: str
    x_label: str
    y_label: str
    points: list[dict[str, Any]]
