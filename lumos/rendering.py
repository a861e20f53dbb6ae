"""Views of result objects for notebooks: offline HTML (``_repr_html_``: no script, no stylesheet or font from a
network, every label escaped and isolated against bidirectional overrides) and matplotlib plots (``.plot()``).

The objects themselves (:class:`~lumos.explanation.Explanation`, ``ExplanationSet``, evaluation results, report
data) call these; the attribution colour is the report's (:func:`heat_color`, also used by its pages).
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # only for annotations: the result objects import this module, not the other way round
    from .explanation import Explanation, ExplanationSet

__all__ = ["heat_color", "isolate", "text", "table_html", "explanation_html", "explanation_set_html", "plot_explanation",
           "plot_explanation_set", "iframe_html", "axes"]

#: Features shown in an explanation's table (the largest |value| first).
TOP = 20
#: Explanations of a set shown inline (the rest are counted).
SHOWN = 5
_BOX = "font-family:system-ui,sans-serif;font-size:13px;line-height:1.5;max-width:60em"


def heat_color(value: float, scale: float) -> str:
    """A CSS background for an attribution: red pushes towards the explained class (or raises the explained
    value), blue away from it."""
    if scale <= 0 or not np.isfinite(value):
        return "transparent"
    a = min(abs(value) / scale, 1.0) * 0.85
    return f"rgba(220,38,38,{a:.3f})" if value > 0 else f"rgba(37,99,235,{a:.3f})"


#: Characters that change the direction of the text after them (embeddings, overrides, isolates, marks).
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def isolate(text: Any) -> Any:
    """``text`` as a first-strong isolate (U+2068 ... U+2069) when it holds direction controls, so that a class name
    holding U+202E cannot flip the text after it; other values (numbers, markup already built) unchanged. For text
    that may land in an attribute (the report's templates and SVG); element content here uses ``<bdi>``."""
    if type(text) is str and _BIDI.search(text):
        return "\u2068" + text + "\u2069"
    return text


def text(value: Any) -> str:
    """Any value as escaped HTML text, isolated so that right-to-left overrides cannot flip what follows."""
    return f"<bdi>{escape(str(value))}</bdi>"


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, np.ndarray):
        return f"{value.size} values"
    value = float(value)
    return "–" if not np.isfinite(value) else f"{value:.{digits}g}"


def table_html(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None) -> str:
    """A plain HTML table; every cell is escaped (numbers formatted to 4 significant digits)."""
    def cell(v: Any) -> str:
        return _num(v) if isinstance(v, (float, np.floating)) else text(v)

    head = "".join(f'<th style="text-align:left;padding:2px 8px">{text(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td style="padding:2px 8px">{cell(v)}</td>' for v in row) + "</tr>"
                   for row in rows)
    cap = f"<caption style='text-align:left'>{text(caption)}</caption>" if caption else ""
    return f'<table style="border-collapse:collapse">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _summary(e: "Explanation") -> str:
    what = "output" if e.output == "value" else "class"
    parts = [f"<b>{text(e.method)}</b> for {what} <b>{text(e.target_label)}</b> ({text(e.output)})"]
    if e.output_value is not None and not isinstance(e.output_value, np.ndarray):
        parts.append(f"value {_num(e.output_value)}")
    if e.base_value is not None and not isinstance(e.base_value, np.ndarray):
        parts.append(f"baseline {_num(e.base_value)}")
    if e.convergence_delta is not None and not isinstance(e.convergence_delta, np.ndarray):
        parts.append(f"completeness delta {float(e.convergence_delta):.2e}")
    parts.append(f"{e.cost.n_evals:,} model evaluations, {e.cost.seconds:.2f} s")
    return " · ".join(parts)


