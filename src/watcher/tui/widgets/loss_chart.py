"""The training loss chart: train loss as a braille line, val loss as points, stage markers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

from rich.text import Text
from textual.widget import Widget

from watcher.monitor.braille import AXIS, LABEL, LINE, MARKER, POINT, STAGE, line_chart

ROLE_STYLE = {LINE: "cyan", POINT: "bold magenta", MARKER: "yellow", STAGE: "bold yellow", AXIS: "dim",
              LABEL: "dim", "": ""}


class LossChart(Widget):
    """A legend line over `monitor.braille.line_chart`: x from 0 to the run's total iterations (so
    the stages still to come have their room), a dotted line where each stage began."""

    DEFAULT_CSS = "LossChart { height: 12; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self.stages: list[tuple[float, str]] = []
        self.total = 0

    def set_data(self, train: Iterable[Sequence[float]], val: Iterable[Sequence[float]],
                 stages: Iterable[tuple[int, str]] = (), total: int = 0) -> None:
        t = [(float(a), float(b)) for a, b in train]
        v = [(float(a), float(b)) for a, b in val]
        st = [(float(a), str(n)) for a, n in stages]
        if (t, v, st, total) != (self.train, self.val, self.stages, self.total):
            self.train, self.val, self.stages, self.total = t, v, st, total
            self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        if not self.train and not self.val:
            return Text("no loss reported yet", style="dim")
        legend = Text(no_wrap=True, overflow="ellipsis")
        legend.append("train ⠤⠒", style="cyan")
        legend.append("  val ●", style="magenta")
        if self.stages:
            legend.append("  stage ┊", style="yellow")
        if self.train:
            legend.append(f"   last train {self.train[-1][1]:.3f} @ {self.train[-1][0]:.0f}")
        if self.val:
            legend.append(f" · val {self.val[-1][1]:.3f} @ {self.val[-1][0]:.0f}")
        if h < 5 or w < 12:
            return legend
        xs = [p[0] for p in self.train + self.val]
        x_range = (0.0, float(max(self.total, *xs))) if self.total or xs else None
        chart = line_chart(self.train, self.val, width=w, height=h - 1, x_range=x_range, markers=self.stages)
        lines = [legend]
        for row in chart.rows:
            t = Text(no_wrap=True)
            for role, cells in groupby(row, key=lambda c: c[1]):  # one span per run of a role
                t.append("".join(c[0] for c in cells), style=ROLE_STYLE.get(role, ""))
            lines.append(t)
        return Text("\n").join(lines)
