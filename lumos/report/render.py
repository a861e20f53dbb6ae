"""Render report data to one self-contained HTML page with the package's jinja2 templates."""

from __future__ import annotations

from typing import Any

import jinja2

__all__ = ["render_report"]

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("lumos.report", "templates"),
    autoescape=True,  # every value that reaches the page is escaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
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


_env.filters["fmt"] = _fmt


def render_report(report: Any, template: str = "report.html") -> str:
    """The page of ``report`` (a :class:`~lumos.report.build.ReportData`) from one of the templates."""
    css = _env.loader.get_source(_env, "report.css")[0]
    return _env.get_template(template).render(r=report, css=css)
