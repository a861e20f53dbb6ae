"""The ``lumos`` command.

    lumos explain "the flight was late again" [--model tweets-sentiment] [--method ig] [--target CLASS]
                  [--steps N] [--evals N] [--json]
    lumos explain --image photo.png [--model imagenet-efficientnet-lite0] [--method grad_cam] [--out map.png]
    lumos report [--model tweets-sentiment] [--data DATA] [--n 50] [--out lumos-report] [--quality N]
                 [--compress prune:0.5,heads:4,int8]
    lumos evaluate [--model tweets-sentiment] [--data DATA] [--methods a,b] [--n 100] [--sanity-n 3] [--json]
    lumos diagnose [--model credit-scoring] [--data credit] [--split test] [--slices 5] [--errors 3] [--json]
    lumos global [--model credit-scoring] [--data credit] [--repeats 5] [--depth 3] [--n 100]
    lumos attention "the flight was late again" [--model tweets-sentiment] [--layer -1] [--json]
    lumos layers [--model tweets-sentiment] [--data DATA] [--split validation] [--n 300] [--cv 5] [--json]
    lumos compress [--model tweets-sentiment] --method prune:0.5|heads:4|neurons:0.5|int8|distill:3 [...]
                   [--n 300] [--explain 20] [--methods a,b] [--out lumos-compressed] [--json]
    lumos zoo list | lumos zoo build NAME
    lumos methods
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from typing import Any, Callable

import click

from .errors import InvalidArgumentError, LumosError

_DEFAULT_MODEL = "tweets-sentiment"
_DEFAULT_IMAGE_MODEL = "imagenet-efficientnet-lite0"


def _friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a LumosError as one clear line and exit with status 2, never as a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LumosError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lumos")
def main() -> None:
    """lumos: see why a classifier decides what it decides, and whether the explanation can be trusted."""


class _MethodOption(click.Option):
    """The --method option, whose help lists the methods registered when it is shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from .attribution import method_names

        self.help = (f"Attribution method, by name or alias: {', '.join(method_names())}; aliases such as ig, "
                     "gxi, loo (see `lumos methods`).")
        return super().get_help_record(ctx)


#: Command-line options that set a method's parameter of the same meaning, where the method has one.
_SETTINGS = {"--steps": "n_steps", "--evals": "n_evals"}


def _takes(cls: type, parameter: str) -> bool:
    return parameter in inspect.signature(cls.__init__).parameters


def _method_settings(cls: type, given: dict[str, int | None]) -> dict[str, int]:
    """Keyword settings for ``cls`` from the options given; an option the method has no parameter for is an
    error (silently ignoring it would report an explanation computed with other settings than asked)."""
    from .attribution import get_method, method_names

    settings = {}
    for option, value in given.items():
        if value is None:
            continue
        parameter = _SETTINGS[option]
        if not _takes(cls, parameter):
            takers = ", ".join(n for n in method_names() if _takes(get_method(n), parameter)) or "none"
            raise InvalidArgumentError(f"The '{option}' option sets {parameter!r}, which {cls.name} does not take. "
                                       f"Methods that take it: {takers}.")
        settings[parameter] = value
    return settings


@main.command()
@click.argument("text", required=False)
@click.option("--image", "image", default=None, metavar="PATH",
              help="Explain an image file (PNG, JPEG, ...) instead of TEXT, with an image model such as "
                   "imagenet-efficientnet-lite0.")
@click.option("--model", "-m", default=None,
              help=f"Zoo model name or a directory holding a Hugging Face classifier. [default: {_DEFAULT_MODEL}; "
                   f"with --image: {_DEFAULT_IMAGE_MODEL}]")
@click.option("--method", default=None, cls=_MethodOption)
@click.option("--target", default=None, help="Class to explain (name or index). Default: the predicted class.")
@click.option("--steps", default=None, type=int, help="Integration steps, for integrated_gradients (default 32).")
@click.option("--evals", default=None, type=int,
              help="Model evaluations per explanation, for sampling methods such as lime (their n_evals).")
