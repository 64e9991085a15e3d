"""The worker log: the tail of one worker's log, re-read every second while open."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Log, Static

from watcher.tui.screens.base import SubScreen

if TYPE_CHECKING:
    pass


class LogScreen(SubScreen):
    """The tail of one worker's log, re-read every second while open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back"),
                                             Binding("r", "reload", "Reload")]

    def __init__(self, worker_id: int, lines: int = 500) -> None:
        super().__init__()
        self.worker_id = worker_id
        self.lines = lines
        self.text: str | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f"worker {self.worker_id} · log (last {self.lines} lines)", style="bold"),
                     id="log-title")
        yield Log(max_lines=self.lines * 2, highlight=False, id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(1.0, self.action_reload)

    def action_reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        self.wapp.background(self.wapp.control.worker_log, self.worker_id, self.lines,
                             done=self.show_text, failed=self.show_error, owner=self)

    def show_text(self, text: str) -> None:
        self._loading = False
        if text == self.text:
            return  # unchanged: keep the user's scroll position
        self.text = text
        log = self.query_one(Log)
        log.clear()
        log.write_lines(text.splitlines() or ["(empty log)"])

    def show_error(self, exc: BaseException) -> None:
        self._loading = False
        self.show_text(f"could not read the log: {type(exc).__name__}: {exc}")
