"""What every command shares: the default models, one-line errors, deprecated option spellings, comma lists,
and the model-plus-data step of the commands that analyse a dataset."""

from __future__ import annotations

import functools
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import click
from click.core import ParameterSource

from ..errors import LARGEST_INT, InvalidArgumentError, LumosError, LumosWarning

DEFAULT_MODEL = "tweets-sentiment"
DEFAULT_IMAGE_MODEL = "imagenet-efficientnet-lite0"
#: The default causal language model of ``lumos generate`` (and the other commands on generative models).
DEFAULT_LM = "smollm2-135m"

#: Help of the ``--model`` option of the commands that take a zoo name or a model directory.
MODEL_HELP = "Zoo model name or a directory holding a Hugging Face classifier."


@functools.lru_cache(maxsize=None)  # one type object per range, so an option and its old spelling share it
def count(minimum: int, maximum: int = LARGEST_INT) -> click.IntRange:
    """An int option counted from ``minimum``: a value out of range (negative, zero where it means nothing, or
    beyond what could ever be allocated) is a usage error before any work starts."""
    return click.IntRange(minimum, maximum)


#: Any int option that may be negative (a layer counted from the end, a rating checked later).
INT = click.IntRange(-LARGEST_INT, LARGEST_INT)
#: A random seed: numpy and torch take seeds in [0, 2**32).
SEED = click.IntRange(0, 2**32 - 1)


class Number(click.ParamType):
    """A finite real number (NaN and infinities refused) above ``minimum``."""

    name = "number"

    def __init__(self, minimum: float, exclusive: bool = False) -> None:
        self.minimum, self.exclusive = minimum, exclusive

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number.", param, ctx)
        low = number <= self.minimum if self.exclusive else number < self.minimum
        if number != number or number in (float("inf"), float("-inf")) or low:
            self.fail(f"{value!r} is not a finite number {'>' if self.exclusive else '>='} {self.minimum}.",
                      param, ctx)
        return number


@functools.lru_cache(maxsize=None)
def number(minimum: float, *, exclusive: bool = False) -> Number:
    """A float option: finite, and at least (or, ``exclusive``, above) ``minimum``."""
    return Number(minimum, exclusive)


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show a LumosError as one clear line and exit with status 2, never as a traceback; show a LumosWarning
    (such as a text cut to the model's length) as one ``warning:`` line on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                shown = warnings.showwarning

                def show(message: Any, category: type, *rest: Any, **more: Any) -> None:
                    if issubclass(category, LumosWarning):
                        click.secho(f"warning: {message}", fg="yellow", err=True)
                    else:
                        shown(message, category, *rest, **more)

                warnings.showwarning = show
                warnings.simplefilter("always", LumosWarning)
                return fn(*args, **kwargs)
        except LumosError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)

    return wrapper


