"""``lumos global``: what drives the model over a dataset (:mod:`lumos.global_`)."""

from __future__ import annotations

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, deprecated_alias, friendly_errors, load_for_analysis
from ._common import count


@click.command(name="global")
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset or CSV file. Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "validation", "test"]),
              help="Held-out split to measure on.")
@click.option("--n-repeats", default=5, show_default=True, type=count(2), help="Permutation repeats (tables).")
@click.option("--max-depth", default=3, show_default=True, type=count(1), help="Surrogate tree depth.")
@click.option("--n", "n_explained", default=100, show_default=True, type=count(1),
              help="Examples explained for aggregated local importance.")
@click.option("--method", default="occlusion", show_default=True, help="Local method aggregated.")
@click.option("--top", default=10, show_default=True, type=count(1), help="Features shown.")
@click.option("--rows", default=None, type=count(1), help="Use only the first ROWS held-out examples (default: all).")
@click.option("--fit-rows", default=1000, show_default=True, type=count(1),
              help="Training texts the surrogate tree of a text model is fitted on (tables use the whole split).")
@deprecated_alias("--repeats", "--n-repeats", type=count(2))
@deprecated_alias("--depth", "--max-depth", type=count(1))
@friendly_errors
def global_(model: str, data: str | None, split: str, n_repeats: int, max_depth: int, n_explained: int, method: str,
            top: int, rows: int | None, fit_rows: int) -> None:
    """Print what drives the model over a dataset: permutation importance (tables), a surrogate tree with its
    fidelity and a decision path, and mean |attribution| per feature or word and per class."""
    from ..attribution import get_method
    from ..errors import check_int
    from ..global_ import SurrogateTree, aggregate_importance, permutation_importance

    adapter, labelled = load_for_analysis(model, data, split, "global")
    table = labelled.kind == "tables"
    if rows is not None:
        labelled = labelled.head(check_int(rows, "--rows", minimum=1))
    if table:
        result = permutation_importance(adapter, labelled.inputs, labelled.labels, n_repeats=n_repeats,
                                        progress=None)
        click.echo(f"Permutation importance on {labelled.name} (accuracy drop, mean and "
                   f"{result.confidence:.0%} interval over {n_repeats} repeats; baseline {result.baseline:.3f}):")
        for name, mean, low, high in result.ranked()[:top]:
            click.echo(f"  {name:<28} {mean:+.4f}  [{low:+.4f}, {high:+.4f}]")
    if labelled.train is not None:
        train = labelled.train if table else labelled.train[:fit_rows]
        tree = SurrogateTree(adapter, max_depth=max_depth).fit(train)
        click.echo(f"Surrogate tree (depth {max_depth}, fitted on {len(train)} training rows"
                   f"{'' if table else ', split on word presence'}): fidelity {tree.fidelity(labelled.inputs):.3f} "
                   f"on {labelled.name}")
        click.echo(tree.rules().rstrip())
        click.echo("Decision path of example 0: " + " | ".join(tree.path(labelled.head(1).inputs if table
                                                                        else labelled.inputs[0])))
    else:
        click.echo("Surrogate tree: no training split for a CSV file; use a zoo dataset.")
    explained = get_method(method)(adapter).attribute(labelled.head(n_explained).inputs)
    g = aggregate_importance(explained)
    click.echo(f"Mean |{g.method}| over {g.n_explanations} explanations (explained class: predicted):")
    min_count = 1 if table else 3
    for name, mean_abs, mean, count in g.top(top, min_count=min_count):
        click.echo(f"  {name:<28} {mean_abs:.4f}  (signed {mean:+.4f}, n {count})")
    for cls in sorted(g.per_class):
        words = ", ".join(f for f, *_ in g.top(5, cls=cls, min_count=min_count))
        click.echo(f"  for {cls}: {words}")
