"""The events log (`e`): every supervisor notice of the run and every announcement of this session.

Toasts show only what is new while the app runs; this screen keeps all of it, the history the run
had before the app attached included.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Log, Static

from watcher.tui.screens.base import SubScreen


class EventsScreen(SubScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,e", "back", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.shown = 0

    def compose(self) -> ComposeResult:
        yield Static(Text("events", style="bold"), id="events-title")
        yield Log(max_lines=5000, highlight=False, id="events-log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).write_line("(no events yet)")
        self.refresh_events()
        self.set_interval(0.5, self.refresh_events)

    def refresh_events(self) -> None:
        events = self.wapp.events  # only ever appended to
        if len(events) == self.shown:
            return
        log = self.query_one(Log)
        if self.shown == 0:
            log.clear()  # drop the placeholder
        log.write_lines(events[self.shown:])
        self.shown = len(events)
