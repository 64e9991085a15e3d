"""The help screen: the keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, Static

from watcher.tui.screens.modal import DimmedModal

if TYPE_CHECKING:
    pass


HELP_KEYS: list[tuple[str, str]] = [
    ("p / r", "pause / resume the workers (cooperative: in-flight calls finish)"),
    ("g", "quality gate: run the checks on the data so far, see examples and the export counts"),
    ("t", "training panel (asks first if the gate failed, never ran or is older than the data)"),
    ("+ / -", "add / remove a worker on the selected worker's backend"),
    ("l", "log of the worker selected in the workers table"),
    ("e", "events: every notice of the run (toasts show only new ones)"),
    ("↑ ↓ PgUp PgDn", "move in the feed (stops following); End follows the newest again"),
    ("/", "filter the feed: form, model, words (enter keeps it, escape clears)"),
    ("s", "sort the feed: time, score ↓, score ↑"),
    ("enter", "open the feed item: text, rubric, traces, metadata; n/p next/previous, c copy JSON"),
    ("tab", "move focus between the feed and the workers table"),
    ("v", "small terminals: the next panel (forms, finish_reason, failures, workers); or click its tab"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit: stop the workers, or detach and leave them running"),
    ("escape", "close a panel / go back"),
]


class HelpScreen(DimmedModal[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for k, d in HELP_KEYS:
            table.add_row(k, d)
        with Vertical(id="help-box") as box:
            box.border_title = "Keys"
            yield Static(table, id="help-keys")
            yield Label(Text("escape to close", style="dim"))

    def action_close(self) -> None:
        self.dismiss()
