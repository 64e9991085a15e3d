"""monitor/terminal.py: colour and live bars on a terminal only; the text is the same either way."""

from __future__ import annotations

import io

import pytest

from watcher.monitor.terminal import echo, progress_bar, use_rich


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


RULES = ((r"PASSED", "bold green"),)


def test_plain_when_piped_or_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    echo("gate PASSED", RULES, out=piped)
    assert piped.getvalue() == "gate PASSED\n" and not use_rich(piped)
    with progress_bar("gate", 10, piped) as bar:
        assert bar is None  # piped: no bar, the caller prints its lines
    monkeypatch.setenv("NO_COLOR", "1")
    tty = Tty()
    echo("gate PASSED", RULES, out=tty)
    assert tty.getvalue() == "gate PASSED\n"


def test_colour_and_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    tty = Tty()
    echo("gate PASSED · " + "x" * 300, RULES, out=tty)
    assert "\x1b[1;32mPASSED\x1b[0m" in tty.getvalue() and tty.getvalue().count("\n") == 1  # no wrap inserted
    tty = Tty()
    with progress_bar("generating", 4, tty) as bar:
        assert bar is not None
        bar.print("[1/4] Haiku: score=1.00 (claude-haiku-4-5)")
        bar.update(1, 4, "running · 12.0/min")
    out = tty.getvalue()
    assert "[1/4] Haiku: score=1.00" in out and "generating" in out
