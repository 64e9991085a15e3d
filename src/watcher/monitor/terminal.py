"""The one place that decides how command output looks: rich colour and live bars on a terminal,
plain lines when piped or with NO_COLOR (https://no-color.org), so scripts, `grep` and the tests
that parse the output see the same text as before.

`echo` prints text with a few words coloured by regex rules (the text itself never changes);
`progress_bar` is a live rich bar on a terminal and nothing at all otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Rules = Sequence[tuple[str, str]]  # (regex, rich style): what to colour in a line


def use_rich(out: TextIO | None = None) -> bool:
    out = out or sys.stdout
    try:
        tty = out.isatty()
    except ValueError:  # a closed stream
        return False
    return tty and not os.environ.get("NO_COLOR")


def console(out: TextIO | None = None) -> Console:
    # highlight=False: colour only what a rule names, not every number rich would guess at.
    return Console(file=out or sys.stdout, highlight=False)


def coloured(text: str, rules: Rules) -> Text:
    t = Text(text)
    for pattern, style in rules:
        t.highlight_regex(pattern, style)
    return t


def echo(text: str, rules: Rules = (), out: TextIO | None = None) -> None:
    """Print `text` (one line or many) with `rules` applied on a terminal; as it is otherwise."""
    out = out or sys.stdout
    if not use_rich(out):
        out.write(text + "\n")
        out.flush()
        return
    # soft_wrap: a long line wraps as the terminal wraps it, with no newline put into the text.
    console(out).print(coloured(text, rules), soft_wrap=True)


class Bar:
    """A live bar for one task; `print` puts a line above it (so lines and the bar do not tear)."""

    def __init__(self, progress: Progress, task: int) -> None:
        self.progress, self.task = progress, task

    def update(self, completed: float, total: float | None = None, description: str | None = None) -> None:
        kw: dict[str, object] = {"completed": completed}
        if total is not None:
            kw["total"] = total
        if description is not None:
            kw["description"] = description
        self.progress.update(self.task, **kw)  # type: ignore[arg-type]

    def print(self, line: str, rules: Rules = ()) -> None:
        self.progress.console.print(coloured(line, rules), soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: float | None, out: TextIO | None = None, *,
                 counts: bool = True) -> Iterator[Bar | None]:
    """A rich progress bar while the block runs, on a terminal only (else None: print lines as
    before). `counts`: show done/total (items, iterations) rather than a percentage (bytes)."""
    out = out or sys.stdout
    if not use_rich(out):
        yield None
        return
    columns = [TextColumn("[progress.description]{task.description}"), BarColumn(),
               MofNCompleteColumn() if counts else TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn()]
    # transient: the bar goes when the work ends; the final lines and tables stay as they were.
    with Progress(*columns, console=console(out), transient=True, refresh_per_second=4) as progress:
        yield Bar(progress, progress.add_task(description, total=total))
