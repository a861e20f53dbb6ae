"""The ``lumos`` command.

    lumos explain "the flight was late again" [--model tweets-sentiment] [--method ig] [--target CLASS]
                  [--steps N] [--evals N] [--json]
    lumos report [--model tweets-sentiment] [--data DATA] [--n 50] [--out lumos-report]
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
@click.argument("text")
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True,
              help="Zoo model name or a directory holding a Hugging Face classifier.")
@click.option("--method", default="ig", show_default=True, cls=_MethodOption)
@click.option("--target", default=None, help="Class to explain (name or index). Default: the predicted class.")
@click.option("--steps", default=None, type=int, help="Integration steps, for integrated_gradients (default 32).")
@click.option("--evals", default=None, type=int,
              help="Model evaluations per explanation, for sampling methods such as lime (their n_evals).")
@click.option("--json", "as_json", is_flag=True, help="Print the Explanation as JSON.")
@_friendly_errors
def explain(text: str, model: str, method: str, target: str | None, steps: int | None, evals: int | None,
            as_json: bool) -> None:
    """Explain the model's decision on TEXT."""
    from .attribution import get_method
    from .models import as_adapter

    cls = get_method(method)  # fail on a bad name or option before loading the model
    settings = _method_settings(cls, {"--steps": steps, "--evals": evals})
    adapter = as_adapter(model)
    explanation = cls(adapter, **settings).attribute(text, target=target)
    if as_json:
        click.echo(explanation.to_json(indent=2))
        return
    from .display import print_explanation

    print_explanation(explanation)


@main.command()
@click.option("--model", "-m", default=_DEFAULT_MODEL, show_default=True,
              help="Zoo model name or a directory holding a Hugging Face classifier.")
@click.option("--data", default=None, help="Zoo dataset name or CSV file with 'text' and 'label' columns. "
              "Default: the zoo model's own held-out split.")
@click.option("--n", default=50, show_default=True, type=int, help="Held-out examples to explain.")
@click.option("--out", default="lumos-report", show_default=True, help="Output directory.")
@click.option("--methods", default=None, help="Comma-separated method names. Default: the gradient methods and the "
              "perturbation methods (occlusion, lime, ...) that are registered.")
@_friendly_errors
def report(model: str, data: str | None, n: int, out: str, methods: str | None) -> None:
    """Write the offline HTML report (OUT/index.html)."""
    from .report import build_report

    names = [m.strip() for m in methods.split(",") if m.strip()] if methods else None
    path = build_report(model, data=data, n=n, out=out, methods=names, progress=True)
    click.echo(f"Report written to {path}")


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
        status = f"test accuracy {info['test_accuracy']:.3f}" if info["built"] else "not built yet"
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
    click.echo(f"{name}: test accuracy {meta['test_accuracy']:.4f} on {meta['n_test']} held-out tweets "
               f"(built in {meta['seconds']:.0f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