@click.option("--json", "as_json", is_flag=True, help="Print the Explanation as JSON.")
@click.option("--out", "out", default=None, metavar="PNG",
              help="With --image: where to write the saliency overlay. [default: IMAGE-METHOD.png beside the cwd]")
@_friendly_errors
def explain(text: str | None, image: str | None, model: str | None, method: str | None, target: str | None,
            steps: int | None, evals: int | None, as_json: bool, out: str | None) -> None:
    """Explain the model's decision on TEXT (or on an image with --image PATH)."""
    from .attribution import get_method
    from .models import as_adapter

    if (text is None) == (image is None):
        raise InvalidArgumentError("Give either TEXT or --image PATH (exactly one).")
    if image is not None:
        return _explain_image(image, model or _DEFAULT_IMAGE_MODEL, method or "grad_cam", target,
                              {"--steps": steps, "--evals": evals}, as_json, out)
    model = model or _DEFAULT_MODEL
    cls = get_method(method or "ig")  # fail on a bad name or option before loading the model
    settings = _method_settings(cls, {"--steps": steps, "--evals": evals})
    adapter = as_adapter(model)
    from .models import ImageAdapter

    if isinstance(adapter, ImageAdapter):
        raise InvalidArgumentError(f"The model {model!r} classifies images: pass --image PATH instead of TEXT.")
    explanation = cls(adapter, **settings).attribute(text, target=target)
    if as_json:
        click.echo(explanation.to_json(indent=2))
        return
    from .display import print_explanation

    print_explanation(explanation)


def _explain_image(path: str, model: str, method: str, target: str | None, given: dict[str, int | None],
                   as_json: bool, out: str | None) -> None:
    """``lumos explain --image``: explain one image file; write the map over the image as a PNG."""
    from pathlib import Path

    import numpy as np

    from .attribution import get_method
    from .models import ImageAdapter, as_adapter
    from .models.vision import overlay, pixel_map, read_image

    cls = get_method(method)
    settings = _method_settings(cls, given)
    picture = read_image(path)  # a clear error for a missing file or one that is not an image
    adapter = as_adapter(model)
    if not isinstance(adapter, ImageAdapter):
        raise InvalidArgumentError(f"The model {model!r} does not classify images; --image needs an image model "
                                   f"such as {_DEFAULT_IMAGE_MODEL!r} or 'digits-cnn'.")
    instance = cls(adapter, **settings)
    explanation = instance.attribute(picture, target=target)
    if as_json:
        click.echo(explanation.to_json())
        return
    prepared = adapter.split_inputs(picture)[0][0]
    masker = getattr(instance, "masker", None)
    heat = masker.to_pixels(prepared, explanation.values) if masker is not None else pixel_map(explanation)
    signed = bool((heat < 0).any())
    target_path = Path(out) if out is not None else Path(f"{Path(path).stem}-{explanation.method}.png")
    from PIL import Image

    Image.fromarray(overlay(prepared, heat, signed=signed)).save(target_path)
    top = np.argsort(-explanation.prediction)[:3]
    click.echo(f"{adapter.name}: " + ", ".join(f"{adapter.class_names[i]} {explanation.prediction[i]:.3f}"
                                                for i in top))
    rows, cols = np.nonzero(heat >= np.quantile(heat, 0.9))
    click.echo(f"{explanation.method} for {explanation.target_label!r}: top 10% of the map in rows "
               f"{rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()} of the {adapter.image_size[0]} x "
               f"{adapter.image_size[1]} input ({explanation.cost.seconds:.2f} s)")
    click.echo(f"overlay written to {target_path}")


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True,
              help="Zoo model name or a directory holding a Hugging Face classifier.")
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns. "
              "Default: the zoo model's own held-out split.")
@click.option("--n", default=50, show_default=True, type=int, help="Held-out examples to explain.")
@click.option("--out", default="lumos-report", show_default=True, help="Output directory.")
@click.option("--methods", default=None, help="Comma-separated method names. Default: the gradient methods and the "
              "perturbation methods (occlusion, lime, ...) that are registered.")
