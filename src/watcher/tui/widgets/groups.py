"""The per-group table (forms, categories or variants): progress, scores, histogram."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from watcher.monitor.format import (
    bar,
    num,
    pct,
    sparkline,
)
from watcher.monitor.snapshot import GroupStats, Snapshot
from watcher.tui.widgets.lines import LinesView

GROUP_NAME_W = 14


def groups_header(label: str) -> Text:
    return Text(f"{label:<{GROUP_NAME_W}} {'done/target':<19} {'mean':>5} {'pass':>5} {'att':>4} {'rej':>4}  "
                f"histogram", style="bold", no_wrap=True)


def group_line(g: GroupStats, min_score: float | None) -> Text:
    name = g.name if len(g.name) <= GROUP_NAME_W else g.name[: GROUP_NAME_W - 1] + "…"
    frac = g.done / g.target if g.target else 0.0
    t = Text(no_wrap=True)
    t.append(f"{name:<{GROUP_NAME_W}} ")
    t.append(bar(frac, 9), style="green" if g.done >= g.target else "cyan")
    t.append(f" {f'{g.done}/{g.target}':>9}")
    t.append(f" {num(g.mean_score):>5} {pct(g.pass_rate):>5} {num(g.attempts_per_accepted, '.1f'):>4}")
    t.append(f" {g.rejected:>4}", style="yellow" if g.rejected else "")
    t.append("  ")
    bars = sparkline(g.histogram)
    n = max(1, len(bars))
    for i, ch in enumerate(bars):
        low = min_score is not None and (i + 1) / n <= min_score + 1e-9  # bin lies wholly below min_score
        t.append(ch, style="red" if low else "green")
    return t


class GroupsView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None

    def apply(self, s: Snapshot) -> bool:
        """Returns True when the header (group label) changed."""
        key = (s.groups, s.min_score)
        if key == self._key:
            return False
        self._key = key
        self.set_lines([group_line(g, s.min_score) for g in s.groups] or [Text("no groups yet", style="dim")])
        return True
