"""``lumos layers``: what each layer encodes, by linear probes and PCA (:mod:`lumos.representation`)."""

from __future__ import annotations

import json

import click

from ..errors import InvalidArgumentError
from ._common import DEFAULT_MODEL, MODEL_HELP, friendly_errors, load_for_analysis
from ._common import count


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset or CSV file with 'text' and 'label' columns. Default: the "
                                           "zoo model's own dataset.")
@click.option("--split", default="validation", show_default=True,
              type=click.Choice(["train", "validation", "test"]), help="Split probed (held-out by default).")
@click.option("--n", "n_examples", default=300, show_default=True, type=count(1), help="Examples used.")
@click.option("--cv", default=5, show_default=True, type=count(2), help="Cross-validation folds of each probe.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@friendly_errors
def layers(model: str, data: str | None, split: str, n_examples: int, cv: int, as_json: bool) -> None:
    """What each layer encodes: cross-validated linear-probe accuracy for the label and PCA variance, per layer."""
    import numpy as np

    from ..errors import check_int
    from ..representation import collect, probe, project

    n_examples = check_int(n_examples, "--n", minimum=2 * cv)
    adapter, labelled = load_for_analysis(model, data, split, "layers")
    if labelled.kind != "texts":
        raise InvalidArgumentError("`lumos layers` needs a text model and text data; tables have no layers.")
    texts, labels = list(labelled.inputs[:n_examples]), np.asarray(labelled.labels[:n_examples])
    acts = collect(adapter, texts, progress=None)
    result = probe(acts, labels, cv=cv, progress=None)
    pca = project(acts, labels, method="pca")
    if as_json:
        out = result.to_dict()
        for row in out["sites"]:
            row["pca_explained_variance"] = pca[row["site"]].quality["explained_variance"]
        click.echo(json.dumps({"data": labelled.name, "split": split, **out}, indent=2))
        return
    click.echo(f"Linear probes for the label on {len(texts)} examples of {labelled.name} "
               f"({cv}-fold CV; majority class {result.chance:.3f}):")
    click.echo(f"  {'site':<18} {'accuracy':>9} {'± std':>7}  {'PCA-2 variance':>14}")
    for site, acc, std in zip(result.sites, result.accuracy, result.std):
        click.echo(f"  {site:<18} {acc:>9.3f} {std:>7.3f}  {pca[site].quality['explained_variance']:>14.3f}")