@click.option("--quality", "quality_n", default=0, show_default=True, type=int,
              help="Texts for the 'Explanation quality' section (every method x metric, as `lumos evaluate`); "
                   "0 leaves it out.")
@click.option("--compress", "compress_specs", default=None, metavar="SPECS",
              help="Comma-separated compressions for the 'Compression' section, e.g. prune:0.5,heads:4,int8 "
                   "(forms as in `lumos compress`); default: none.")
@_friendly_errors
def report(model: str, data: str | None, n: int, out: str, methods: str | None, quality_n: int,
           compress_specs: str | None) -> None:
    """Write the offline HTML report (OUT/index.html)."""
    from .report import build_report

    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    specs = [c.strip() for c in compress_specs.split(",") if c.strip()] if compress_specs else []
    path = build_report(model, data=data, n=n, out=out, methods=names, progress=True, quality_n=quality_n,
                        compress=specs)
    click.echo(f"Report written to {path}")


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True,
              help="Zoo model name or a directory holding a Hugging Face classifier.")
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns (and "
              "optionally 'rationale': the words people highlighted, which adds plausibility metrics). "
              "Default: the zoo model's own held-out split.")
@click.option("--methods", default=None, help="Comma-separated method names. Default: the report's methods "
              "(gradient and perturbation methods); a random baseline is always added.")
@click.option("--n", default=100, show_default=True, type=int, help="Held-out texts to evaluate on (the first n).")
@click.option("--sanity-n", default=3, show_default=True, type=int,
              help="Texts for the model-randomization check (0 skips it).")
@click.option("--sensitivity-n", default=5, show_default=True, type=int,
              help="Texts for max-sensitivity (0 skips it).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of tables.")
@_friendly_errors
def evaluate(model: str, data: str | None, methods: str | None, n: int, sanity_n: int, sensitivity_n: int,
             as_json: bool) -> None:
    """Measure which explanation can be trusted: every method x every quality metric, ranked."""
    from .errors import check_int
    from .metrics import evaluate as run_evaluation
    from .models import as_adapter
    from .report.data import input_kind, load_labelled_texts

    check_int(n, "--n", minimum=1)
    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    if names:
        from .attribution import get_method

        for name in names:
            get_method(name)  # fail on a bad name before loading the model
    adapter = as_adapter(model)
    kind = input_kind(adapter)
    if kind != "texts":  # the metrics hide and drop words, and re-read each explanation's text
        raise InvalidArgumentError(f"`lumos evaluate` works on text classifiers (such as tweets-sentiment); "
                                   f"{model!r} reads {kind}. `lumos report --model {model}` explains it.")
    data = data or adapter.card.get("dataset")
    if data is None:
        raise InvalidArgumentError("The '--data' option is required for a model outside the zoo: a CSV file with "
                                   "'text' and 'label' columns.")
    labelled = load_labelled_texts(data, adapter.class_names)
    rationales = list(labelled.rationales[:n]) if labelled.rationales is not None else None
    result = run_evaluation(adapter, list(labelled.texts[:n]), methods=names, n_sanity=sanity_n,
                            n_sensitivity=sensitivity_n, rationales=rationales, data_name=labelled.name,
                            progress=None)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    from rich.console import Console

    from .metrics.evaluate import render_ranking, render_table

    console = Console(width=max(Console().width, 200))
    console.print(render_table(result))
    console.print(render_ranking(result))
    console.print(f"{result.n} texts, {len(result.methods)} methods, {result.seconds:.0f} s in all.",
                  markup=False)


@main.command()
def methods() -> None:
    """List the attribution methods."""
    from .attribution import get_method, method_names

    for name in method_names():
        doc = (get_method(name).__doc__ or "").strip().splitlines()[0]
        click.echo(f"{name:<22} {doc}")


@main.group()
def zoo() -> None:
    """Models and datasets that ship inside installable packages."""


