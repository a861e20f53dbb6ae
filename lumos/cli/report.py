"""``lumos report``: the offline HTML report of a model (:func:`lumos.report.build_report`)."""

from __future__ import annotations

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, deprecated_alias, friendly_errors, names
from ._common import count


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns. "
              "Default: the zoo model's own held-out split.")
@click.option("--n", default=50, show_default=True, type=count(1), help="Held-out examples to explain.")
@click.option("--out", default="lumos-report", show_default=True, help="Output directory.")
@click.option("--methods", default=None, help="Comma-separated method names. Default: the gradient methods and the "
              "perturbation methods (occlusion, lime, ...) that are registered.")
@click.option("--quality-n", default=0, show_default=True, type=count(0),
              help="Texts for the 'Explanation quality' section (every method x metric, as `lumos evaluate`); "
                   "0 leaves it out.")
@click.option("--compress", default=None, metavar="SPECS",
              help="Comma-separated compressions for the 'Compression' section, e.g. prune:0.5,heads:4,int8 "
                   "(forms as in `lumos compress --specs`); default: none.")
@deprecated_alias("--quality", "--quality-n", type=count(0))
@friendly_errors
def report(model: str, data: str | None, n: int, out: str, methods: str | None, quality_n: int,
           compress: str | None) -> None:
    """Write the offline HTML report (OUT/index.html)."""
    from ..report import build_report

    path = build_report(model, data=data, n=n, out=out, methods=names(methods, "--methods"), progress=True, quality_n=quality_n,
                        compress=names(compress, "--compress") or [])
    click.echo(f"Report written to {path}")
