"""The help screen: the keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

if TYPE_CHECKING:
    pass


HELP_KEYS: list[tuple[str, str]] = [
    ("p / r", "pause / resume the workers (cooperative: in-flight calls finish)"),
    ("g", "quality gate: run the checks on the data so far, see examples and the export counts"),
    ("t", "training panel: start/stop LoRA training, loss chart, eval before/after"),
    ("+ / -", "add / remove a worker"),
    ("l", "log of the worker selected in the workers table"),
    ("e", "events: every notice of the run (toasts show only new ones)"),
    ("↑ ↓ PgUp PgDn", "move in the feed (stops following); End follows the newest again"),
    ("enter", "open the feed item: text, synth and natural traces, rubric"),
    ("tab", "move focus between the feed and the workers table"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit: stop the workers, or detach and leave them running"),
    ("escape", "close a panel / go back"),
]


class HelpScreen(ModalScreen[None]):
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