@zoo.command("list")
def zoo_list() -> None:
    """List zoo models and datasets, with the held-out accuracy of built ones."""
    from . import zoo as _zoo

    for name in _zoo.names():
        info = _zoo.info(name)
        if "test_accuracy" in info:
            status = f"test accuracy {info['test_accuracy']:.3f}"
        else:  # shipped weights (imagenet-efficientnet-lite0) have nothing to build and no held-out split here
            status = "ready" if info["built"] else "not built yet"
        click.echo(f"model    {name:<20} {status}  {info['description']}")
    for name in _zoo.datasets():
        click.echo(f"dataset  {name}")


@zoo.command("build")
@click.argument("name")
@_friendly_errors
def zoo_build(name: str) -> None:
    """(Re)build a zoo model's trained parts and report its held-out accuracy."""
    from . import zoo as _zoo

    meta = _zoo.build(name, progress=True)
    click.echo(json.dumps(meta, indent=2))
    if "test_accuracy" not in meta:
        click.echo(f"{name}: ready (shipped weights; nothing to train)")
        return
    click.echo(f"{name}: test accuracy {meta['test_accuracy']:.4f} on {meta['n_test']} held-out examples "
               f"(built in {meta['seconds']:.0f} s)")


def _load_for_analysis(model: str, data: str | None, split: str) -> tuple[Any, Any]:
    """The adapter and its labelled data (default: the zoo model's own dataset)."""
    from .diagnosis.data import load_labelled
    from .models import as_adapter
    from .report.data import input_kind

    adapter = as_adapter(model)
    data = data or adapter.card.get("dataset")
    if data is None:
        raise InvalidArgumentError("The '--data' option is required for a model outside the zoo: a zoo dataset or "
                                   "a CSV file with a 'label' column.")
    labelled = load_labelled(data, adapter.class_names, split=split)
    reads, holds = input_kind(adapter), "tables" if hasattr(labelled.inputs, "columns") else "texts"
    if reads in ("texts", "tables") and reads != holds:
        what = "texts (a 'text' column)" if holds == "texts" else "a table (no 'text' column)"
        own = adapter.card.get("dataset")
        raise InvalidArgumentError(f"The model {model!r} reads {reads}, but the '--data' {data!r} holds {what}. "
                                   "Pass data of the model's kind" + (f", such as {own!r}." if own else "."))
    return adapter, labelled


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True, help="Zoo model name or model directory.")
@click.option("--data", default=None, help="Zoo dataset or CSV file (texts: 'text' and 'label' columns; tables: "
              "feature columns and 'label'). Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "validation", "test"]),
              help="Split of a zoo dataset.")
@click.option("--slices", "top_k", default=5, show_default=True, type=int, help="Worst slices to show.")
@click.option("--errors", "n_errors", default=3, show_default=True, type=int,
              help="Most confident errors to show, each explained by --method.")
