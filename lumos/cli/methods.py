"""``lumos methods``: the registered attribution methods, one line each."""

from __future__ import annotations

import click


@click.command()
def methods() -> None:
    """List the attribution methods."""
    from ..attribution import get_method, method_names

    for name in method_names():
        doc = (get_method(name).__doc__ or "").strip().splitlines()[0]
        click.echo(f"{name:<22} {doc}")
