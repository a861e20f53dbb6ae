"""``lumos trace``: causal tracing of a prompt's answer (:func:`lumos.generation.causal_trace`)."""

from __future__ import annotations

import json

import click

from ..errors import check_int
from ._common import DEFAULT_LM, friendly_errors, names
from ._common import SEED, count
from .lens import integers


@click.command()
@click.argument("prompt")
@click.option("--corrupt", default=None,
              help="Words of PROMPT to corrupt with noise, comma-separated (e.g. 'Eiffel Tower').")
@click.option("--corrupt-prompt", default=None,
              help="Instead of noise: a second prompt of the same token length whose run is the corrupted one.")
@click.option("--site", type=click.Choice(["residual", "attention", "mlp"]), default="residual", show_default=True,
              help="What is restored: the residual stream, or the attention / MLP sublayer's output.")
@click.option("--target", default=None, help="The answer traced (one token). Default: the model's next token.")
@click.option("--model", "-m", default=DEFAULT_LM, show_default=True,
              help="Zoo causal language model, or a directory holding a Hugging Face causal LM.")
@click.option("--layers", "layer_list", default=None, help="Blocks to trace, comma-separated. Default: all.")
@click.option("--positions", "position_list", default=None,
              help="Token positions to trace, comma-separated (negative from the end). Default: all.")
@click.option("--window", default=1, show_default=True, type=count(1),
              help="Consecutive layers restored together (Meng et al. use 10 for attention and MLP).")
@click.option("--n-samples", default=10, show_default=True, type=count(1), help="Noise samples averaged.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the noise.")
@click.option("--batch-size", default=32, show_default=True, type=count(1), help="Patched sequences per forward pass.")
@click.option("--top", default=8, show_default=True, type=count(1), help="Strongest (layer, position) cells printed.")
@click.option("--device", default=None, help="Run the model on this device (cpu, cuda, cuda:1, mps).")
@click.option("--dtype", default=None, type=click.Choice(["float32", "float16", "bfloat16", "float64"]),
              help="Cast the model's weights (default: as loaded).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole trace (heatmap and settings) as JSON.")
@friendly_errors
def trace(prompt: str, corrupt: str | None, corrupt_prompt: str | None, site: str, target: str | None, model: str,
          layer_list: str | None, position_list: str | None, window: int, n_samples: int, seed: int,
          batch_size: int, top: int, device: str | None, dtype: str | None, as_json: bool) -> None:
    """Which hidden states of the model carry its answer to PROMPT: corrupt some words, restore one layer's state
    at one position, and see how much of the answer's probability comes back."""
    from ..generation import causal_trace
    from ..models import as_adapter

    check_int(top, "--top", minimum=1)
    layers, positions = integers(layer_list, "--layers"), integers(position_list, "--positions")
    options = {key: v for key, v in (("device", device), ("dtype", dtype)) if v is not None}
    adapter = as_adapter(model, **options) if options else as_adapter(model)
    adapter.require("`lumos trace`", task="causal_lm")
    words = names(corrupt, "--corrupt")
    result = causal_trace(adapter, prompt, target=target, corrupt=words, corrupt_prompt=corrupt_prompt, site=site,
                          layers=layers, positions=positions, window=window, n_samples=n_samples, seed=seed,
                          batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    corrupted = " ".join(f"{p}:{result.tokens[p]!r}" for p in result.corrupted_positions)
    how = (f"noise x{result.noise:g} ({result.n_samples} samples)" if result.corruption == "noise"
           else f"the prompt {result.corrupt_prompt!r}")
    click.echo(f"{result.model}: p({result.target_token!r}) = {result.p_clean:.4f} clean, {result.p_corrupt:.4f} "
               f"with tokens {corrupted} corrupted by {how}.")
    click.echo(f"Restoring the {site} state of one layer at one position ({result.n_rows} sequences, "
               f"{result.seconds:.1f} s); the strongest cells:")
    click.echo(f"{'layer':>5} {'position':>8}  {'token':<16} {'p':>8} {'recovery':>9}")
    for cell in result.strongest(top):
        click.echo(f"{cell['layer']:>5} {cell['position']:>8}  {cell['token']!r:<16} {cell['prob']:>8.4f} "
                   f"{cell['recovery']:>9.2f}")