@click.option("--method", default="occlusion", show_default=True, help="Method explaining the confident errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_friendly_errors
def diagnose(model: str, data: str | None, split: str, top_k: int, n_errors: int, method: str, as_json: bool) -> None:
    """Print where the model fails: accuracy, calibration, worst slices, most confident errors."""
    from .diagnosis import diagnose as _diagnose

    adapter, labelled = _load_for_analysis(model, data, split)
    result = _diagnose(adapter, labelled.inputs, labelled.labels, top_k=top_k, n_errors=n_errors,
                       method=method if n_errors else None, progress=None)
    cal, perf = result.calibration, result.performance
    payload = {
        "model": result.model, "data": labelled.name, "n": result.n, "accuracy": perf.accuracy,
        "per_class": perf.per_class, "confusion": perf.confusion.tolist(), "ece": cal.ece, "mce": cal.mce,
        "slices": [s.to_dict() for s in result.slices],
        "confident_errors": [{"index": e.index, "label": e.label, "predicted": e.predicted,
                              "confidence": e.confidence,
                              "top_features": _top_features(e.explanation)} for e in result.confident_errors],
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
        top = ", ".join(f"{f} ({v:+.3g})" for f, v in _top_features(e.explanation))
        click.echo(f"  #{e.index}: true {e.label}, predicted {e.predicted} at {e.confidence:.3f}; "
                   f"driven by {top or 'n/a'}")
    click.echo(f"({result.seconds:.1f} s)")


def _first_rows(labelled: Any, rows: int) -> Any:
    """The first ``rows`` held-out examples of ``labelled``."""
    import dataclasses

    from .errors import check_int

    rows = check_int(rows, "--rows", minimum=1)
    inputs = labelled.inputs.iloc[:rows] if hasattr(labelled.inputs, "iloc") else labelled.inputs[:rows]
    return dataclasses.replace(labelled, inputs=inputs, labels=labelled.labels[:rows],
                               name=f"{labelled.name}, first {min(rows, len(labelled.labels))}")


def _top_features(explanation: Any, k: int = 3) -> list[tuple[str, float]]:
    if explanation is None:
        return []
    features, values = explanation.by_word() if explanation.words is not None else (explanation.features,
                                                                                     explanation.values)
    order = sorted(range(len(values)), key=lambda i: -values[i])[:k]
    return [(str(features[i]), float(values[i])) for i in order]


@main.command(name="global")
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True, help="Zoo model name or model directory.")
@click.option("--data", default=None, help="Zoo dataset or CSV file. Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "validation", "test"]),
              help="Held-out split to measure on.")
@click.option("--repeats", default=5, show_default=True, type=int, help="Permutation repeats (tables).")
@click.option("--depth", default=3, show_default=True, type=int, help="Surrogate tree depth (tables).")
@click.option("--n", "n_explained", default=100, show_default=True, type=int,
              help="Examples explained for aggregated local importance.")
@click.option("--method", default="occlusion", show_default=True, help="Local method aggregated.")
@click.option("--top", default=10, show_default=True, type=int, help="Features shown.")
@click.option("--rows", default=None, type=int, help="Use only the first ROWS held-out examples (default: all).")
@click.option("--fit-rows", default=1000, show_default=True, type=int,
              help="Training texts the surrogate tree of a text model is fitted on (tables use the whole split).")
@_friendly_errors
def global_(model: str, data: str | None, split: str, repeats: int, depth: int, n_explained: int, method: str,
            top: int, rows: int | None, fit_rows: int) -> None:
    """Print what drives the model over a dataset: permutation importance (tables), a surrogate tree with its
    fidelity and a decision path, and mean |attribution| per feature or word and per class."""
    from .attribution import get_method
    from .global_ import SurrogateTree, aggregate_importance, permutation_importance

    adapter, labelled = _load_for_analysis(model, data, split)
    table = not isinstance(labelled.inputs, list)
    if rows is not None:
        labelled = _first_rows(labelled, rows)
    if table:
        result = permutation_importance(adapter, labelled.inputs, labelled.labels, n_repeats=repeats, progress=None)
        click.echo(f"Permutation importance on {labelled.name} (accuracy drop, mean and "
                   f"{result.confidence:.0%} interval over {repeats} repeats; baseline {result.baseline:.3f}):")
        for name, mean, low, high in result.ranked()[:top]:
            click.echo(f"  {name:<28} {mean:+.4f}  [{low:+.4f}, {high:+.4f}]")
    if labelled.train is not None:
        train = labelled.train if table else labelled.train[:fit_rows]
        tree = SurrogateTree(adapter, max_depth=depth).fit(train)
        click.echo(f"Surrogate tree (depth {depth}, fitted on {len(train)} training rows"
                   f"{'' if table else ', split on word presence'}): fidelity {tree.fidelity(labelled.inputs):.3f} "
                   f"on {labelled.name}")
        click.echo(tree.rules().rstrip())
        click.echo("Decision path of example 0: " + " | ".join(
            tree.path(labelled.inputs.iloc[[0]] if table else labelled.inputs[0])))
    else:
        click.echo("Surrogate tree: no training split for a CSV file; use a zoo dataset.")
    inputs = labelled.inputs.iloc[:n_explained] if table else labelled.inputs[:n_explained]
    explained = get_method(method)(adapter).attribute(inputs if table else list(inputs))
    g = aggregate_importance(explained)
    click.echo(f"Mean |{g.method}| over {g.n_explanations} explanations (explained class: predicted):")
    for name, mean_abs, mean, count in g.top(top, min_count=1 if table else 3):
        click.echo(f"  {name:<28} {mean_abs:.4f}  (signed {mean:+.4f}, n {count})")
    for cls in sorted(g.per_class):
        words = ", ".join(f for f, *_ in g.top(5, cls=cls, min_count=1 if table else 3))
        click.echo(f"  for {cls}: {words}")


@main.command()
@click.argument("text")
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True, help="Zoo model name or model directory.")
@click.option("--layer", default=-1, show_default=True, type=int, help="Layer of the raw attention column.")
@click.option("--target", default=None, help="Class explained by attention x gradient (name or index). "
                                              "Default: the predicted class.")
