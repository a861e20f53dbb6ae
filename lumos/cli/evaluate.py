"""``lumos evaluate``: every attribution method x every quality metric on held-out texts, ranked
(:func:`lumos.metrics.evaluate`)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import InvalidArgumentError
from ._common import (DEFAULT_MODEL, MODEL_HELP, count, deprecated_alias, emit_rows, format_option, friendly_errors,
                      model_data, names)


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns (and "
              "optionally 'rationale': the words people highlighted, which adds plausibility metrics). "
              "Default: the zoo model's own held-out split. For a causal language model: a prompt set "
              "('demo-prompts', the default) or a text file with one prompt per line.")
@click.option("--methods", default=None, help="Comma-separated method names. Default: the report's methods "
              "(gradient and perturbation methods); a random baseline is always added.")
@click.option("--n", default=100, show_default=True, type=count(1), help="Held-out texts to evaluate on (the first n).")
@click.option("--n-sanity", default=3, show_default=True, type=count(0),
              help="Texts for the model-randomization check (0 skips it).")
@click.option("--n-sensitivity", default=5, show_default=True, type=count(0),
              help="Texts for max-sensitivity (0 skips it).")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of tables (--format json).")
@deprecated_alias("--sanity-n", "--n-sanity", type=count(0))
@deprecated_alias("--sensitivity-n", "--n-sensitivity", type=count(0))
@friendly_errors
def evaluate(model: str, data: str | None, methods: str | None, n: int, n_sanity: int, n_sensitivity: int,
             fmt: str, as_json: bool) -> None:
    """Measure which explanation can be trusted: every method x every quality metric, ranked."""
    from ..attribution import get_method
    from ..errors import check_int
    from ..metrics import evaluate as run_evaluation
    from ..models import as_adapter
    from ..report.data import input_kind
    from ..zoo.data import load_labelled_texts

    check_int(n, "--n", minimum=1)
    fmt = "json" if as_json else fmt
    chosen = names(methods, "--methods")
    for name in chosen or ():
        get_method(name)  # fail on a bad name before loading the model
    adapter = as_adapter(model)
    if adapter.task == "causal_lm":  # prompts: their continuations are explained and ranked
        from ..zoo.data import load_prompts

        prompts = load_prompts(data or "demo-prompts", argument="--data")[:n]
        result = run_evaluation(adapter, prompts, methods=chosen, data_name=data or "demo-prompts", progress=None)
        return _show(result, fmt, "prompts")
    kind = input_kind(adapter)
    if kind != "texts":  # the metrics hide and drop words, and re-read each explanation's text
        raise InvalidArgumentError(f"`lumos evaluate` works on text classifiers (such as tweets-sentiment); "
                                   f"{model!r} reads {kind}. `lumos report --model {model}` explains it.")
    data = model_data(adapter, data, "a CSV file with 'text' and 'label' columns")
    labelled = load_labelled_texts(data, adapter.class_names, argument="--data")
    rationales = list(labelled.rationales[:n]) if labelled.rationales is not None else None
    result = run_evaluation(adapter, list(labelled.texts[:n]), methods=chosen, n_sanity=n_sanity,
                            n_sensitivity=n_sensitivity, rationales=rationales, data_name=labelled.name,
                            progress=None)
    _show(result, fmt, "texts")


def _show(result: Any, fmt: str, unit: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    if fmt == "csv":  # one line per method: each metric's mean, 95% half-width and count
        rows = []
        for m in result.methods:
            row: dict[str, Any] = {"method": m.method, "seconds_per_explanation": m.seconds_per_explanation,
                                   "evals_per_explanation": m.evals_per_explanation}
            for metric in result.metrics():
                mean, half, count = m.summary(metric.key)
                row.update({metric.key: mean, f"{metric.key}_ci95": half, f"{metric.key}_n": count})
            rows.append(row)
        return emit_rows(rows, "csv")
    from ..display import print_tables
    from ..metrics.evaluate import render_ranking, render_table

    print_tables([render_table(result), render_ranking(result)],
                 footer=f"{result.n} {unit}, {len(result.methods)} methods, {result.seconds:.0f} s in all.")
