"""The quit dialog: stop the workers, detach, or cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from watcher.tui.screens.modal import DimmedModal

if TYPE_CHECKING:
    pass


class QuitScreen(DimmedModal[str | None]):
    """Stop the workers, detach and leave them running, or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop workers"),
        Binding("d", "choose('detach')", "Detach"),
        Binding("escape,c", "choose('')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box") as box:
            box.border_title = "Quit watcher"
            yield Static("Stop the workers (in-flight calls finish), or detach and leave them running? "
                         "`watcher attach` picks detached workers up again.", id="quit-question", markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Stop workers (s)", variant="error", id="stop")
                yield Button("Detach (d)", variant="primary", id="detach")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id if event.button.id in ("stop", "detach") else "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
