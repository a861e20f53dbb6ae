"""``lumos zoo list`` and ``lumos zoo build NAME``: the zoo's models and datasets."""

from __future__ import annotations

import json

import click

from ._common import emit_rows, format_option, friendly_errors


@click.group()
def zoo() -> None:
    """Models and datasets that ship inside installable packages."""


@zoo.command("list")
@format_option
def zoo_list(fmt: str) -> None:
    """List zoo models and datasets, with the held-out accuracy of built ones."""
    from .. import zoo as _zoo

    rows = []
    for name in _zoo.names():
        info = _zoo.info(name)
        if "test_accuracy" in info:
            status = f"test accuracy {info['test_accuracy']:.3f}"
        elif "test_r2" in info:  # a regressor
            status = f"test R² {info['test_r2']:.3f}"
        else:  # shipped weights (imagenet-efficientnet-lite0) have nothing to build and no held-out split here
            status = "ready" if info["built"] else "not built yet"
        rows.append({"kind": "model", "name": name, "status": status, "description": info["description"]})
    rows += [{"kind": "dataset", "name": name, "status": "", "description": ""} for name in _zoo.datasets()]
    emit_rows(rows, fmt, title=f"lumos zoo (built parts in {_zoo.cache_dir() / 'zoo'})")


@zoo.command("build")
@click.argument("name")
@friendly_errors
def zoo_build(name: str) -> None:
    """(Re)build a zoo model's trained parts and report its held-out accuracy."""
    from .. import zoo as _zoo

    meta = _zoo.build(name, progress=True)
    click.echo(json.dumps(meta, indent=2))
    if "test_r2" in meta:  # a regressor
        click.echo(f"{name}: test R² {meta['test_r2']:.4f} on {meta['n_test']} held-out examples")
        return
    if "test_accuracy" not in meta:
        click.echo(f"{name}: ready (shipped weights; nothing to train)")
        return
    click.echo(f"{name}: test accuracy {meta['test_accuracy']:.4f} on {meta['n_test']} held-out examples "
               f"(built in {meta['seconds']:.0f} s)")
