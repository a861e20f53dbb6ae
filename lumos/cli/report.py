"""``lumos report``: the offline HTML report of a model (:func:`lumos.report.build_report`)."""

from __future__ import annotations

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, OUT_DEFAULT_HELP, count, deprecated_alias, friendly_errors, names, output_dir


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns. "
              "Default: the zoo model's own held-out split.")
@click.option("--n", default=50, show_default=True, type=count(1), help="Held-out examples to explain.")
@click.option("--out", default=None, help="Output directory (index.html is written there). "
              + OUT_DEFAULT_HELP.format(kind="reports"))
@click.option("--methods", default=None, help="Comma-separated method names. Default: the gradient methods and the "
              "perturbation methods (occlusion, lime, ...) that are registered.")
@click.option("--quality-n", default=0, show_default=True, type=count(0),
              help="Texts for the 'Explanation quality' section (every method x metric, as `lumos evaluate`); "
                   "0 leaves it out.")
@click.option("--compress", default=None, metavar="SPECS",
              help="Comma-separated compressions for the 'Compression' section, e.g. prune:0.5,heads:4,int8 "
                   "(forms as in `lumos compress --specs`); default: none.")
@click.option("--no-cache", is_flag=True, help="Compute everything anew instead of reusing the held-out predictions "
              "and explanations an earlier report computed for the same model, texts, settings and code (kept, "
              "verified by checksum, in the lumos cache directory; LUMOS_CACHE_DIR overrides it).")
@deprecated_alias("--quality", "--quality-n", type=count(0))
@friendly_errors
def report(model: str, data: str | None, n: int, out: str | None, methods: str | None, quality_n: int,
           compress: str | None, no_cache: bool) -> None:
    """Write the offline HTML report (OUT/index.html)."""
    from ..report import build_report

    path = build_report(model, data=data, n=n, out=output_dir(out, "reports", model),
                        methods=names(methods, "--methods"), progress=True, quality_n=quality_n,
                        compress=names(compress, "--compress") or [], cache=not no_cache)
    click.echo(f"Report written to {path}")
