"""The offline, self-contained HTML report."""

from .build import DEFAULT_METHODS, build_report, heat_color

__all__ = ["build_report", "DEFAULT_METHODS", "heat_color"]
