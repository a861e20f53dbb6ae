"""Compare compressed models with their original: accuracy, agreement, size, latency, and how far each
attribution method's explanations drift."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..attribution import get_method
from ..engine import track
from ..errors import InvalidArgumentError, check_int
from ..metrics import faithfulness, rank_agreement, topk_overlap
from ..metrics._common import mean_ci
from ..models import ModelAdapter, as_adapter
from ._common import count_parameters, spec_of
from .storage import write_weights

__all__ = ["MethodDrift", "ModelSummary", "Comparison", "compare", "latency_ms", "interleaved_latency", "DEFAULT_METHODS"]

#: Methods whose drift :func:`compare` measures by default, with their settings: two gradient methods and a
#: perturbation method, so that both kinds of explanation are watched.
DEFAULT_METHODS: dict[str, dict[str, Any]] = {
    "saliency": {},
    "integrated_gradients": {"n_steps": 32},
    "occlusion": {},
}


@dataclass(frozen=True)
class MethodDrift:
    """One attribution method on one model, against the same method on the original.

    Each statistic is ``(mean, 95% CI half-width)`` over the explained examples.

    Attributes
    ----------
    rank_correlation : (float, float) or None
        Spearman ρ between the word attributions of the original and of this model, explaining the class the
        original predicts. **Higher is better** (1: the same ranking). None for the original itself.
    topk_overlap : (float, float) or None
        Share of the ``k`` words of largest |attribution| both models' explanations name. **Higher is better.**
    faithfulness : (float, float)
        The faithfulness gap (LeRF − MoRF deletion AUC, :func:`lumos.metrics.faithfulness`) of this model's own
        explanations on this model. **Higher is better**; compare with the original's row.
    seconds_per_explanation : float
    """

    method: str
    rank_correlation: tuple[float, float] | None
    topk_overlap: tuple[float, float] | None
    faithfulness: tuple[float, float]
    seconds_per_explanation: float


@dataclass(frozen=True)
class ModelSummary:
    """One row of the comparison: a model (the original first) and what compression cost and saved.

    Attributes
    ----------
    name, spec : str
        The model's name and its compression steps (``"original"`` for the reference).
    accuracy : float or None
        On the labelled examples, when labels were given.
    agreement : float
        Share of examples on which this model predicts the original's class.
    mean_probability_change : float
        Mean over examples of max |p_compressed − p_original| over classes.
    parameters, nonzero_parameters : int
        Parameter count (int8 weights included) and how many are non-zero.
    bytes : int
        Size of the weights on disk as :func:`lumos.compression.save` writes them (safetensors; pruned tensors
        stored sparsely, int8 weights as int8).
    latency_ms : float
        Milliseconds per example at batch size 1 (one text per call, as a service sees them): the median over
        the repeats of the mean over the timed examples; the models are timed in turns
        (:func:`interleaved_latency`), so they share whatever load the machine had.
    drift : dict of str to MethodDrift
    """

    name: str
    spec: str
    accuracy: float | None
    agreement: float
    mean_probability_change: float
    parameters: int
    nonzero_parameters: int
    bytes: int
    latency_ms: float
    drift: dict[str, MethodDrift] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`: ``rows[0]`` is the original."""

    rows: tuple[ModelSummary, ...]
    methods: tuple[str, ...]
    n_examples: int
    n_explained: int
    k: int

    def to_dict(self) -> dict[str, Any]:
        return {"n_examples": self.n_examples, "n_explained": self.n_explained, "k": self.k,
                "methods": list(self.methods), "rows": [asdict(r) for r in self.rows]}

    def render(self) -> list[Any]:
        """Two rich tables: the models (accuracy, size, latency), then each method's drift on each model."""
        from rich.table import Table

        original = self.rows[0]
        models = Table(title=f"Compression of {original.name} on {self.n_examples} held-out examples")
        for column in ("model", "accuracy", "agreement", "params (M)", "non-zero (M)", "MB", "size ×", "ms/ex.",
                       "time ×"):
            models.add_column(column, justify="left" if column == "model" else "right")
        for r in self.rows:
            models.add_row(r.spec, "–" if r.accuracy is None else f"{r.accuracy:.3f}", f"{r.agreement:.3f}",
                           f"{r.parameters / 1e6:.2f}", f"{r.nonzero_parameters / 1e6:.2f}", f"{r.bytes / 1e6:.1f}",
                           f"{r.bytes / original.bytes:.2f}", f"{r.latency_ms:.1f}",
                           f"{r.latency_ms / original.latency_ms:.2f}")
        drift = Table(title=f"Explanation drift on {self.n_explained} examples (↑ higher is better)")
        for column in ("model", "method", "rank ρ ↑", f"top-{self.k} ↑", "faithfulness ↑", "s/expl."):
            drift.add_column(column, justify="left" if column in ("model", "method") else "right")
        for r in self.rows:
            for m in self.methods:
                d = r.drift[m]
                drift.add_row(r.spec, m, _cell(d.rank_correlation), _cell(d.topk_overlap), _cell(d.faithfulness),
                              f"{d.seconds_per_explanation:.3g}")
        return [models, drift]


