"""The busy notice shown while the app stops or detaches the workers before exiting."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from watcher.tui.screens.modal import DimmedModal

if TYPE_CHECKING:
    pass


class BusyScreen(DimmedModal[None]):
    """Shown while the app stops or detaches the workers before exiting."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="busy-box"):
            yield Label(self.message)
