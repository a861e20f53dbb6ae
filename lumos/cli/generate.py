"""``lumos generate``: continue a prompt with a causal language model and explain every generated token."""

from __future__ import annotations

import click

from ..errors import InvalidArgumentError, check_int
from ._common import DEFAULT_LM, friendly_errors
from ..errors import MAX_EVALS, MAX_STEPS
from ._common import SEED, count
from .explain import MethodOption, method_settings


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", default=DEFAULT_LM, show_default=True,
              help="Zoo causal language model, or a directory holding a Hugging Face causal LM.")
@click.option("--max-new-tokens", default=16, show_default=True, type=count(1), help="Tokens to generate.")
@click.option("--continuation", default=None,
              help="Explain this given continuation (teacher-forced) instead of generating one.")
@click.option("--explain", "method", default="integrated_gradients", show_default=True, cls=MethodOption)
@click.option("--target", default=None,
              help="What to explain: every generated token (default), 'continuation' (its log-probability as "
                   "one row), or generated steps as comma-separated indices (e.g. 0,-1).")
@click.option("--contrast", default=None, help="A foil token: explain each token rather than this one.")
@click.option("--sources", type=click.Choice(["all", "prompt"]), default="all", show_default=True,
              help="Gradient methods: attribute to every earlier token, or to the prompt's tokens only.")
@click.option("--n-steps", default=None, type=count(1, MAX_STEPS), help="Integration steps, for integrated_gradients.")
@click.option("--n-evals", default=None, type=count(1, MAX_EVALS), help="Model evaluations, for lime and kernel_shap.")
@click.option("--chat", is_flag=True, help="Wrap the prompt in the model's chat template.")
@click.option("--sample", is_flag=True, help="Sample (seeded by --seed) instead of greedy decoding.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of sampling.")
@click.option("--top-k", default=3, show_default=True, type=count(1), help="Sources printed per generated token.")
@click.option("--device", default=None, help="Run the model on this device (cpu, cuda, cuda:1, mps).")
@click.option("--dtype", default=None, type=click.Choice(["float32", "float16", "bfloat16", "float64"]),
              help="Cast the model's weights (default: as loaded).")
@click.option("--json", "as_json", is_flag=True, help="Print the Explanation (rows x sources) as JSON.")
@friendly_errors
def generate(prompt: str, model: str, max_new_tokens: int, continuation: str | None, method: str,
             target: str | None, contrast: str | None, sources: str, n_steps: int | None, n_evals: int | None,
             chat: bool, sample: bool, seed: int, top_k: int, device: str | None, dtype: str | None,
             as_json: bool) -> None:
    """Continue PROMPT and show which earlier tokens (prompt and continuation) drove each generated token."""
    from ..attribution import get_method
    from ..models import as_adapter
    from ..models.causal_lm import MAX_NEW_TOKENS

    # Everything that can be checked without the model is checked before loading it.
    check_int(max_new_tokens, "--max-new-tokens", minimum=1, maximum=MAX_NEW_TOKENS)
    check_int(top_k, "--top-k", minimum=1)
    check_int(seed, "--seed", minimum=0)
    if not prompt.strip():
        raise InvalidArgumentError("The PROMPT is empty: there is nothing to continue.")
    cls = get_method(method)
    settings = method_settings(cls, {"--n-steps": n_steps, "--n-evals": n_evals})
    chosen = _target(target)
    options = {k: v for k, v in (("device", device), ("dtype", dtype)) if v is not None}
    adapter = as_adapter(model, **options) if options else as_adapter(model)
    adapter.require("`lumos generate`", task="causal_lm")
    if contrast is not None:
        settings["contrast"] = contrast
    if adapter.differentiable and "sources" in _parameters(cls):
        settings["sources"] = sources
    explainer = cls(adapter, **settings)  # validates the settings (a foil of several tokens) before generating
    if continuation is not None:
        g = adapter.continuation(prompt, continuation, chat=chat)
    else:
        g = adapter.generate(prompt, max_new_tokens=max_new_tokens, chat=chat, do_sample=sample, seed=seed)
    explanation = explainer.attribute(g, target=chosen)
    if as_json:
        click.echo(explanation.to_json(indent=2))
        return
    from ..display import print_generation

    print_generation(g, explanation, top_k=top_k)


def _parameters(cls: type) -> set[str]:
    import inspect

    return {name for klass in cls.__mro__ if "__init__" in vars(klass)
            for name in inspect.signature(klass.__init__).parameters}


def _target(text: str | None) -> str | list[int] | None:
    """The --target option: None, 'continuation', or comma-separated generated steps."""
    if text is None or text == "continuation":
        return text
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        steps = []
    if not steps:
        raise InvalidArgumentError(f"The '--target' option must be 'continuation' or comma-separated generated "
                                   f"steps such as 0,-1. Got {text!r}.")
    return steps
