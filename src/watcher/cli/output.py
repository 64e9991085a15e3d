"""How commands print tables: rich (colour, box drawing) on a terminal, plain columns when piped
or with NO_COLOR (https://no-color.org), so scripts and `grep` see stable text. Which of the two is
monitor/terminal.py's decision (`use_rich`), shared with coloured lines and progress bars."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from watcher.monitor.terminal import use_rich

Cell = str | Text


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, right: Sequence[int] = (),
                out: TextIO | None = None) -> None:
    """A table: rich on a terminal; otherwise space-aligned plain columns (styles dropped)."""
    out = out or sys.stdout
    if use_rich(out):
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
        for i, h in enumerate(headers):
            table.add_column(h, justify="right" if i in right else "left", no_wrap=i < len(headers) - 1)
        for r in rows:
            table.add_row(*r)
        Console(file=out).print(table)
        return
    plain = [[c.plain if isinstance(c, Text) else c for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in plain]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                 strict=True))).rstrip()

    out.write(line(headers) + "\n")
    for r in plain:
        out.write(line(r) + "\n")
    out.flush()


def quiet_broken_pipe() -> None:
    """`watcher runs | head -1`: the reader left; exit quietly instead of a traceback on flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