@click.option("--json", "as_json", is_flag=True, help="Print the four Explanations as JSON.")
@_friendly_errors
def attention(text: str, model: str, layer: int, target: str | None, as_json: bool) -> None:
    """Attention over the tokens of TEXT: raw (one layer, mean of heads), rollout, flow, attention x gradient."""
    from .attention import AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention
    from .models import as_adapter

    adapter = as_adapter(model)
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


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True, help="Zoo model name or model directory.")
@click.option("--data", default=None, help="Zoo dataset or CSV file with 'text' and 'label' columns. Default: the "
                                           "zoo model's own dataset.")
@click.option("--split", default="validation", show_default=True,
              type=click.Choice(["train", "validation", "test"]), help="Split probed (held-out by default).")
@click.option("--n", "n_examples", default=300, show_default=True, type=int, help="Examples used.")
@click.option("--cv", default=5, show_default=True, type=int, help="Cross-validation folds of each probe.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_friendly_errors
def layers(model: str, data: str | None, split: str, n_examples: int, cv: int, as_json: bool) -> None:
    """What each layer encodes: cross-validated linear-probe accuracy for the label and PCA variance, per layer."""
    import numpy as np

    from .errors import check_int
    from .representation import collect, probe, project

    n_examples = check_int(n_examples, "--n", minimum=2 * cv)
    adapter, labelled = _load_for_analysis(model, data, split)
    if not isinstance(labelled.inputs, list):
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


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True, help="Zoo model name or model directory.")
@click.option("--method", "specs", multiple=True, required=True, metavar="SPEC",
              help="prune:S (global magnitude pruning to sparsity S), heads:K (K heads removed per layer), "
                   "neurons:F (fraction F of feed-forward neurons removed), int8, distill:L (an L-block student); "
                   "chain with + (heads:4+int8). Repeat the option to compare several.")
@click.option("--data", default=None, help="Zoo dataset or CSV file with 'text' and 'label' columns, for the "
                                           "comparison. Default: the zoo model's own dataset.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["validation", "test"]),
              help="Held-out split the models are compared on.")
