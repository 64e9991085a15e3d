"""The feed item detail: the full record behind a feed line, its text first, then rubric, traces, metadata."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from watcher.monitor.format import feed_line
from watcher.monitor.snapshot import FeedItem
from watcher.tui.screens.base import SubScreen

if TYPE_CHECKING:
    pass


TEXT_KEYS = ("poem", "response", "best_text", "best_poem", "best_response", "text")
SKIP_META = {*TEXT_KEYS, "synth_trace", "natural_trace", "rubric", "prompt", "messages", "usage"}


def record_text(rec: dict[str, Any]) -> str:
    """The record's generated text: poem or response (or a rejected item's best), else its chat
    messages' contents."""
    key = next((k for k in TEXT_KEYS if rec.get(k)), None)
    if key is not None:
        return str(rec[key])
    msgs = rec.get("messages")
    if isinstance(msgs, list):
        return "\n".join(f"{m.get('role', '?')}: {m.get('content') or m.get('tool_calls') or ''}"
                         for m in msgs if isinstance(m, dict))
    return ""


def plain(v: Any) -> str:
    """A metadata value as a reader writes it, not as Python does: yes/no, 1 not 1.0, no None."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class DetailScreen(SubScreen):
    """The full record behind a feed line: its text first, then rubric, traces, prompt, metadata.
    `n`/`p` step through the feed as shown (filtered and sorted); `c` copies the record as JSON."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("n", "step(1)", "Next"),
        Binding("p", "step(-1)", "Previous"),
        Binding("c", "copy", "Copy JSON"),
    ]

    def __init__(self, items: Sequence[FeedItem] | FeedItem, index: int | None = None,
                 label: Callable[[FeedItem], str] = feed_line) -> None:
        """`label`: the title line of an item (the feed's line; the gate panel says check and line)."""
        super().__init__()
        self.items = [items] if isinstance(items, FeedItem) else list(items)
        self.index = len(self.items) - 1 if index is None else index
        self.label = label
        self.record: dict[str, Any] | None = None

    @property
    def item(self) -> FeedItem:
        return self.items[self.index]

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static("loading record…", id="detail-text", classes="section")
            yield Static("", id="detail-rubric", classes="section")
            with Horizontal(id="detail-traces"):
                yield Static("", id="detail-synth", classes="section trace")
                yield Static("", id="detail-natural", classes="section trace")
            yield Static("", id="detail-prompt", classes="section")
            yield Static("", id="detail-meta")
        yield Footer()

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        item = self.item
        title = Text(self.label(item), style="bold")
        if len(self.items) > 1:
            title.append(f"   {self.index + 1}/{len(self.items)}", style="dim")
        self.query_one("#detail-title", Static).update(title)
        self.wapp.background(self.wapp.control.read_record, item.path, item.offset,
                             done=lambda rec: self.show_record(rec) if self.item is item else None,
                             failed=self.show_error, owner=self)

    def action_step(self, delta: int) -> None:
        index = self.index + delta
        if 0 <= index < len(self.items):
            self.index = index
            self.load()
        else:
            self.notify("no newer item" if delta > 0 else "no older item", timeout=2)

    def action_copy(self) -> None:
        if self.record is None:
            self.notify("the record is not loaded", severity="warning", timeout=2)
            return
        self.app.copy_to_clipboard(json.dumps(self.record, ensure_ascii=False, indent=2))
        self.notify(f"copied record {self.record.get('id', '')} as JSON", timeout=3)

    def show_error(self, exc: BaseException) -> None:
        self.query_one("#detail-text", Static).update(
            Text(f"could not read the record: {type(exc).__name__}: {exc}", style="bold red"))

    def show_record(self, rec: dict[str, Any] | None) -> None:
        self.record = rec
        text = self.query_one("#detail-text", Static)
        sections = [self.query_one(f"#detail-{k}", Static) for k in ("rubric", "synth", "natural", "prompt", "meta")]
        for w in sections:
            w.update("")
        if rec is None:
            text.update(Text(f"record not found at {self.item.path}:{self.item.offset}", style="bold red"))
            return
        body_key = next((k for k in TEXT_KEYS if rec.get(k)), None)
        text.update(_section(body_key or "text", str(rec.get(body_key, "")) if body_key else "(no text in the record)"))
        rubric = rec.get("rubric")
        rubric_box = self.query_one("#detail-rubric", Static)
        rubric_box.display = isinstance(rubric, list) and bool(rubric)
        if isinstance(rubric, list) and rubric:
            rubric_box.update(_rubric_table(rubric))
        has_traces = bool(rec.get("synth_trace") or rec.get("natural_trace"))
        self.query_one("#detail-traces").display = has_traces
        if has_traces:
            self.query_one("#detail-synth", Static).update(_section("synth trace", rec.get("synth_trace") or "(none)"))
            self.query_one("#detail-natural", Static).update(
                _section("natural trace", rec.get("natural_trace") or "(none)"))
        prompt = rec.get("prompt")
        prompt_box = self.query_one("#detail-prompt", Static)
        prompt_box.display = bool(prompt)
        if prompt:
            prompt_box.update(_section("prompt", str(prompt)))
        fields = [(k, v) for k, v in rec.items()
                  if k not in SKIP_META and v is not None and not isinstance(v, dict | list)]
        usage = rec.get("usage")
        if isinstance(usage, dict):
            fields.append(("usage", " / ".join(f"{k} {plain(v)}" for k, v in usage.items())))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold cyan")
        grid.add_column()
        for k, v in fields:
            grid.add_row(k, escape(plain(v)))
        self.query_one("#detail-meta", Static).update(grid)
        self.query_one("#detail-body", VerticalScroll).scroll_home(animate=False)


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
