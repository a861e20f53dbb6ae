"""``lumos lens``: the logit lens of a prompt (:func:`lumos.generation.logit_lens`)."""

from __future__ import annotations

import json

import click

from ..errors import InvalidArgumentError
from ._common import DEFAULT_LM, friendly_errors, names
from ._common import count


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", default=DEFAULT_LM, show_default=True,
              help="Zoo causal language model, or a directory holding a Hugging Face causal LM.")
@click.option("--k", default=5, show_default=True, type=count(1), help="Top tokens kept per layer and position.")
@click.option("--layers", "layer_list", default=None,
              help="Layers to read, comma-separated (0: embeddings, l: block l-1's output, -1: the last). "
                   "Default: all.")
@click.option("--device", default=None, help="Run the model on this device (cpu, cuda, cuda:1, mps).")
@click.option("--dtype", default=None, type=click.Choice(["float32", "float16", "bfloat16", "float64"]),
              help="Cast the model's weights (default: as loaded).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole lens (every layer and position) as JSON.")
@friendly_errors
def lens(prompt: str, model: str, k: int, layer_list: str | None, device: str | None, dtype: str | None,
         as_json: bool) -> None:
    """What the model would predict after each layer, at the last position of PROMPT."""
    from ..generation import logit_lens
    from ..models import as_adapter

    chosen = integers(layer_list, "--layers")
    options = {key: v for key, v in (("device", device), ("dtype", dtype)) if v is not None}
    adapter = as_adapter(model, **options) if options else as_adapter(model)
    adapter.require("`lumos lens`", task="causal_lm")
    result = logit_lens(adapter, prompt, k=k, layers=chosen)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    final = result.target_tokens[-1]
    click.echo(f"{result.model}: {len(result.ids)} tokens; the model's next token is {final!r}. Per layer, at the "
               f"last position ({result.tokens[-1]!r}):")
    click.echo(f"{'layer':>5} {'site':<18} {'top-1':<16} {'p':>7}   {'rank of ' + repr(final):>16} {'p':>9}")
    for i, (layer, name) in enumerate(zip(result.layers, result.layer_names)):
        click.echo(f"{layer:>5} {name:<18} {result.top_tokens[i, -1, 0]!r:<16} {result.top_probs[i, -1, 0]:>7.3f}   "
                   f"{result.target_rank[i, -1]:>16d} {result.target_prob[i, -1]:>9.2e}")
    first = result.first_layer()
    if first is not None:
        click.echo(f"{final!r} is the top-1 prediction from layer {first} on.")


def integers(text: str | None, option: str) -> list[int] | None:
    """``"0, -1"`` -> ``[0, -1]``; None -> None; anything else than ints -> an error naming ``option``."""
    items = names(text, option)
    if items is None:
        return None
    try:
        return [int(item) for item in items]
    except ValueError:
        raise InvalidArgumentError(f"The '{option}' option must be comma-separated integers. Got {text!r}.") from None
