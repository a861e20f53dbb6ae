"""``lumos explain``: one text (or, with ``--image``, one image file) explained by one attribution method."""

from __future__ import annotations

import inspect
import click

from ..errors import MAX_EVALS, MAX_STEPS, InvalidArgumentError, check_output_path
from ._common import DEFAULT_IMAGE_MODEL, DEFAULT_MODEL, count, deprecated_alias, friendly_errors, names
from ._jobs import job_options, run_explain_job


class MethodOption(click.Option):
    """The --method option, whose help lists the methods registered when it is shown."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..attribution import method_names

        self.help = (f"Attribution method, by name or alias: {', '.join(method_names())}; aliases such as ig, "
                     "gxi, loo (see `lumos methods`).")
        return super().get_help_record(ctx)


#: Command-line options that set a method's parameter of the same name, where the method has one.
SETTINGS = {"--n-steps": "n_steps", "--n-evals": "n_evals"}


def _takes(cls: type, parameter: str) -> bool:
    return parameter in inspect.signature(cls.__init__).parameters


def method_settings(cls: type, given: dict[str, int | None]) -> dict[str, int]:
    """Keyword settings for ``cls`` from the options given; an option the method has no parameter for is an
    error (silently ignoring it would report an explanation computed with other settings than asked)."""
    from ..attribution import get_method, method_names

    settings = {}
    for option, value in given.items():
        if value is None:
            continue
        parameter = SETTINGS[option]
        if not _takes(cls, parameter):
            takers = ", ".join(n for n in method_names() if _takes(get_method(n), parameter)) or "none"
            raise InvalidArgumentError(f"The '{option}' option sets {parameter!r}, which {cls.name} does not take. "
                                       f"Methods that take it: {takers}.")
        settings[parameter] = value
    return settings


def job_settings(methods: list[str], given: dict[str, int | None]) -> dict[str, dict[str, int]]:
    """Per method, the options it takes (an option that none of ``methods`` takes is an error)."""
    from ..attribution import get_method

    out: dict[str, dict[str, int]] = {m: {} for m in methods}
    for option, value in given.items():
        if value is None:
            continue
        takers = [m for m in methods if _takes(get_method(m), SETTINGS[option])]
        if not takers:
            method_settings(get_method(methods[0]), {option: value})  # raises the usual error
        for m in takers:
            out[m][SETTINGS[option]] = value
    return out


@click.command()
@click.argument("text", required=False)
@click.option("--image", "image", default=None, metavar="PATH",
              help="Explain an image file (PNG, JPEG, ...) instead of TEXT, with an image model such as "
                   "imagenet-efficientnet-lite0.")
@click.option("--model", "-m", default=None,
              help=f"Zoo model name or a directory holding a Hugging Face classifier. [default: {DEFAULT_MODEL}; "
                   f"with --image: {DEFAULT_IMAGE_MODEL}]")
@click.option("--method", default=None, cls=MethodOption)
@click.option("--target", default=None, help="Class to explain (name or index). Default: the predicted class.")
@click.option("--n-steps", default=None, type=count(1, MAX_STEPS), help="Integration steps, for integrated_gradients (default 32).")
@click.option("--n-evals", default=None, type=count(1, MAX_EVALS),
              help="Model evaluations per explanation, for sampling methods such as lime.")
@click.option("--json", "as_json", is_flag=True, help="Print the Explanation as JSON.")
@click.option("--out", "out", default=None, metavar="PNG|DIR",
              help="With --image: where to write the saliency overlay [default: IMAGE-METHOD.png beside the cwd]; "
                   "with --data: the directory of the Parquet shards.")
@click.option("--row", "row", default=None, metavar="VALUES|N",
              help="Explain a table row with a table model (e.g. diabetes-mlp): comma-separated feature values in "
                   "the model's column order, or N, row N of the model's zoo dataset (its test split).")
@job_options
@deprecated_alias("--steps", "--n-steps", type=count(1, MAX_STEPS))
@deprecated_alias("--evals", "--n-evals", type=count(1, MAX_EVALS))
@friendly_errors
def explain(text: str | None, image: str | None, model: str | None, method: str | None, target: str | None,
            n_steps: int | None, n_evals: int | None, as_json: bool, out: str | None, job: dict | None,
            row: str | None = None) -> None:
    """Explain the model's decision on TEXT (or on an image with --image PATH, a table row with --row, or every
    row of a dataset file with --data FILE --out DIR)."""
    from ..attribution import get_method
    from ..models import ImageAdapter, as_adapter

    given = {"--n-steps": n_steps, "--n-evals": n_evals}
    if job is not None:
        if text is not None or image is not None or row is not None or target is not None or as_json:
            raise InvalidArgumentError("'--data' explains every row of a file: give no TEXT, --image, --row, "
                                       "--target or --json with it (read the shards with lumos.jobs.JobResult).")
        if method is not None and job["methods"] is not None:
            raise InvalidArgumentError("Give '--method' or '--methods', not both.")
        chosen = [get_method(m).name for m in (names(job["methods"], "--methods") or
                                               ["ig" if method is None else method])]
        return run_explain_job(job, model=DEFAULT_MODEL if model is None else model, methods=chosen,
                               settings=job_settings(chosen, given), out=out)
    if sum(v is not None for v in (text, image, row)) != 1:
        raise InvalidArgumentError("Give either TEXT, --image PATH or --row VALUES (exactly one), or --data FILE.")
    if row is not None:
        if out is not None:
            raise InvalidArgumentError("The '--out' option writes the overlay of an image: it needs --image PATH.")
        return _explain_row(row, model, "ig" if method is None else method, target, given, as_json)
    if image is not None:
        return _explain_image(image, DEFAULT_IMAGE_MODEL if model is None else model,
                              "grad_cam" if method is None else method, target, given, as_json, out)
    if out is not None:
        raise InvalidArgumentError("The '--out' option writes the overlay of an image: it needs --image PATH.")
    model = DEFAULT_MODEL if model is None else model  # "" is an error below, never the default
    cls = get_method("ig" if method is None else method)  # fail on a bad name or option before loading the model
    settings = method_settings(cls, given)
    adapter = as_adapter(model)
    adapter.require("`lumos explain`", task="classifier")
    if isinstance(adapter, ImageAdapter):
        raise InvalidArgumentError(f"The model {model!r} classifies images: pass --image PATH instead of TEXT.")
    explanation = cls(adapter, **settings).attribute(text, target=target)
    if as_json:
        click.echo(explanation.to_json(indent=2))
        return
    from ..display import print_explanation

    print_explanation(explanation)


def _explain_row(row: str, model: str | None, method: str, target: str | None, given: dict[str, int | None],
                 as_json: bool) -> None:
    """One table row (given values, or row N of the model's zoo dataset) explained by a classifier or a regressor."""
    from ..attribution import get_method
    from ..display import print_explanation
    from ..models import as_adapter

    if not model:
        raise InvalidArgumentError("The '--row' option needs --model, a model on tables (e.g. 'diabetes-mlp', "
                                   "'breast-cancer-mlp').")
    cls = get_method(method)
    settings = method_settings(cls, given)
    adapter = as_adapter(model).require("`lumos explain --row`", modality="table")
    values = _row_values(row, adapter, model)
    explanation = cls(adapter, **settings).attribute(values, target=target)
    if as_json:
        click.echo(explanation.to_json(indent=2))
        return
    print_explanation(explanation)


def _row_values(row: str, adapter, model: str):
    """The row ``--row`` names: an index into the model's zoo dataset, or comma-separated numbers."""
    import numpy as np

    text = row.strip()
    if text.isdigit():
        from .. import zoo

        name = zoo.info(model)["dataset"] if model in zoo.names() else ""
        if not name:
            raise InvalidArgumentError(f"The '--row' option {row!r} is a row number, but {model!r} is not a zoo model "
                                       "with a dataset; give the row's values, comma-separated.")
        frame = zoo.dataset(name).test.frame
        if int(text) >= len(frame):
            raise InvalidArgumentError(f"The '--row' option must be a row number in [0, {len(frame) - 1}] of "
                                       f"{name!r} (test split), or comma-separated values. Got {row!r}.")
        return frame.iloc[int(text)].to_numpy(dtype=np.float64)
    try:
        values = np.array([float(v) for v in text.split(",")], dtype=np.float64)
    except ValueError:
        raise InvalidArgumentError(f"The '--row' option must be a row number or comma-separated numbers. "
                                   f"Got {row!r}.") from None
    n = len(adapter.feature_names or ())
    if n and len(values) != n or not np.all(np.isfinite(values)):
        raise InvalidArgumentError(f"The '--row' option must hold {n} finite numbers, one per column "
                                   f"({', '.join(adapter.feature_names or ())}). Got {len(values)}: {row!r}.")
    return values


def _explain_image(path: str, model: str, method: str, target: str | None, given: dict[str, int | None],
                   as_json: bool, out: str | None) -> None:
    """``lumos explain --image``: explain one image file; write the map over the image as a PNG."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from ..attribution import get_method
    from ..models import ImageAdapter, as_adapter
    from ..models.vision import overlay, pixel_map, read_image

    cls = get_method(method)
    settings = method_settings(cls, given)
    if out is not None:
        check_output_path(out, "--out", suffixes=(".png", ".jpg", ".jpeg", ".webp"))
    picture = read_image(path)  # a clear error for a missing file or one that is not an image
    adapter = as_adapter(model)
    if not isinstance(adapter, ImageAdapter):
        raise InvalidArgumentError(f"The model {model!r} does not classify images; --image needs an image model "
                                   f"such as {DEFAULT_IMAGE_MODEL!r} or 'digits-cnn'.")
    instance = cls(adapter, **settings)
    explanation = instance.attribute(picture, target=target)
    if as_json:
        click.echo(explanation.to_json())
        return
    prepared = adapter.split_inputs(picture)[0][0]
    masker = getattr(instance, "masker", None)
    heat = masker.to_pixels(prepared, explanation.values) if masker is not None else pixel_map(explanation)
    target_path = Path(out) if out is not None else Path(f"{Path(path).stem}-{explanation.method}.png")
    Image.fromarray(overlay(prepared, heat, signed=bool((heat < 0).any()))).save(target_path)
    top = np.argsort(-explanation.prediction)[:3]
    click.echo(f"{adapter.name}: " + ", ".join(f"{adapter.class_names[i]} {explanation.prediction[i]:.3f}"
                                                for i in top))
    rows, cols = np.nonzero(heat >= np.quantile(heat, 0.9))
    click.echo(f"{explanation.method} for {explanation.target_label!r}: top 10% of the map in rows "
               f"{rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()} of the {adapter.image_size[0]} x "
               f"{adapter.image_size[1]} input ({explanation.cost.seconds:.2f} s)")
    click.echo(f"overlay written to {target_path}")
