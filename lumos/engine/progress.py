"""Progress bars for long work (rich), shown only when asked or when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

__all__ = ["track", "should_show"]


def should_show(enabled: bool | None, n_steps: int) -> bool:
    """``enabled=None`` means: show when there is more than one step and stderr is interactive."""
    if enabled is None:
        return n_steps > 1 and sys.stderr.isatty()
    return bool(enabled)


def track(items: Iterable[T], *, description: str, total: int | None = None,
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar on stderr."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not should_show(enabled, total or 0):
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