def _cell(stat: tuple[float, float] | None) -> str:
    if stat is None:
        return "–"
    mean, half = stat
    return f"{mean:.3f}" + (f" ± {half:.3f}" if np.isfinite(half) else "")


def latency_ms(adapter: ModelAdapter, examples: Sequence[Any], *, repeats: int = 5, warm_up: bool = True) -> float:
    """Milliseconds per example, one example per call: median over ``repeats`` of the mean over
    ``examples`` (after one untimed warm-up call)."""
    repeats = check_int(repeats, "repeats", owner="latency_ms", minimum=1)
    if warm_up:
        adapter.predict(list(examples[:1]), batch_size=1)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for x in examples:
            adapter.predict([x], batch_size=1)
        runs.append((time.perf_counter() - t0) / len(examples))
    return float(np.median(runs) * 1000)


def interleaved_latency(adapters: Sequence[ModelAdapter], examples: Sequence[Any], *, repeats: int = 5) -> list[float]:
    """:func:`latency_ms` of several models measured in turns: each repeat times every model once, in an order
    rotated from repeat to repeat, so that a change of machine load during the measurement hits all models
    alike rather than whichever was timed then. Returns one median per model."""
    repeats = check_int(repeats, "repeats", owner="latency_ms", minimum=1)
    runs: list[list[float]] = [[] for _ in adapters]
    for a in adapters:
        a.predict(list(examples[:1]), batch_size=1)  # warm-up
    for r in range(repeats):
        for j in range(len(adapters)):
            i = (j + r) % len(adapters)
            runs[i].append(latency_ms(adapters[i], examples, repeats=1, warm_up=False))
    return [float(np.median(x)) for x in runs]


def _methods(methods: Sequence[str] | Mapping[str, Mapping[str, Any]] | None) -> dict[str, tuple[type, dict]]:
    if methods is None:
        methods = DEFAULT_METHODS
    if isinstance(methods, str):
        methods = [methods]
    settings = methods if isinstance(methods, Mapping) else {m: DEFAULT_METHODS.get(m, {}) for m in methods}
    out = {}
    for name, options in settings.items():
        cls = get_method(name)
        out[cls.name] = (cls, dict(options))
    if not out:
        raise InvalidArgumentError("The 'methods' parameter of compare must name at least one attribution method.")
    return out


def _stat(values: np.ndarray) -> tuple[float, float]:
    mean, half, _ = mean_ci(values)
    return mean, half


