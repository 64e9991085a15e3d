"""The feed's filter box (`/`): filters as you type; Enter keeps the filter, Escape clears it."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear_filter", "Clear filter")]

    class Closed(Message):
        """The box was left: with Enter (`keep`, the filter stays) or Escape (cleared)."""

        def __init__(self, keep: bool) -> None:
            super().__init__()
            self.keep = keep

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Closed(keep=False))

    async def action_submit(self) -> None:
        await super().action_submit()
        self.post_message(self.Closed(keep=True))
