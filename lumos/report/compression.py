"""The report's "Compression" section: the comparison table of :func:`lumos.compression.compare` and plots of
accuracy and explanation drift against size (inline SVG, no script). Labels are escaped here."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

import numpy as np

from ..compression import Comparison, compare, compress
from .data import LabelledTexts
from .quality import _PALETTE, plot_frame

__all__ = ["compression_section", "scatter_svg"]


def scatter_svg(points: Sequence[tuple[str, float, float]], *, title: str, x_label: str, y_label: str,
                width: int = 460, height: int = 300) -> str:
    """An inline SVG scatter of labelled ``(label, x, y)`` points, x from 0; NaN points are skipped."""
    shown = [(n, float(x), float(y)) for n, x, y in points if np.isfinite(x) and np.isfinite(y)]
    xs = [x for _, x, _ in shown] or [1.0]
    ys = [y for _, _, y in shown] or [0.0, 1.0]
    pad = max((max(ys) - min(ys)) * 0.15, 0.02)
    parts, px, py = plot_frame(title=title, x_label=x_label, y_label=y_label, x_range=(0.0, max(1.05, max(xs) * 1.05)),
                               y_range=(min(ys) - pad, max(ys) + pad), width=width, height=height, right=16)
    for k, (name, x, y) in enumerate(shown):
        color = _PALETTE[k % len(_PALETTE)]
        parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"><title>{escape(name)}: '
                     f'{x:.2f}, {y:.3f}</title></circle>'
                     f'<text x="{px(x) + 6:.1f}" y="{py(y) - 5:.1f}" font-size="10" fill="{color}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def compression_section(adapter: Any, specs: Sequence[str], held_out: LabelledTexts, train: LabelledTexts | None, *,
                        n_explain: int = 20, batch_size: int = 64, progress: bool | None = None) -> dict[str, Any]:
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


def layout(result: Comparison, data: str) -> dict[str, Any]:
    """Table rows and plots of a comparison."""
    original = result.rows[0]
    rows = [{"spec": r.spec, "accuracy": r.accuracy, "agreement": r.agreement, "parameters": r.parameters,
             "nonzero": r.nonzero_parameters, "mb": r.bytes / 1e6, "size": r.bytes / original.bytes,
             "latency": r.latency_ms, "speed": r.latency_ms / original.latency_ms,
             "drift": [{"method": m, "rho": r.drift[m].rank_correlation, "topk": r.drift[m].topk_overlap,
                        "faithfulness": r.drift[m].faithfulness} for m in result.methods]} for r in result.rows]
    size = [r.bytes / original.bytes for r in result.rows]
    plots = [scatter_svg([(r.spec, s, r.accuracy if r.accuracy is not None else np.nan)
                          for r, s in zip(result.rows, size)],
                         title="Accuracy against size", x_label="bytes on disk / original", y_label="accuracy")]
    for m in result.methods:
        plots.append(scatter_svg([(r.spec, s, r.drift[m].rank_correlation[0]) for r, s in zip(result.rows[1:], size[1:])],
                                 title=f"{m}: agreement with the original's explanations",
                                 x_label="bytes on disk / original", y_label="rank correlation ρ"))
    return {"data": data, "n": result.n_examples, "n_explained": result.n_explained, "k": result.k,
            "methods": list(result.methods), "rows": rows, "plots": plots}
