"""The feed item detail: the full record behind a feed line, its text, both traces, rubric."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from watcher.monitor.format import feed_line
from watcher.monitor.snapshot import FeedItem
from watcher.tui.screens.base import SubScreen

if TYPE_CHECKING:
    pass


TEXT_KEYS = ("poem", "response", "best_text", "best_poem", "best_response", "text")
SKIP_META = {*TEXT_KEYS, "synth_trace", "natural_trace", "rubric", "prompt", "messages", "usage"}


class DetailScreen(SubScreen):
    """The full record behind a feed line: text, both traces, rubric."""

    def __init__(self, item: FeedItem) -> None:
        super().__init__()
        self.item = item
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(feed_line(self.item), style="bold"), id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static("loading record…", id="detail-meta")
            yield Static("", id="detail-prompt", classes="section")
            yield Static("", id="detail-text", classes="section")
            yield Static("", id="detail-rubric", classes="section")
            with Horizontal(id="detail-traces"):
                yield Static("", id="detail-synth", classes="section trace")
                yield Static("", id="detail-natural", classes="section trace")
        yield Footer()

    def on_mount(self) -> None:
        self.wapp.background(self.wapp.control.read_record, self.item.path, self.item.offset,
                             done=self.show_record, failed=self.show_error, owner=self)

    def show_error(self, exc: BaseException) -> None:
        self.query_one("#detail-meta", Static).update(
            Text(f"could not read the record: {type(exc).__name__}: {exc}", style="bold red"))

    def show_record(self, rec: dict[str, Any] | None) -> None:
        self.record = rec
        meta = self.query_one("#detail-meta", Static)
        if rec is None:
            meta.update(Text(f"record not found at {self.item.path}:{self.item.offset}", style="bold red"))
            return
        fields = [(k, v) for k, v in rec.items()
                  if k not in SKIP_META and v is not None and not isinstance(v, dict | list)]
        usage = rec.get("usage")
        if isinstance(usage, dict):
            fields.append(("usage", " / ".join(f"{k} {v}" for k, v in usage.items())))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold cyan")
        grid.add_column()
        for k, v in fields:
            grid.add_row(k, escape(str(v)))
        meta.update(grid)
        prompt = rec.get("prompt")
        if prompt:
            self.query_one("#detail-prompt", Static).update(_section("prompt", str(prompt)))
        body_key = next((k for k in TEXT_KEYS if rec.get(k)), None)
        body = _section(body_key or "text", str(rec.get(body_key, "")) if body_key else "(no text in the record)")
        self.query_one("#detail-text", Static).update(body)
        rubric = rec.get("rubric")
        if isinstance(rubric, list) and rubric:
            self.query_one("#detail-rubric", Static).update(_rubric_table(rubric))
        else:
            self.query_one("#detail-rubric", Static).display = False
        self.query_one("#detail-synth", Static).update(_section("synth trace", rec.get("synth_trace") or "(none)"))
        self.query_one("#detail-natural", Static).update(
            _section("natural trace", rec.get("natural_trace") or "(none)"))


def _section(title: str, body: str) -> Text:
    t = Text()
    t.append(f"{title}\n", style="bold underline")
    t.append(body)
    return t


def _rubric_table(rubric: list[dict[str, Any]]) -> Table:
    cols: list[str] = []
    for r in rubric:
        for k in r:
            if k not in cols and k != "instruction":
                cols.append(k)
    table = Table(title="rubric", title_justify="left", expand=False, show_edge=False, pad_edge=False)
    for c in cols:
        table.add_column(c, justify="right" if c == "score" else "left", overflow="fold")
    for r in rubric:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if c == "score" and isinstance(v, int | float):
                style = "green" if v >= 0.999 else "yellow" if v > 0 else "red"
                cells.append(Text(f"{v:.2f}", style=style))
            else:
                cells.append(Text(str(v) if not isinstance(v, dict | list) else json.dumps(v)))
        table.add_row(*cells)
    return table
