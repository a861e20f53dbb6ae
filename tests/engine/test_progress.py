"""Progress: a bar on a terminal, plain periodic lines in logs, nothing where output is captured or turned off."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest

from lumos.engine import progress
from lumos.engine.progress import LineProgress, format_seconds, mode, track


def test_mode_follows_the_switch_and_the_environment(monkeypatch):
    """enabled=False is off; LUMOS_PROGRESS forces bar, lines or off; a captured stream (no descriptor) is off."""
    monkeypatch.delenv("LUMOS_PROGRESS", raising=False)
    assert mode(False, 10) == "off"
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # like click's CliRunner: no file descriptor
    assert mode(None, 10) == "off"
    for forced in ("bar", "lines", "off"):
        monkeypatch.setenv("LUMOS_PROGRESS", forced)
        assert mode(None, 10) == forced
    monkeypatch.setenv("LUMOS_PROGRESS", "lines")
    assert mode(False, 10) == "off"


def test_line_progress_reports_count_percentage_and_time_left():
    """A plain line gives steps done of the total, the percentage, the elapsed time and an estimate of the rest."""
    out = io.StringIO()
    lines = LineProgress("Explaining", 4, stream=out, first=0.0, every=0.0)
    lines.start -= 10.0  # ten seconds ago
    lines.advance()
    lines.close()
    first, last = out.getvalue().splitlines()
    assert re.fullmatch(r"Explaining: 1/4 \(25%\), 10 s elapsed, about (29|30|31) s left", first), first
    assert last.startswith("Explaining: done, 1 steps in 10 s")


def test_track_writes_lines_only_for_slow_work(monkeypatch):
    """In lines mode quick work prints nothing, and work past the first delay prints a line and a closing line;
    every item comes through in order either way."""
    monkeypatch.setenv("LUMOS_PROGRESS", "lines")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert list(track(range(5), description="quick")) == list(range(5))
    assert err.getvalue() == ""
    monkeypatch.setattr(progress, "FIRST_LINE_AFTER", 0.0)
    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    assert list(track(range(3), description="slow")) == [0, 1, 2]
    text = err.getvalue().splitlines()
    assert text[:3] == [line for line in text[:3] if line.startswith("slow: ")]
    assert "slow: 3/3 (100%)" in text[2] and text[-1].startswith("slow: done, 3 steps")


def test_format_seconds():
    """Durations read as seconds, minutes and seconds, or hours and minutes."""
    assert format_seconds(42.4) == "42 s"
    assert format_seconds(185) == "3 min 05 s"
    assert format_seconds(3720) == "1 h 02 min"


def test_a_piped_command_gets_plain_lines():
    """A process whose stderr is a pipe (a CI log) gets plain progress lines, without terminal escape codes."""
    code = ("import time; from lumos.engine import progress as p; p.FIRST_LINE_AFTER = 0.0; p.LINE_EVERY = 0.0\n"
            "for _ in p.track(range(2), description='Working'): time.sleep(0.01)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "LUMOS_PROGRESS": ""})
    assert done.returncode == 0, done.stderr
    assert "Working: 2/2 (100%)" in done.stderr and "\x1b[" not in done.stderr