@click.option("--n", "n_examples", default=300, show_default=True, type=int, help="Held-out examples compared.")
@click.option("--explain", "n_explain", default=20, show_default=True, type=int,
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
@click.option("--train-n", default=None, type=int, help="Use only the first N training texts.")
@click.option("--labels-n", default=None, type=int,
              help="Keep the labels of only the first N training texts: distill learns the others from the teacher "
                   "alone (a transfer set). [default: all labelled]")
@click.option("--hidden-weight", default=None, type=float,
              help="Weight of distill's hidden-state term (0 turns it off). [default: 1.0]")
@click.option("--epochs", default=3, show_default=True, type=int, help="Training epochs of distill.")
@click.option("--out", default="lumos-compressed", show_default=True,
              help="Directory that receives one model directory per SPEC (safetensors + config; TensorBoard logs of "
                   "distill under tensorboard/).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@_friendly_errors
def compress(model: str, specs: tuple[str, ...], data: str | None, split: str, n_examples: int, n_explain: int,
             methods: str | None, importance: str | None, train_data: str | None, train_n: int | None,
             labels_n: int | None, hidden_weight: float | None, epochs: int, out: str, as_json: bool) -> None:
    """Compress the model, save each compressed copy, and compare them with the original: accuracy, agreement,
    size, latency, and the drift of each attribution method's explanations."""
    import re
    from pathlib import Path

    from . import compression
    from .errors import check_int
    from .report.data import load_labelled_texts

    steps = [compression.parse_spec(spec) for spec in specs]  # fail on a bad spec before any work
    n_examples = check_int(n_examples, "--n", minimum=1)
    adapter = _text_model(model, "compress")
    data = data or adapter.card.get("dataset")
    if data is None:
        raise InvalidArgumentError("The '--data' option is required for a model outside the zoo: a CSV file with "
                                   "'text' and 'label' columns.")
    held_out = load_labelled_texts(data, adapter.class_names, split=split)
    needs_training = any(name == "distill" for chain in steps for name, _ in chain) or importance in (
        "ablation", "activation")
    train = None
    if needs_training:
        source = train_data or data
        if train_data is None and source not in _zoo_datasets():
            raise InvalidArgumentError("distill and measured rankings need training texts: pass --train CSV.")
        train = load_labelled_texts(source, adapter.class_names, split="train")
        if train_n is not None:
            train = type(train)(train.name, train.texts[:check_int(train_n, "--train-n", minimum=1)],
                                train.labels[:train_n])
    compressed = {}
    for spec, chain in zip(specs, steps):
        options: dict[str, Any] = {"progress": None}
        if any(name in ("heads", "neurons") for name, _ in chain) and importance is not None:
            options["importance"] = importance
            if importance != "magnitude":
                options["texts"] = list(train.texts)
        if any(name == "distill" for name, _ in chain):
            folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)
            labelled = len(train.texts) if labels_n is None else check_int(labels_n, "--labels-n", minimum=1)
            if hidden_weight is not None:
                options["hidden_weight"] = hidden_weight
            options.update(texts=list(train.texts[:labelled]), labels=train.labels[:labelled],
                           unlabeled=list(train.texts[labelled:]), epochs=epochs,
                           validation=(list(held_out.texts[:n_examples]), held_out.labels[:n_examples])
                           if split == "validation" else None,
                           log_dir=str(Path(out) / "tensorboard" / folder))
        click.echo(f"compressing: {spec}", err=True)
        result = compression.compress(adapter, spec, **options)
        saved = compression.save(result, Path(out) / re.sub(r"[^A-Za-z0-9_.-]+", "_", spec))
        click.echo(f"  saved to {saved}", err=True)
        compressed[spec] = result
    chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    comparison = compression.compare(adapter, compressed, list(held_out.texts[:n_examples]),
                                     held_out.labels[:n_examples], methods=chosen, n_explain=n_explain, progress=None)
    if as_json:
        click.echo(json.dumps({"data": held_out.name, **comparison.to_dict()}, indent=2, default=float))
        return
    from rich.console import Console

    console = Console()
    for table in comparison.render():
        console.print(table)


def _zoo_datasets() -> tuple[str, ...]:
    from . import zoo

    return zoo.datasets()


def _text_model(model: str, command: str) -> Any:
    """The adapter of a text classifier, with a one-line error for an image or tabular model."""
    from .models import TransformersAdapter, as_adapter

    adapter = as_adapter(model)
    if not isinstance(adapter, TransformersAdapter):
        raise InvalidArgumentError(f"`lumos {command}` works on transformer text classifiers (such as "
                                   f"tweets-sentiment); {model!r} is a {type(adapter).__name__}. The Python API "
                                   "(lumos.compression.prune_magnitude, quantize_int8) takes any PyTorch model.")
    return adapter


if __name__ == "__main__":  # pragma: no cover
    main()
