"""``lumos methods``: the registered attribution methods, one line each."""

from __future__ import annotations

import click

from ._common import emit_rows, format_option


@click.command()
@format_option
def methods(fmt: str) -> None:
    """List the attribution methods."""
    from ..attribution import get_method, method_names

    rows = [{"name": name, "description": (get_method(name).__doc__ or "").strip().splitlines()[0]}
            for name in method_names()]
    emit_rows(rows, fmt, title="Attribution methods")