def explanation_html(e: "Explanation") -> str:
    """An explanation as HTML: what was explained, then the words of a text coloured by attribution, or the
    features with the largest attributions as a table (a generation: each generated token's top sources)."""
    out = [f'<div class="lumos-explanation" style="{_BOX}"><div>{_summary(e)}</div>']
    if e.values.ndim == 2:
        rows = []
        for k, label in enumerate(e.targets or ()):
            row = e.row(k)
            rows.append((label, ", ".join(f"{f} {v:+.3g}" for f, v in row.top(3))))
        out.append(table_html(["target", "top sources"], rows))
    elif e.text is not None:
        words, values = e.by_word()
        scale = float(np.abs(values).max()) if len(values) else 0.0
        spans = [f'<span title="{escape(f"{v:+.4g}")}" style="background:{heat_color(float(v), scale)};'
                 f'padding:0 2px;border-radius:3px">{text(w)}</span>' for w, v in zip(words, values)]
        out.append(f"<p>{' '.join(spans)}</p><div style='color:#555'>red: towards {text(e.target_label)}; "
                   "blue: away</div>")
    else:
        order = np.argsort(-np.abs(e.values), kind="stable")[:TOP]
        scale = float(np.abs(e.values).max()) if e.values.size else 0.0
        rows = [f'<tr><td style="padding:1px 8px">{text(e.features[i])}</td><td style="padding:1px 8px;'
                f'text-align:right;background:{heat_color(float(e.values[i]), scale)}">{float(e.values[i]):+.4g}</td>'
                + (f'<td style="padding:1px 8px;color:#555">± {float(e.stderr[i]):.2g}</td>' if e.stderr is not None
                   else "") + "</tr>" for i in order]
        more = len(e.values) - len(order)
        out.append('<table style="border-collapse:collapse"><thead><tr><th style="text-align:left">feature</th>'
                   '<th style="text-align:right">attribution</th></tr></thead><tbody>' + "".join(rows)
                   + "</tbody></table>" + (f"<div style='color:#555'>… and {more:,} more features</div>" if more
                                           else ""))
    out.append("</div>")
    return "".join(out)


def explanation_set_html(items: "ExplanationSet") -> str:
    """A set as HTML: how many explanations of which methods, then the first few."""
    methods = sorted({e.method for e in items})
    head = (f"<div><b>ExplanationSet</b> of {len(items):,} explanations ({', '.join(text(m) for m in methods)}), "
            f"{items.cost.n_evals:,} model evaluations</div>")
    shown = "".join(f"<div style='margin:8px 0;padding-top:4px;border-top:1px solid #ddd'>{explanation_html(e)}</div>"
                    for e in list(items)[:SHOWN])
    more = f"<div style='color:#555'>… and {len(items) - SHOWN:,} more</div>" if len(items) > SHOWN else ""
    return f'<div class="lumos-explanation-set" style="{_BOX}">{head}{shown}{more}</div>'


def iframe_html(page: str, height: int = 640) -> str:
    """A whole self-contained HTML page shown inside a notebook cell (an iframe of the escaped page), so that its
    styles do not leak into the notebook's."""
    return (f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;height:{int(height)}px;border:1px solid '
            '#ddd" sandbox></iframe>')


def axes(ax: Any = None) -> Any:
    """``ax``, or new matplotlib axes (matplotlib is imported only when a plot is drawn)."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError("Plots need matplotlib: pip install matplotlib (or 'lumos[notebook]').") from None

    return plt.subplots(figsize=(6, 4))[1]


def plot_explanation(e: "Explanation", ax: Any = None, k: int = TOP) -> Any:
    """Horizontal bars of the ``k`` features with the largest |attribution| (largest on top); returns the axes."""
    if e.values.ndim != 1:
        from .errors import InvalidArgumentError

        raise InvalidArgumentError("Explanation.plot draws 1-D explanations; plot a generation's rows "
                                   "(explanation.row(k).plot()).")
    ax = axes(ax)
    order = np.argsort(-np.abs(e.values), kind="stable")[:k][::-1]
    values = e.values[order]
    ax.barh(range(len(order)), values, color=["#dc2626" if v > 0 else "#2563eb" for v in values])
    ax.set_yticks(range(len(order)), [str(e.features[i]) for i in order])
    ax.axvline(0, color="#555", linewidth=0.8)
    ax.set_xlabel(f"attribution to {e.target_label} ({e.output})")
    ax.set_title(e.method)
    return ax


def plot_explanation_set(items: "ExplanationSet", ax: Any = None, k: int = TOP) -> Any:
    """Mean |attribution| per feature over a set whose explanations share their features (a table model's)."""
    first = items[0]
    if any(e.values.ndim != 1 or tuple(e.features) != tuple(first.features) for e in items):
        from .errors import InvalidArgumentError

        raise InvalidArgumentError("ExplanationSet.plot needs explanations over the same features (e.g. rows of a "
                                   "table model); plot each explanation of texts of different lengths on its own.")
    mean = np.abs(np.stack([e.values for e in items])).mean(0)
    ax = axes(ax)
    order = np.argsort(-mean, kind="stable")[:k][::-1]
    ax.barh(range(len(order)), mean[order], color="#6b7280")
    ax.set_yticks(range(len(order)), [str(first.features[i]) for i in order])
    ax.set_xlabel(f"mean |attribution| over {len(items)} explanations")
    ax.set_title(", ".join(sorted({e.method for e in items})))
    return ax
