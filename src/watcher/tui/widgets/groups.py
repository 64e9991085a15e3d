"""The per-group panel (forms, categories or variants): progress, scores and a histogram of every
attempt's score with the min_score marker, under a header whose histogram column is its axis."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from watcher.monitor.format import bar, num, pct
from watcher.monitor.histogram import fit_bins, histogram_axis, histogram_cells
from watcher.monitor.snapshot import GroupStats, Snapshot
from watcher.tui.widgets.lines import LinesView

GROUP_NAME_W = 14
HIST_STYLE = {"low": "red", "high": "green", "marker": "bold magenta"}


def _head(label: str) -> str:
    return f"{label:<{GROUP_NAME_W}} {'done/target':<19} {'mean':>5} {'pass':>5} {'att':>4} {'rej':>4} "


PREFIX_W = len(_head("form"))  # the columns before the histogram


def groups_header(label: str, bins: int = 10, min_score: float | None = None) -> Text:
    t = Text(_head(label), style="bold", no_wrap=True)
    t.append(histogram_axis(bins, min_score), style="bold")
    return t


def group_line(g: GroupStats, min_score: float | None, bins: int = 10) -> Text:
    name = g.name if len(g.name) <= GROUP_NAME_W else g.name[: GROUP_NAME_W - 1] + "…"
    frac = g.done / g.target if g.target else 0.0
    t = Text(no_wrap=True)
    t.append(f"{name:<{GROUP_NAME_W}} ")
    t.append(bar(frac, 9), style="green" if g.done >= g.target else "cyan")
    t.append(f" {f'{g.done}/{g.target}':>9}")
    t.append(f" {num(g.mean_score):>5} {pct(g.pass_rate):>5} {num(g.attempts_per_accepted, '.1f'):>4}")
    t.append(f" {g.rejected:>4}", style="yellow" if g.rejected else "")
    t.append(" ")
    for ch, role in histogram_cells(g.attempt_scores, bins, min_score):
        t.append(ch, style=HIST_STYLE[role])
    return t


class GroupsView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None

    def show(self, s: Snapshot, bins: int) -> None:
        key = (s.groups, s.min_score, bins)
        if key == self._key:
            return
        self._key = key
        self.set_lines([group_line(g, s.min_score, bins) for g in s.groups]
                       or [Text("no groups yet", style="dim")])


class GroupsPanel(Vertical):
    """Header (the histogram's axis) over the group lines; the histogram takes as many bins as the
    panel's width allows (10, 20 or 40), so header and lines are rebuilt together on a resize."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.border_title = "forms"
        self._snap: Snapshot | None = None
        self._head_key: Any = None
        self.bins = 10

    def compose(self) -> ComposeResult:
        yield Static(groups_header("form"), id="groups-head", classes="thead")
        yield GroupsView(id="groups")

    def apply(self, s: Snapshot) -> None:
        self._snap = s
        self._show()

    def _show(self) -> None:
        s = self._snap
        if s is None:
            return
        # room left of the histogram; 2 cells kept for the scrollbar a long list brings
        self.bins = fit_bins(self.content_region.width - PREFIX_W - 2, s.min_score)
        head_key = (s.group_label, self.bins, s.min_score)
        if head_key != self._head_key:
            self._head_key = head_key
            self.border_title = f"{s.group_label}s"
            self.border_subtitle = "scores of all attempts" + (
                f" · ┊ min {s.min_score:.2f}" if s.min_score is not None else "")
            self.query_one("#groups-head", Static).update(groups_header(s.group_label, self.bins, s.min_score))
        self.query_one(GroupsView).show(s, self.bins)

    def on_resize(self) -> None:
        self._show()
