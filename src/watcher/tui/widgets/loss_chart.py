"""The training loss chart: train loss as block columns, val loss as dots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.text import Text
from textual.widget import Widget

from watcher.monitor.format import (
    BARS,
)


class LossChart(Widget):
    """Train loss as block columns, val loss as dots over them; y axis labelled with min/max."""

    DEFAULT_CSS = "LossChart { height: 12; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []

    def set_data(self, train: Iterable[Sequence[float]], val: Iterable[Sequence[float]]) -> None:
        t = [(float(a), float(b)) for a, b in train]
        v = [(float(a), float(b)) for a, b in val]
        if (t, v) != (self.train, self.val):
            self.train, self.val = t, v
            self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        if not self.train and not self.val:
            return Text("no loss reported yet", style="dim")
        legend = Text(no_wrap=True)
        legend.append("train ▇", style="cyan")
        legend.append("  val ●", style="magenta")
        if self.train:
            legend.append(f"   last train {self.train[-1][1]:.3f} @ {self.train[-1][0]:.0f}")
        if self.val:
            legend.append(f" · val {self.val[-1][1]:.3f} @ {self.val[-1][0]:.0f}")
        rows = max(1, h - 2)  # legend + x axis
        pts = self.train + self.val
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        label_lo = lo
        lo -= (hi - lo) * 0.08  # headroom below the minimum so the lowest loss is still a visible bar
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        axis_w = 8
        plot_w = max(1, w - axis_w)
        levels = rows * 8

        def level(v: float) -> int:
            return max(1, round((v - lo) / (hi - lo) * (levels - 1)) + 1)

        def col_of(it: float) -> int:
            return 0 if x1 == x0 else round((it - x0) / (x1 - x0) * (plot_w - 1))

        train_lv: list[int | None] = [None] * plot_w
        if self.train:
            j = 0
            for c in range(plot_w):  # step function: the last train point at or before this column
                while j + 1 < len(self.train) and col_of(self.train[j + 1][0]) <= c:
                    j += 1
                if col_of(self.train[j][0]) <= c:
                    train_lv[c] = level(self.train[j][1])
        val_row: dict[int, int] = {}
        for it, v in self.val:
            val_row[col_of(it)] = (level(v) - 1) // 8
        lines = [legend]
        for r in range(rows - 1, -1, -1):
            label = f"{hi:.3f}" if r == rows - 1 else f"{label_lo:.3f}" if r == 0 else ""
            line = Text(f"{label:>{axis_w - 2}} ┤", style="dim", no_wrap=True)
            for c in range(plot_w):
                if val_row.get(c) == r:
                    line.append("●", style="bold magenta")
                    continue
                lv = train_lv[c]
                if lv is None or lv <= r * 8:
                    line.append(" ")
                else:
                    line.append("█" if lv >= (r + 1) * 8 else BARS[lv - r * 8 - 1], style="cyan")
            lines.append(line)
        x_axis = f"{'':>{axis_w - 2}} └" + f"{x0:.0f}".ljust(max(1, plot_w - len(f'{x1:.0f}'))) + f"{x1:.0f}"
        lines.append(Text(x_axis, style="dim", no_wrap=True))
        return Text("\n").join(lines)
