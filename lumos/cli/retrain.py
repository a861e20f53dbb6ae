"""``lumos retrain``: retrain a model from the feedback in a store (right for the right reasons, counterexamples),
save the new version and report accuracy and attribution share before and after (:func:`lumos.feedback.retrain`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidArgumentError
from ._common import OUT_DEFAULT_HELP, SEED, count, friendly_errors, number, output_dir
from .feedback import store_option


@click.command()
@click.option("--model", "-m", required=True,
              help="The model the feedback was given on: a zoo name or a model directory (its model id must match the "
                   "feedback's).")
@store_option
@click.option("--method", default="rrr", show_default=True, type=click.Choice(["rrr", "counterexamples", "both"]),
              help="rrr: a penalty on input gradients at the marked features (Ross et al. 2017); counterexamples: "
                   "copies with the marked features resampled, label kept (CAIPI); both.")
@click.option("--lambda", "lam", default="auto", show_default=True,
              help="Weight of the rrr penalty, or 'auto' (the penalty starts at ten times the cross-entropy).")
@click.option("--train", "train", default="all", show_default=True,
              help="Which parameters change: all, head, or a number N of last layers.")
@click.option("--data", default=None,
              help="Training data: a zoo dataset or a CSV file (text/table and label columns); its validation split "
                   "measures accuracy. [default: the zoo model's own dataset]")
@click.option("--n", "n_train", default=2000, show_default=True, type=count(1),
              help="Use the first N training examples (plus every example with feedback).")
@click.option("--n-validation", default=500, show_default=True, type=count(1), help="Validation examples measured.")
@click.option("--epochs", default=5, show_default=True, type=count(1))
@click.option("--batch-size", default=32, show_default=True, type=count(2))
@click.option("--lr", default=1e-3, show_default=True, type=number(0, exclusive=True), help="Adam's learning rate.")
@click.option("--seed", default=0, show_default=True, type=SEED)
@click.option("--out", default=None,
              help="Directory of the new model version (safetensors + lumos-retrained.json; TensorBoard logs under "
                   "tensorboard/). " + OUT_DEFAULT_HELP.format(kind="retrained"))
@click.option("--json", "as_json", is_flag=True, help="Print the new version's card as JSON.")
@friendly_errors
def retrain(model: str, store_path: str | None, method: str, lam: str, train: str, data: str | None, n_train: int,
            n_validation: int, epochs: int, batch_size: int, lr: float, seed: int, out: str | None,
            as_json: bool) -> None:
    """Retrain MODEL so that it stops using the features people marked irrelevant, and save the new version."""
    from .. import feedback as fb
    from ..errors import check_float, check_int, check_output_path
    from ..models import as_adapter
    from .feedback import open_store

    out = str(output_dir(out, "retrained", model))
    n_train = check_int(n_train, "--n", minimum=1)
    n_validation = check_int(n_validation, "--n-validation", minimum=1)
    weight: float | str = "auto"
    if lam != "auto":
        try:
            weight = check_float(float(lam), "--lambda", minimum=0)
        except (ValueError, InvalidArgumentError):
            raise InvalidArgumentError(f"The '--lambda' option must be a finite number >= 0 or 'auto'. Got {lam!r}.") \
                from None
    check_output_path(out, "--out", kind="directory")
    layers: str | int = int(train) if train.isdigit() else train
    adapter = as_adapter(model)
    store = open_store(store_path)
    wanted = {r.input_id for r in store.list(model_id=adapter.model_id)}
    examples, labels = _split(adapter, data, "train", "--data")
    ids = [adapter.input_id(e) for e in examples]
    keep = [i for i in range(len(examples)) if i < n_train or ids[i] in wanted]
    annotated = fb.annotated_from_store(store, adapter, [examples[i] for i in keep], [labels[i] for i in keep])
    validation = None
    held_out = _split(adapter, data, "validation", "--data", required=False)
    if held_out is not None:
        validation = fb.Annotated.unannotated(held_out[0][:n_validation], held_out[1][:n_validation])
    click.echo(f"retraining {adapter.name} ({adapter.model_id}) by {method} on {len(annotated)} examples, "
               f"{annotated.n_annotated} with marks, from {len(annotated.feedback_ids)} feedback records", err=True)
    result = fb.retrain(adapter, annotated, validation=validation, method=method, lam=weight, train=layers,
                        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, log_dir=Path(out) / "tensorboard",
                        progress=None)
    result.save(out)
    card = result.card()
    if as_json:
        click.echo(json.dumps({"directory": str(Path(out).resolve()), **card}, indent=2, default=float))
        return
    b, a = result.before, result.after
    click.echo(f"new version {result.adapter.model_id} saved to {out} (lambda {result.lam:.4g}, {result.seconds:.0f} s)")
    click.echo(f"  validation accuracy      {b['accuracy']:.4f} -> {a['accuracy']:.4f}")
    click.echo(f"  attribution on marked    {b['marked_share']:.4f} -> {a['marked_share']:.4f}")
    click.echo(f"  use it: lumos explain ... --model {out}")


def _split(adapter: Any, data: str | None, split: str, argument: str, required: bool = True) -> Any:
    """(examples, labels) of a split of the training data, prepared by the adapter; None for a missing optional
    split (a CSV file has no validation split)."""
    import numpy as np

    from ..zoo import dataset
    from ..zoo.data import dataset_kind, load_labelled

    name = data or adapter.card.get("dataset")
    if name is None:
        raise InvalidArgumentError(f"The '{argument}' option is required for a model outside the zoo: a CSV file of "
                                   "training examples with a 'label' column.")
    if dataset_kind(name) == "images":
        ds = dataset(name)
        part = getattr(ds, split, None)
        if part is None:
            raise InvalidArgumentError(f"The zoo dataset {name!r} has no labelled splits to retrain on.")
        examples, _ = adapter.split_inputs(list(part.images))
        return examples, np.asarray(part.labels)
    if dataset_kind(name) is None and split != "train":
        return None if not required else _split(adapter, data, "train", argument)
    labelled = load_labelled(name, adapter.class_names, split=split, argument=argument)
    examples, _ = adapter.split_inputs(labelled.inputs)
    return examples, np.asarray(labelled.labels)
