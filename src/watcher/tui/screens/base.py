"""The base of full screens over the main view."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

if TYPE_CHECKING:
    from watcher.tui.app import WatcherApp


class SubScreen(Screen[None]):
    """A full screen over the main view; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    @property
    def wapp(self) -> WatcherApp:
        return self.app  # type: ignore[return-value]

    def action_back(self) -> None:
        self.dismiss()
