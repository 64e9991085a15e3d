"""Stopping a run with batches in flight: cancel them at the provider, or leave them for the next run."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from watcher.tui.screens.modal import DimmedModal


class CancelBatchesScreen(DimmedModal[str | None]):
    """"cancel" (cancel them), "keep" (leave them in flight) or None (back to the run)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "choose('cancel')", "Cancel batches"),
        Binding("k", "choose('keep')", "Keep in flight"),
        Binding("escape", "choose('')", "Back"),
    ]

    def __init__(self, batches: int, requests: int) -> None:
        super().__init__()
        self.batches, self.requests = batches, requests

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box") as box:
            box.border_title = "Batches in flight"
            yield Static(f"{self.batches} batches ({self.requests} requests) are still at the provider. Cancel "
                         "them (results already made are still read and billed), or keep them in flight: the "
                         "same command polls them and reads their results.", markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Cancel batches (c)", variant="error", id="cancel")
                yield Button("Keep in flight (k)", variant="primary", id="keep")
                yield Button("Back (esc)", id="back")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id if event.button.id in ("cancel", "keep") else "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
