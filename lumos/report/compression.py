"""The report's "Compression" section as plain data: the comparison table of :func:`lumos.compression.compare`
and the points of accuracy and explanation drift against size (drawn by
:func:`lumos.report.plots.scatter_chart_svg`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..compression import Comparison, compare, compress
from .common import ScatterChart, SectionData
from .data import LabelledTexts

__all__ = ["CompressionData", "compression_section", "layout"]


@dataclass
class CompressionData(SectionData):
    """Compressed copies against the original on ``n`` examples of ``data``: per model (``rows``, the original
    first) accuracy, agreement, sizes, latency and the drift of each method's explanations (rank correlation
    and faithfulness as ``(mean, half-width)``, top-``k`` overlap), and the charts against size."""

    data: str
    n: int
    n_explained: int
    k: int
    methods: list[str]
    rows: list[dict[str, Any]]
    plots: list[ScatterChart]


def compression_section(adapter: Any, specs: Sequence[str], held_out: LabelledTexts, train: LabelledTexts | None, *,
                        n_explain: int = 20, batch_size: int = 64, progress: bool | None = None) -> CompressionData:
    """Compress ``adapter`` by each spec, compare on ``held_out``, and lay the result out for the template.

    ``train`` supplies the training texts of ``distill`` steps (and nothing else)."""
    models = {}
    for spec in specs:
        options: dict[str, Any] = {"progress": progress}
        if "distill" in spec:
            if train is None:
                from ..errors import InvalidArgumentError

                raise InvalidArgumentError(f"The compression {spec!r} trains a student, which needs training texts: "
                                           "use a zoo dataset (its train split) for the report's data.")
            options.update(texts=list(train.texts), labels=train.labels)
        models[spec] = compress(adapter, spec, **options)
    result = compare(adapter, models, list(held_out.texts), held_out.labels, n_explain=n_explain,
                     batch_size=batch_size, latency_examples=20, latency_repeats=3, progress=progress)
    return layout(result, held_out.name)


def layout(result: Comparison, data: str) -> CompressionData:
    """Table rows and chart points of a comparison."""
    original = result.rows[0]
    rows = [{"spec": r.spec, "accuracy": r.accuracy, "agreement": r.agreement, "parameters": r.parameters,
             "nonzero": r.nonzero_parameters, "mb": r.bytes / 1e6, "size": r.bytes / original.bytes,
             "latency": r.latency_ms, "speed": r.latency_ms / original.latency_ms,
             "drift": [{"method": m, "rho": r.drift[m].rank_correlation, "topk": r.drift[m].topk_overlap,
                        "faithfulness": r.drift[m].faithfulness} for m in result.methods]} for r in result.rows]
    size = [r.bytes / original.bytes for r in result.rows]
    plots = [ScatterChart("Accuracy against size", "bytes on disk / original", "accuracy",
                          [{"label": r.spec, "x": s, "y": r.accuracy if r.accuracy is not None else np.nan}
                           for r, s in zip(result.rows, size)])]
    for m in result.methods:
        plots.append(ScatterChart(f"{m}: agreement with the original's explanations", "bytes on disk / original",
                                  "rank correlation ρ",
                                  [{"label": r.spec, "x": s, "y": r.drift[m].rank_correlation[0]}
                                   for r, s in zip(result.rows[1:], size[1:])]))
    return CompressionData(data=data, n=result.n_examples, n_explained=result.n_explained, k=result.k,
                           methods=list(result.methods), rows=rows, plots=plots)
