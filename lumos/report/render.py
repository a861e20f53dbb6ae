"""The one HTML renderer of the report: section data (:mod:`lumos.report.common` and the section modules) to
one self-contained page, with the package's jinja2 templates and the drawing of :mod:`lumos.report.plots`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from . import plots
from .common import HeatCell

__all__ = ["render_report", "write_report", "TEMPLATES"]

#: The page template of each kind of report (``ReportData.kind``).
TEMPLATES = {"texts": "report.html", "tables": "table_report.html", "images": "image_report.html",
             "generations": "generation_report.html"}

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("lumos.report", "templates"),
    autoescape=True,  # every value that reaches the page is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=plots.isolate,  # every value placed on the page is isolated from the text around it (bidi)
)


def _fmt(value: Any, digits: int = 4) -> str:
    """Numbers for people: integers with thousands separators, other floats to ``digits`` significant digits
    (a float too large for them in plain notation is rounded to a whole number: 14,283, never 1.428e+04)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "–"
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if 10 ** digits <= abs(value) < 1e15:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def _cell_label(cell: HeatCell) -> str:
    """What a heat cell shows: the word, or for a table row ``feature = value (attribution)``."""
    if cell.feature_value is None:
        return cell.word
    return f"{cell.word} = {_fmt(float(cell.feature_value))} ({cell.value:+.3g})"


_env.filters["fmt"] = _fmt
_env.globals.update(
    heat_color=plots.heat_color, cell_label=_cell_label, line_chart_svg=plots.line_chart_svg,
    scatter_chart_svg=plots.scatter_chart_svg, reliability_bars=plots.reliability_bars,
    interval_bars=plots.interval_bars, attention_cells=plots.attention_cells, probe_bars=plots.probe_bars,
    projection_points=plots.projection_points, class_colors=plots.class_colors,
)


def render_report(report: Any, template: str | None = None) -> str:
    """The page of ``report`` (a :class:`~lumos.report.build.ReportData`) from one of the templates; default:
    the template of its kind (:data:`TEMPLATES`)."""
    css = _env.loader.get_source(_env, "report.css")[0]
    return _env.get_template(template or TEMPLATES[report.kind]).render(r=report, css=css)


def write_report(report: Any, out: str | Path) -> Path:
    """Write the page of ``report`` to ``out/index.html`` (``out`` is created) and return its path.

    The page is rendered first and written atomically (temporary file, then rename): a failed or killed run
    leaves no empty or half-written page."""
    from ..engine.files import write_text_atomic

    page = render_report(report)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(out / "index.html", page)
