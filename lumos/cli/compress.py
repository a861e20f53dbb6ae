"""``lumos compress``: compress a model by one or more specs, save each copy and compare them with the original
(:func:`lumos.compression.compress_each`, :func:`lumos.compression.compare`)."""

from __future__ import annotations

import json

import click

from ..errors import InvalidArgumentError
from ._common import (DEFAULT_MODEL, MODEL_HELP, OUT_DEFAULT_HELP, deprecated_alias, friendly_errors, model_data, names,
                      output_dir, text_model)
from ._common import count, number

_SPECS_HELP = ("Comma-separated compressions: prune:S (global magnitude pruning to sparsity S), heads:K (K heads "
               "removed per layer), neurons:F (fraction F of feed-forward neurons removed), int8, distill:L (an "
               "L-block student); chain steps with + (heads:4+int8). Repeat the option or list several to compare "
               "them, as in `lumos report --compress`.")


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--specs", "specs", multiple=True, metavar="SPECS", help=_SPECS_HELP)
@click.option("--data", default=None, help="Zoo dataset or CSV file with 'text' and 'label' columns, for the "
                                           "comparison. Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["validation", "test"]),
              help="Held-out split the models are compared on.")
@click.option("--n", "n_examples", default=300, show_default=True, type=count(1), help="Held-out examples compared.")
@click.option("--n-explain", default=20, show_default=True, type=count(0),
              help="Examples explained by each attribution method on each model.")
@click.option("--methods", default=None,
              help="Comma-separated attribution methods whose drift is measured. [default: saliency,"
                   "integrated_gradients,occlusion]")
@click.option("--importance", default=None, type=click.Choice(["magnitude", "ablation", "activation"]),
              help="How heads (magnitude, ablation) or neurons (magnitude, activation) are ranked; measured "
                   "rankings use training texts. [default: magnitude]")
@click.option("--train", "train_data", default=None,
              help="Training texts for distill and measured rankings: a CSV with 'text' and 'label' columns. "
                   "Default: the zoo dataset's train split.")
@click.option("--train-n", default=None, type=count(1), help="Use only the first N training texts.")
@click.option("--labels-n", default=None, type=count(0),
              help="Keep the labels of only the first N training texts: distill learns the others from the teacher "
                   "alone (a transfer set). [default: all labelled]")
@click.option("--hidden-weight", default=None, type=number(0),
              help="Weight of distill's hidden-state term (0 turns it off). [default: 1.0]")
@click.option("--epochs", default=3, show_default=True, type=count(1), help="Training epochs of distill.")
@click.option("--out", default=None,
              help="Directory that receives one model directory per spec (safetensors + config; TensorBoard logs of "
                   "distill under tensorboard/). " + OUT_DEFAULT_HELP.format(kind="compressed"))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@deprecated_alias("--method", "--specs", multiple=True)
@deprecated_alias("--explain", "--n-explain", type=count(0))
@friendly_errors
def compress(model: str, specs: tuple[str, ...], data: str | None, split: str, n_examples: int, n_explain: int,
             methods: str | None, importance: str | None, train_data: str | None, train_n: int | None,
             labels_n: int | None, hidden_weight: float | None, epochs: int, out: str | None, as_json: bool) -> None:
    """Compress the model, save each compressed copy, and compare them with the original: accuracy, agreement,
    size, latency, and the drift of each attribution method's explanations."""
    from .. import compression
    from ..errors import check_int, check_output_path
    from ..zoo.data import dataset_kind, load_labelled_texts

    chosen = [spec for given in specs for spec in names(given) or ()]
    if not chosen:
        raise InvalidArgumentError("The '--specs' option is required: one or more compressions such as "
                                   "prune:0.5,heads:4+int8 (see `lumos compress --help`).")
    needs_training = compression.needs_training(chosen, importance)  # fails on a bad spec before any work
    out = str(check_output_path(output_dir(out, "compressed", model), "--out", kind="directory"))
    chosen_methods = names(methods, "--methods")
    if chosen_methods is not None:
        from ..attribution import get_method

        for name in chosen_methods:  # an unknown name fails now, not after the models are written
            get_method(name)
    n_examples = check_int(n_examples, "--n", minimum=1)
    adapter = text_model(model, "compress")
    data = model_data(adapter, data, "a CSV file with 'text' and 'label' columns")
    held_out = load_labelled_texts(data, adapter.class_names, split=split, argument="--data")
    texts = labels = None
    if needs_training:
        if train_data is None and dataset_kind(data) is None:
            raise InvalidArgumentError("distill and measured rankings need training texts: pass --train CSV.")
        train = load_labelled_texts(train_data or data, adapter.class_names, split="train",
                                    argument="--train" if train_data else "--data")
        keep = len(train.texts) if train_n is None else check_int(train_n, "--train-n", minimum=1)
        texts, labels = list(train.texts[:keep]), train.labels[:keep]
    validation = ((held_out.texts[:n_examples], held_out.labels[:n_examples]) if split == "validation" else None)
    compressed = compression.compress_each(adapter, chosen, texts=texts, labels=labels, labels_n=labels_n,
                                           importance=importance, hidden_weight=hidden_weight, epochs=epochs,
                                           validation=validation, out=out, progress=None,
                                           echo=lambda line: click.echo(line, err=True))
    comparison = compression.compare(adapter, compressed, list(held_out.texts[:n_examples]),
                                     held_out.labels[:n_examples], methods=chosen_methods, n_explain=n_explain,
                                     progress=None)
    click.echo(f"compressed models written to {out}", err=True)
    if as_json:
        click.echo(json.dumps({"data": held_out.name, **comparison.to_dict()}, indent=2, default=float))
        return
    from ..display import print_tables

    print_tables(comparison.render())