def compare(original: Any, compressed: Sequence[Any] | Mapping[str, Any], texts: Sequence[Any],
            labels: Sequence[int] | None = None, *, methods: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
            n_explain: int = 20, k: int = 3, latency_examples: int = 20, latency_repeats: int = 5,
            batch_size: int = 64, progress: bool | None = None) -> Comparison:
    """Measure what compression did: accuracy, agreement with the original, parameters, bytes, latency, and
    the drift of each attribution method's explanations.

    Parameters
    ----------
    original : adapter or zoo name
        The uncompressed model.
    compressed : sequence of adapters, or mapping of label to adapter
        Models from :mod:`lumos.compression` (or any adapter of the same task).
    texts : sequence
        Held-out examples (never the data a student was trained on).
    labels : sequence of int, optional
        Their classes, for accuracy.
    methods : names, or mapping of name to settings, default :data:`DEFAULT_METHODS`
    n_explain : int, default 20
        Examples explained by each method on each model (the first ``n_explain`` of ``texts``).
    k : int, default 3
        Top-k words compared.
    latency_examples, latency_repeats : int, default 20, 5
    batch_size : int, default 64
        Rows per forward pass for accuracy and agreement.

    Returns
    -------
    Comparison

    References
    ----------
    Park, Lee, Kang, Lee. Investigating the effect of model compression on the robustness and
    interpretability of neural networks (explanations deform under pruning while accuracy holds), 2020.
    """
    owner = "compare"
    reference = as_adapter(original)
    if isinstance(compressed, Mapping):
        models = {str(label): as_adapter(m) for label, m in compressed.items()}
    else:
        models = {}
        for m in compressed:
            a = as_adapter(m)
            models[" + ".join(spec_of(s) for s in a.compression) or a.name] = a
    examples, _ = reference.split_inputs(list(texts))
    n_explain = min(check_int(n_explain, "n_explain", owner=owner, minimum=1), len(examples))
    k = check_int(k, "k", owner=owner, minimum=1)
    latency_examples = min(check_int(latency_examples, "latency_examples", owner=owner, minimum=1), len(examples))
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(examples),):
            raise InvalidArgumentError(f"The 'labels' parameter of {owner} must hold one class per example "
                                       f"({len(examples)}). Got shape {labels.shape}.")
    for label, m in models.items():
        if tuple(m.class_names) != tuple(reference.class_names):
            raise InvalidArgumentError(f"{owner}: the model {label!r} has classes {m.class_names}, the original "
                                       f"{reference.class_names}; compressed models must keep the original's classes.")
    chosen = _methods(methods)
    explained = examples[:n_explain]
    timed = examples[:latency_examples]

    base_probs = reference.predict_proba(examples, batch_size=batch_size)
    base_pred = base_probs.argmax(1)
    reference_explanations: dict[str, Any] = {}
    rows = []
    everything = [("original", reference)] + list(models.items())
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, adapter) in enumerate(track(everything, description="Comparing models", enabled=progress)):
            probs = base_probs if i == 0 else adapter.predict_proba(examples, batch_size=batch_size)
            pred = probs.argmax(1)
            total, nonzero = count_parameters(adapter.module)
            drift = {}
            for name, (cls, options) in chosen.items():
                method = cls(adapter, **options)
                t0 = time.perf_counter()
                targets = None if i == 0 else [e.target for e in reference_explanations[name]]
                result = method.attribute(explained, target=targets)
                seconds = (time.perf_counter() - t0) / len(explained)
                gaps = np.array([r.gap for r in faithfulness(adapter, result, inputs=explained, batch_size=batch_size)])
                if i == 0:
                    reference_explanations[name] = result
                    drift[name] = MethodDrift(name, None, None, _stat(gaps), seconds)
                else:
                    ref = reference_explanations[name]
                    drift[name] = MethodDrift(name, _stat(rank_agreement(ref, result)),
                                              _stat(topk_overlap(ref, result, k=k)), _stat(gaps), seconds)
            rows.append(ModelSummary(
                name=adapter.name, spec=label,
                accuracy=float((pred == labels).mean()) if labels is not None else None,
                agreement=float((pred == base_pred).mean()),
                mean_probability_change=float(np.abs(probs - base_probs).max(1).mean()),
                parameters=total, nonzero_parameters=nonzero,
                bytes=write_weights(adapter, Path(tmp) / f"{i}.safetensors"),
                latency_ms=float("nan"), drift=drift))
    latencies = interleaved_latency([a for _, a in everything], timed, repeats=latency_repeats)
    rows = [replace(r, latency_ms=ms) for r, ms in zip(rows, latencies)]
    return Comparison(rows=tuple(rows), methods=tuple(chosen), n_examples=len(examples), n_explained=n_explain, k=k)