def deprecated_alias(old: str, new: str, **option: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Accept the hidden option ``old`` as a deprecated spelling of the option ``new``.

    The value given to ``old`` goes to ``new``'s parameter, with a one-line warning on stderr; giving both is an
    error. ``option`` holds what the old option needs to parse its value the same way (``type``, ``multiple``).
    Place it below the command's other options, above :func:`friendly_errors`.
    """
    slot = "deprecated_" + old.lstrip("-").replace("-", "_")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = kwargs.pop(slot)
            if value is None or value == ():
                return fn(*args, **kwargs)
            ctx = click.get_current_context()
            name = next(p.name for p in ctx.command.params if new in p.opts)
            if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
                raise click.UsageError(f"Give '{new}' only: '{old}' is its deprecated spelling.", ctx=ctx)
            click.echo(f"warning: the option '{old}' is deprecated; use '{new}'.", err=True)
            kwargs[name] = value
            return fn(*args, **kwargs)

        return click.option(old, slot, hidden=True, default=None, help=f"Deprecated spelling of {new}.",
                            **option)(wrapper)

    return decorate


def names(text: str | None, option: str | None = None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None -> None. A given ``option`` whose text names nothing ("", ",")
    is an error, rather than silently meaning the default; without ``option``, such a text gives None."""
    items = [item.strip() for item in text.split(",") if item.strip()] if text else []
    if text is not None and not items and option is not None:
        raise InvalidArgumentError(f"The {option!r} option names nothing: give one or more comma-separated names, or "
                                   f"leave the option out for the default. Got {text!r}.")
    return items or None


def model_data(adapter: Any, data: str | None, holding: str) -> str:
    """``data``, or by default the dataset of the zoo model ``adapter``; ``holding`` says what a CSV file must hold
    (for the error of a model outside the zoo)."""
    data = data or adapter.card.get("dataset")
    if data is None:
        raise InvalidArgumentError(f"The '--data' option is required for a model outside the zoo: {holding}.")
    return data


def load_for_analysis(model: str, data: str | None, split: str, command: str = "diagnose") -> tuple[Any, Any]:
    """The adapter and its labelled data (default: the zoo model's own dataset), which must be of the kind the
    model reads (texts or a table)."""
    from ..models import as_adapter
    from ..report.data import input_kind
    from ..zoo.data import load_labelled

    adapter = as_adapter(model)
    adapter.require(f"`lumos {command}`", task="classifier")
    data = model_data(adapter, data, "a zoo dataset or a CSV file with a 'label' column")
    labelled = load_labelled(data, adapter.class_names, split=split, argument="--data")
    reads = input_kind(adapter)
    if reads in ("texts", "tables") and reads != labelled.kind:
        what = "texts (a 'text' column)" if labelled.kind == "texts" else "a table (no 'text' column)"
        own = adapter.card.get("dataset")
        raise InvalidArgumentError(f"The model {model!r} reads {reads}, but the '--data' {data!r} holds {what}. "
                                   "Pass data of the model's kind" + (f", such as {own!r}." if own else "."))
    return adapter, labelled


def text_model(model: str, command: str) -> Any:
    """The adapter of a transformer text classifier, with a one-line error for an image or tabular model."""
    from ..models import TransformersAdapter, as_adapter

    adapter = as_adapter(model)
    adapter.require(f"`lumos {command}`", task="classifier")
    if not isinstance(adapter, TransformersAdapter):
        raise InvalidArgumentError(f"`lumos {command}` works on transformer text classifiers (such as "
                                   f"tweets-sentiment); {model!r} is a {type(adapter).__name__}. The Python API "
                                   "(lumos.compression.prune_magnitude, quantize_int8) takes any PyTorch model.")
    return adapter


#: The output formats of the listing commands (``--format``).
FORMATS = ("table", "json", "csv")


def format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--format table|json|csv`` option of a listing command (parameter ``fmt``)."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                        help="table: aligned columns for people (never cut, whatever the width); json: one JSON "
                             "document; csv: a header line, then one line per row.")(fn)


def emit_rows(rows: list[dict[str, Any]], fmt: str, *, title: str | None = None, footer: str | None = None,
              payload: Any = None, columns: list[str] | None = None) -> None:
    """Print ``rows`` (dicts with the same keys, in column order) as a table, JSON or CSV on stdout.

    ``payload`` is what JSON prints when it is richer than the rows (default: the rows); ``title`` and
    ``footer`` go with the table only; ``columns`` names the columns when there may be no rows.
    """
    import csv
    import io
    import json

    if fmt == "json":
        click.echo(json.dumps(rows if payload is None else payload, indent=2, default=str))
        return
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(buf.getvalue(), nl=False)
        return
    from rich.table import Table
    from rich.text import Text

    from ..display import print_tables

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row[c] is None else str(row[c])) for c in columns))
    print_tables([table], footer=footer)


def data_dir() -> Path:
    """The lumos data directory, where commands write their outputs by default: ``$LUMOS_DATA_DIR`` or the user
    data directory (platformdirs: ``~/.local/share/lumos`` on Linux)."""
    override = os.environ.get("LUMOS_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lumos"))


def output_dir(out: str | None, kind: str, model: str) -> Path:
    """Where a command writes: ``out`` when given, else ``<data dir>/<kind>/<model>`` (a model directory by its
    last part), never the current directory unless asked."""
    if out is not None:
        if not str(out).strip():
            raise InvalidArgumentError("The '--out' option is empty: give a path, or leave it out for the default "
                                       f"under the lumos data directory ({data_dir() / kind}).")
        return Path(out)
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(model)).name or "model").strip(".-") or "model"
    return data_dir() / kind / name


#: Help text's ending of the ``--out`` options whose default is under the data directory.
OUT_DEFAULT_HELP = "Default: <lumos data directory>/{kind}/<model> ($LUMOS_DATA_DIR overrides the data directory)."
