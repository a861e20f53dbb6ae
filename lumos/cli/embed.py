"""``lumos embed``: a text model's hidden states, per layer, for TensorBoard's embedding projector."""

from __future__ import annotations

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, count, friendly_errors, load_for_analysis, names


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset or CSV file with 'text' and 'label' columns. Default: the "
                                           "zoo model's own dataset.")
@click.option("--split", default="validation", show_default=True,
              type=click.Choice(["train", "validation", "test"]), help="Split embedded.")
@click.option("--n", "n_examples", default=300, show_default=True, type=count(1), help="Examples embedded.")
@click.option("--sites", default=None, help="Comma-separated site names or patterns (see `lumos layers`). "
                                            "[default: the embeddings and every block's output]")
@click.option("--reduce", default="mean", show_default=True, type=click.Choice(["mean", "max", "first"]),
              help="How a text's tokens become one point.")
@click.option("--tensorboard", "tensorboard", required=True, metavar="DIR",
              help="Directory to write the projector's data to (created if missing); then "
                   "`tensorboard --logdir DIR`, Projector tab.")
@friendly_errors
def embed(model: str, data: str | None, split: str, n_examples: int, sites: str | None, reduce: str,
          tensorboard: str) -> None:
    """Write hidden states (one point per text, per layer) with their text and label to TensorBoard's projector."""
    import numpy as np

    from ..errors import InvalidArgumentError, check_int
    from ..representation import collect, to_tensorboard

    n_examples = check_int(n_examples, "--n", minimum=1)
    adapter, labelled = load_for_analysis(model, data, split, "embed")
    if labelled.kind != "texts":
        raise InvalidArgumentError("`lumos embed` needs a text model and text data (hidden states per token).")
    texts, labels = list(labelled.inputs[:n_examples]), np.asarray(labelled.labels[:n_examples])
    acts = collect(adapter, texts, names(sites, "--sites"), reduce=reduce, progress=None)
    label_names = [adapter.class_names[int(i)] for i in labels]
    out = to_tensorboard(acts, tensorboard, metadata={"text": texts, "label": label_names})
    click.echo(f"Wrote {len(acts.sites)} embeddings ({', '.join(acts.sites)}) of {len(texts)} texts of "
               f"{labelled.name} to {out}; view with: tensorboard --logdir {out}")
