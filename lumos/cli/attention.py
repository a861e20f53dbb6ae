"""``lumos attention``: four views of attention over the tokens of one text (:mod:`lumos.attention`)."""

from __future__ import annotations

import json

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, friendly_errors
from ._common import INT


@click.command()
@click.argument("text")
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--layer", default=-1, show_default=True, type=INT, help="Layer of the raw attention column.")
@click.option("--target", default=None, help="Class explained by attention x gradient (name or index). "
                                              "Default: the predicted class.")
@click.option("--json", "as_json", is_flag=True, help="Print the four Explanations as JSON.")
@friendly_errors
def attention(text: str, model: str, layer: int, target: str | None, as_json: bool) -> None:
    """Attention over the tokens of TEXT: raw (one layer, mean of heads), rollout, flow, attention x gradient."""
    from ..attention import AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention
    from ..models import as_adapter

    adapter = as_adapter(model).require("`lumos attention`", task="classifier")
    raw = RawAttention(adapter, layer=layer)  # validates --layer before any work
    explained = [raw.attribute(text, target), AttentionRollout(adapter).attribute(text, target),
                 AttentionFlow(adapter).attribute(text, target), AttentionXGradient(adapter).attribute(text, target)]
    if as_json:
        click.echo(json.dumps([json.loads(e.to_json()) for e in explained], indent=2))
        return
    first = explained[0]
    click.echo(f"{adapter.name}: predicted {first.class_names[int(first.prediction.argmax())]} "
               f"(p={first.prediction.max():.3f}); attention traced from the {raw.query!r} query; "
               f"attention x gradient explains {first.target_label}")
    click.echo(f"{'token':<16} {'attn L' + str(raw.layer):>9} {'rollout':>9} {'flow':>9} {'attn x grad':>12}")
    for i, token in enumerate(first.features):
        click.echo(f"{token:<16} " + " ".join(f"{e.values[i]:>{w}.4f}" for e, w in zip(explained, (9, 9, 9, 12))))
