"""The offline, self-contained HTML report: :func:`report_data` computes it as data, :func:`build_report`
renders and writes it."""

from .build import DEFAULT_METHODS, build_report, report_data
from .plots import heat_color

__all__ = ["build_report", "report_data", "DEFAULT_METHODS", "heat_color"]
