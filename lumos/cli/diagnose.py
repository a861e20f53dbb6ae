"""``lumos diagnose``: where the model fails (:func:`lumos.diagnosis.diagnose`)."""

from __future__ import annotations

import json
from typing import Any

import click

from ._common import DEFAULT_MODEL, MODEL_HELP, deprecated_alias, friendly_errors, load_for_analysis
from ._common import count


def top_features(explanation: Any, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` features (words, for a text) that push hardest towards the explained class, with their values."""
    if explanation is None:
        return []
    features, values = explanation.by_word() if explanation.words is not None else (explanation.features,
                                                                                     explanation.values)
    order = sorted(range(len(values)), key=lambda i: -values[i])[:k]
    return [(str(features[i]), float(values[i])) for i in order]


@click.command()
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--data", default=None, help="Zoo dataset or CSV file (texts: 'text' and 'label' columns; tables: "
              "feature columns and 'label'). Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "validation", "test"]),
              help="Split of a zoo dataset.")
@click.option("--top-k", default=5, show_default=True, type=count(1), help="Worst slices to show.")
@click.option("--n-errors", default=3, show_default=True, type=count(0),
              help="Most confident errors to show, each explained by --method.")
@click.option("--method", default="occlusion", show_default=True, help="Method explaining the confident errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@deprecated_alias("--slices", "--top-k", type=count(1))
@deprecated_alias("--errors", "--n-errors", type=count(0))
@friendly_errors
def diagnose(model: str, data: str | None, split: str, top_k: int, n_errors: int, method: str, as_json: bool) -> None:
    """Print where the model fails: accuracy, calibration, worst slices, most confident errors."""
    from ..diagnosis import diagnose as run_diagnosis

    adapter, labelled = load_for_analysis(model, data, split)
    result = run_diagnosis(adapter, labelled.inputs, labelled.labels, top_k=top_k, n_errors=n_errors,
                           method=method if n_errors else None, progress=None)
    cal, perf = result.calibration, result.performance
    payload = {
        "model": result.model, "data": labelled.name, "n": result.n, "accuracy": perf.accuracy,
        "per_class": perf.per_class, "confusion": perf.confusion.tolist(), "ece": cal.ece, "mce": cal.mce,
        "slices": [s.to_dict() for s in result.slices],
        "confident_errors": [{"index": e.index, "label": e.label, "predicted": e.predicted,
                              "confidence": e.confidence,
                              "top_features": top_features(e.explanation)} for e in result.confident_errors],
        "seconds": result.seconds,
    }
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"{result.model} on {labelled.name}: {result.n} rows, accuracy {perf.accuracy:.3f}, "
               f"macro F1 {perf.macro_f1:.3f}")
    for c in perf.per_class:
        click.echo(f"  {c['name']:<12} support {c['support']:>5}  precision {c['precision']:.3f}  "
                   f"recall {c['recall']:.3f}  f1 {c['f1']:.3f}")
    click.echo(f"Calibration: ECE {cal.ece:.4f}, MCE {cal.mce:.4f} ({len(cal.counts)} {cal.strategy} bins)")
    filled = cal.counts > 0
    for lo, hi, n, conf, acc in zip(cal.edges[:-1][filled], cal.edges[1:][filled], cal.counts[filled],
                                    cal.confidence[filled], cal.accuracy[filled]):
        click.echo(f"  ({lo:.1f}, {hi:.1f}]  n {n:>5}  confidence {conf:.3f}  accuracy {acc:.3f}")
    global_error = 1 - perf.accuracy
    click.echo(f"Worst slices (global error rate {global_error:.3f}):" if result.slices else
               f"No slice with a significantly higher error rate than {global_error:.3f}.")
    for s in result.slices:
        click.echo(f"  {s.description}\n      size {s.size}, error rate {s.error_rate:.3f}, lift {s.lift:.2f}, "
                   f"p {s.p_value:.2g} (Fisher, Bonferroni)")
    if result.confident_errors:
        click.echo("Most confident errors:")
    for e in result.confident_errors:
        top = ", ".join(f"{f} ({v:+.3g})" for f, v in top_features(e.explanation))
        click.echo(f"  #{e.index}: true {e.label}, predicted {e.predicted} at {e.confidence:.3f}; "
                   f"driven by {top or 'n/a'}")
    click.echo(f"({result.seconds:.1f} s)")
