"""Asked before training on an export the gate did not pass (or passed on older data)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from watcher.gate.verdict import GateVerdict
from watcher.tui.screens.modal import DimmedModal


def train_question(v: GateVerdict) -> str:
    if v.passed is None:
        return "The quality gate has not run on this run: there is no checked export to train on yet."
    what = f"{v.kept} of {v.total} records kept"
    why = f" ({'; '.join(v.reasons)})" if v.reasons and not v.passed else ""
    if v.stale:
        return (f"The last gate report ({'PASSED' if v.passed else 'FAILED'}, {what}) is older than the "
                "dataset: training would use its export, not the records written since.")
    return f"The quality gate FAILED{why}: {what}. Training would use that export."


class TrainAskScreen(DimmedModal[str | None]):
    """Dismisses with "gate" (run it now), "train" (anyway) or None (cancel)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "choose('gate')", "Run the gate now"),
        Binding("a", "choose('train')", "Train anyway"),
        Binding("escape,c", "choose('')", "Cancel"),
    ]

    def __init__(self, verdict: GateVerdict) -> None:
        super().__init__()
        self.verdict = verdict

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box") as box:
            box.border_title = "Train on this export?"
            yield Static(train_question(self.verdict), id="ask-question", markup=False)
            with Horizontal(id="ask-buttons"):
                yield Button("Run gate (g)", variant="primary", id="gate")
                yield Button("Train anyway (a)", variant="warning", id="train")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#gate", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id if event.button.id in ("gate", "train") else "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)
