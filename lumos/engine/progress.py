"""Progress of long work on stderr: a bar with an ETA on a terminal, plain periodic lines elsewhere (CI logs).

``track(items, description=...)`` is the one helper every long loop goes through. Where stderr is a terminal it
draws a rich progress bar (steps done, elapsed time, time left); where stderr is a file or a pipe (a CI log) it
writes a plain line such as ``Explaining: 3/7 (43%), 12 s elapsed, about 16 s left`` once the work has run for
2 s, then at most every 10 s, and one closing line; quick work prints nothing. ``LUMOS_PROGRESS`` overrides the
choice: ``bar``, ``lines`` or ``off``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")

__all__ = ["track", "should_show", "mode", "format_seconds", "LineProgress"]

#: Seconds before the first plain line, and between plain lines.
FIRST_LINE_AFTER = 2.0
LINE_EVERY = 10.0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _stderr_is_log() -> bool:
    """Whether stderr is a real file or pipe (it has a descriptor): a log someone reads, not a captured buffer."""
    try:
        sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    return True


def mode(enabled: bool | None, n_steps: int | None) -> str:
    """How progress is shown: ``"bar"``, ``"lines"`` or ``"off"``.

    ``enabled=False`` is always off. Otherwise ``LUMOS_PROGRESS`` (``bar``, ``lines``, ``off``) decides when set;
    else a terminal gets the bar (``enabled=None``: only for more than one step), and a file or a pipe gets plain
    lines.
    """
    if enabled is False:
        return "off"
    forced = os.environ.get("LUMOS_PROGRESS", "").strip().lower()
    if forced in ("bar", "lines", "off"):
        return forced
    if _stderr_is_terminal():
        return "bar" if enabled or (n_steps or 0) > 1 else "off"
    return "lines" if _stderr_is_log() or enabled else "off"


def should_show(enabled: bool | None, n_steps: int) -> bool:
    """Whether a progress bar is drawn (see :func:`mode`)."""
    return mode(enabled, n_steps) == "bar"


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class LineProgress:
    """Plain progress lines for logs: the first after ``first`` seconds, then at most every ``every`` seconds, and
    a closing line if any was written."""

    def __init__(self, description: str, total: int | None, *, stream: TextIO | None = None,
                 first: float | None = None, every: float | None = None) -> None:
        self.description, self.total = description, total
        self.stream = stream
        self.first = FIRST_LINE_AFTER if first is None else first
        self.every = LINE_EVERY if every is None else every
        self.start = time.monotonic()
        self.last: float | None = None
        self.done = 0

    def _write(self, text: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        print(text, file=stream, flush=True)

    def line(self, now: float) -> str:
        elapsed = now - self.start
        if self.total:
            left = elapsed / self.done * (self.total - self.done) if self.done else None
            text = (f"{self.description}: {self.done}/{self.total} ({100 * self.done / self.total:.0f}%), "
                    f"{format_seconds(elapsed)} elapsed")
            return text + (f", about {format_seconds(left)} left" if left is not None else "")
        return f"{self.description}: {self.done} done, {format_seconds(elapsed)} elapsed"

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        due = self.first if self.last is None else self.every
        if now - (self.start if self.last is None else self.last) >= due:
            self.last = now
            self._write(self.line(now))

    def close(self) -> None:
        if self.last is not None:
            self._write(f"{self.description}: done, {self.done} steps in {format_seconds(time.monotonic() - self.start)}")


def track(items: Iterable[T], *, description: str, total: int | None = None,
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate over ``items``, showing progress on stderr as :func:`mode` decides (bar, plain lines or nothing)."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    how = mode(enabled, total)
    if how == "off":
        yield from items
        return
    if how == "lines":
        lines = LineProgress(description, total)
        try:
            for item in items:
                yield item
                lines.advance()
        finally:
            lines.close()
        return
    yield from _bar(items, description, total)


def _bar(items: Iterable[T], description: str, total: int | None) -> Iterator[Any]:
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
