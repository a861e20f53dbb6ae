"""Terminal rendering (rich): an explanation as the prediction and a coloured heat line of words, and the tables
of the commands that print rich tables (evaluation, compression)."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .explanation import Explanation

__all__ = ["heat_line", "print_explanation", "print_generation", "print_tables", "natural_width"]


def heat_line(explanation: Explanation) -> Text:
    """Words coloured by attribution: red towards the explained class, blue away from it."""
    words, values = explanation.by_word()
    scale = float(np.abs(values).max()) if len(values) else 0.0
    line = Text()
    for i, (word, value) in enumerate(zip(words, values)):
        strength = 0.0 if scale == 0 else min(abs(value) / scale, 1.0)
        shade = int(255 - 175 * strength)
        color = f"rgb(255,{shade},{shade})" if value > 0 else f"rgb({shade},{shade},255)"
        line.append(word, style=f"black on {color}")
        if i + 1 < len(words):
            line.append(" ")
    return line


def print_explanation(explanation: Explanation, console: Console | None = None) -> None:
    """Print the prediction, the heat line, the top words (with standard errors where estimated), completeness
    and diagnostics where the method reports them, and the cost."""
    console = console or Console()
    regression = explanation.output == "value"
    table = Table(show_header=True, header_style="bold", box=None)
    for name in explanation.class_names:
        table.add_column(name, justify="right")
    table.add_row(*(f"{p:.4g}" if regression else f"{p:.3f}" for p in explanation.prediction))
    if regression:  # real-valued outputs: the predicted values, no predicted class
        console.print("prediction:")
        console.print(table)
        console.print(f"{explanation.method} for output [bold]{escape(explanation.target_label)}[/bold] "
                      f"(value {explanation.output_value:.4g}); red raises it, blue lowers it:")
    else:
        console.print(f"prediction: [bold]{escape(explanation.predicted_label)}[/bold]")
        console.print(table)
        console.print(f"{explanation.method} for class [bold]{escape(explanation.target_label)}[/bold] "
                      f"({explanation.output}); red pushes towards it, blue away:")
    console.print(heat_line(explanation))
    words, values = explanation.by_word()
    top = np.argsort(-np.abs(values), kind="stable")[:5]
    # A standard error per word exists where the features are the words (perturbation methods on text).
    stderr = explanation.stderr
    if stderr is None or len(stderr) != len(values) or not np.nanmax(stderr, initial=0.0) > 0:
        stderr = None  # none, not per word, or exact (every coalition evaluated)
    spread = (lambda i: f" ± {stderr[i]:.3f}") if stderr is not None else (lambda i: "")
    unit = "words" if explanation.text is not None else "features"  # a table's columns are not words
    console.print(f"top {unit}: " + ", ".join(f"{escape(words[i])} {values[i]:+.3f}{spread(i)}" for i in top))
    if stderr is not None:
        console.print("[dim](± one standard error of the estimate)[/dim]")
    if explanation.convergence_delta is not None:
        console.print(f"completeness: sum {values.sum():+.4f} vs f(x) - f(baseline) "
                      f"{explanation.output_value - explanation.base_value:+.4f} "
                      f"(delta {explanation.convergence_delta:+.2e})")
    if explanation.diagnostics:
        console.print("diagnostics: " + ", ".join(f"{escape(k)}={v:.3g}" for k, v in
                                                  sorted(explanation.diagnostics.items())))
    console.print(f"[dim]{explanation.cost.n_evals} model evaluations, {explanation.cost.seconds:.2f} s[/dim]")


def print_generation(generation: Any, explanation: Explanation, *, top_k: int = 3,
                     console: Console | None = None) -> None:
    """Print a generation's continuation and, for each explained generated token, its probability and its
    ``top_k`` sources (the earlier tokens, or prompt words, with the largest |attribution|)."""
    console = console or Console()
    console.print(Text(generation.prompt, style="dim"), Text(generation.continuation, style="bold"), sep="")
    console.print(f"{explanation.method} ({explanation.output}); + pushes towards the token, - away; "
                  f"{explanation.cost.n_evals} model evaluations, {explanation.cost.seconds:.2f} s")
    table = Table(show_header=True, header_style="bold", box=None)
    for name, justify in (("token", "left"), ("p", "right"), ("top sources", "left")):
        table.add_column(name, justify=justify)
    delta = explanation.convergence_delta
    if delta is not None:
        table.add_column("delta", justify="right")
    mask = explanation.source_mask
    for k, label in enumerate(explanation.targets):
        values = np.where(mask[k], explanation.values[k], 0.0)
        top = np.argsort(-np.abs(values), kind="stable")[:top_k]
        sources = ", ".join(f"{explanation.features[i]!r} {values[i]:+.3f}" for i in top if mask[k, i])
        row = [escape(repr(label)), f"{explanation.prediction[k]:.3f}", escape(sources)]
        if delta is not None:
            row.append(f"{delta[k]:+.1e}")
        table.add_row(*row)
    console.print(table)


def print_tables(tables: Iterable[Any], *, min_width: int | None = None, footer: str | None = None,
                 console: Console | None = None) -> None:
    """Print rich tables one after another, then ``footer`` as plain text.

    Nothing is cut or folded: the console is widened to the widest table's natural width (every header and cell
    on one line) when the terminal, or the 80 columns rich assumes for a pipe, is narrower. ``min_width``
    widens it further.
    """
    tables = list(tables)
    for table in tables:  # a title longer than its table would wrap: the table is made as wide as its title
        if isinstance(table, Table) and isinstance(table.title, str):
            table.min_width = max(table.min_width or 0, len(table.title) + 4)
    if console is None:
        width = max([Console().width, min_width or 0, *(natural_width(t) for t in tables)])
        console = Console(width=width)
    for table in tables:
        console.print(table)
    if footer is not None:
        console.print(footer, markup=False, soft_wrap=True)


def natural_width(renderable: Any) -> int:
    """The width ``renderable`` (a rich table) takes with nothing wrapped or cut."""
    wide = Console(width=100_000)
    return int(wide.measure(renderable).maximum)
