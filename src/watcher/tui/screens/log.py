"""The worker log: the tail of one worker's log, re-read every second while open.

←/→ switch workers; HTTP-level lines (the SDKs' `HTTP Request: POST … 200 OK`) are hidden unless
`h` shows them; `/` filters the lines as you type (every word must appear, case ignored); the log
follows its end unless the user scrolled up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Log, Static

from watcher.tui.screens.base import SubScreen
from watcher.tui.widgets.filter import FilterInput

if TYPE_CHECKING:
    pass


class LogScreen(SubScreen):
    """The tail of one worker's log, re-read every second while open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # priority: the Log would take ←/→ for horizontal scrolling; switching workers matters more
        Binding("left", "switch(-1)", "Prev worker", key_display="←", priority=True),
        Binding("right", "switch(1)", "Next worker", key_display="→", priority=True),
        Binding("h", "toggle_http", "HTTP lines"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, worker_id: int, lines: int = 500, worker_ids: list[int] | None = None) -> None:
        super().__init__()
        self.worker_id = worker_id
        self.worker_ids = worker_ids or [worker_id]
        self.lines = lines
        self.text: str | None = None
        self.show_http = False
        self.terms: list[str] = []  # the filter's words, lower-cased
        self._loading = False
        self._placeholder = False

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield Log(max_lines=self.lines * 2, highlight=False, id="log")
        yield FilterInput(placeholder="filter the log: words that must appear (enter keeps it, esc clears)",
                          id="log-filter")
        yield Footer()

    def _title(self) -> None:
        t = Text(f"worker {self.worker_id} · log (last {self.lines} lines)", style="bold")
        if len(self.worker_ids) > 1:
            t.append(f" · {self.worker_ids.index(self.worker_id) + 1}/{len(self.worker_ids)} (←/→)", style="dim")
        if self.terms:  # before the HTTP note: on a narrow terminal the end of the title is cut
            t.append(f" · filter: {' '.join(self.terms)}", style="bold yellow")
        t.append(" · HTTP lines shown" if self.show_http else " · HTTP lines hidden (h)", style="dim")
        self.query_one("#log-title", Static).update(t)

    def action_switch(self, delta: int) -> None:
        if self.worker_id not in self.worker_ids or len(self.worker_ids) < 2:
            return
        self.worker_id = self.worker_ids[(self.worker_ids.index(self.worker_id) + delta) % len(self.worker_ids)]
        self.text = None
        self._loading = False  # a reply for the previous worker is dropped in show_text
        self.action_reload()

    def action_toggle_http(self) -> None:
        self.show_http = not self.show_http
        self._redraw()

    def _redraw(self) -> None:
        """Show the text already read again, through the current HTTP and filter settings."""
        text, self.text = self.text, None
        if text is not None:
            self.show_text(text, self.worker_id)
        else:
            self._title()

    def keep(self, line: str) -> bool:
        if not self.show_http and is_http_noise(line):
            return False
        low = line.lower()
        return all(t in low for t in self.terms)

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.display = True
        box.focus()

    def on_input_changed(self, event: FilterInput.Changed) -> None:
        if event.input.id == "log-filter":
            self.terms = event.value.lower().split()
            self._redraw()

    def on_filter_input_closed(self, event: FilterInput.Closed) -> None:
        box = self.query_one(FilterInput)
        box.display = event.keep and bool(box.value.strip())  # a kept filter stays visible
        self.query_one(Log).focus()

    def on_mount(self) -> None:
        self._title()
        self.action_reload()
        self.set_interval(1.0, self.action_reload)

    def action_reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        wid = self.worker_id
        self.wapp.background(self.wapp.control.worker_log, wid, self.lines,
                             done=lambda text: self.show_text(text, wid), failed=self.show_error, owner=self)

    def show_text(self, text: str, worker_id: int | None = None) -> None:
        self._loading = False
        if worker_id is not None and worker_id != self.worker_id:
            return  # the user switched workers meanwhile
        self._title()
        if text == self.text:
            return  # unchanged: keep the user's scroll position
        log = self.query_one(Log)
        old = self.text
        self.text = text
        if old is not None and text.startswith(old) and log.line_count and not self._placeholder:
            # the log grew: append only what is new, so a user scrolled up stays where they are
            log.write_lines([ln for ln in text[len(old):].splitlines() if self.keep(ln)])
            return
        lines = [ln for ln in text.splitlines() if self.keep(ln)]
        log.clear()
        empty = f"(no line matches “{' '.join(self.terms)}”)" if self.terms and text.strip() else "(empty log)"
        log.write_lines(lines or [empty])
        self._placeholder = not lines  # new lines replace it rather than follow it

    def show_error(self, exc: BaseException) -> None:
        self._loading = False
        self.show_text(f"could not read the log: {type(exc).__name__}: {exc}")


_HTTP_OK = re.compile(r'HTTP Request: .*"HTTP/[\d.]+ 2\d\d')


def is_http_noise(line: str) -> bool:
    """A successful request as httpx logs it (`HTTP Request: POST https://… "HTTP/1.1 200 OK"`); a
    429 or 5xx line is not noise and stays."""
    return _HTTP_OK.search(line) is not None
