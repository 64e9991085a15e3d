"""The live feed of accepted and rejected items."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.message import Message

from watcher.monitor.format import (
    feed_line,
)
from watcher.monitor.snapshot import FeedItem, Snapshot
from watcher.tui.widgets.lines import CursorView


def feed_text(item: FeedItem) -> Text:
    line = feed_line(item)
    if item.kind == "accepted":
        return Text(line, style="green", no_wrap=True)
    return Text(line, style="yellow", no_wrap=True)


class FeedView(CursorView):
    """Accepted and rejected items, newest at the bottom, bounded; follows the end unless the user
    moved the cursor or scrolled up (End follows again). Enter opens the item."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "Detail", key_display="↵")]

    class Selected(Message):
        def __init__(self, item: FeedItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, max_items: int = 500, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_items = max_items
        self.items: list[FeedItem] = []
        self._last_key: tuple[str, int] | None = None
        self.following = True
        self.unseen = 0

    @staticmethod
    def _key(item: FeedItem) -> tuple[str, int]:
        return (item.path, item.offset)  # the record's place on disk: unique and stable

    def new_items(self, feed: Sequence[FeedItem]) -> list[FeedItem]:
        """The tail of `feed` after the last item we showed (all of it when that item fell out)."""
        if self._last_key is None:
            return list(feed)
        for i in range(len(feed) - 1, -1, -1):
            if self._key(feed[i]) == self._last_key:
                return list(feed[i + 1:])
        return list(feed)

    def apply(self, s: Snapshot) -> None:
        if not s.feed or (self._last_key is not None and self._key(s.feed[-1]) == self._last_key):
            return  # nothing new: the common case at 4 Hz, a single compare
        self.add(self.new_items(s.feed))

    def add(self, new: Iterable[FeedItem]) -> None:
        new = list(new)[-self.max_items:]
        if not new:
            return
        self._last_key = self._key(new[-1])
        self.items.extend(new)
        self._texts.extend(feed_text(it) for it in new)
        drop = len(self.items) - self.max_items
        if drop > 0:
            del self.items[:drop]
            del self._texts[:drop]
            self._strips.clear()
            if self.cursor is not None:
                self.cursor = max(0, self.cursor - drop)
            if not self.following:  # keep the lines the user is reading in place
                self.scroll_to(y=max(0, self.scroll_y - drop), animate=False, immediate=True)
        self._resize()
        if self.following:
            self.cursor = len(self._texts) - 1
            self._strips.clear()
            # after the refresh: the scroll range is only known once the new virtual size is laid out
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        else:
            self.unseen += len(new)
        self._update_subtitle()
        self.refresh()

    def _update_subtitle(self) -> None:
        if self.following:
            self.border_subtitle = f"{len(self.items)} items · following"
        else:
            self.border_subtitle = f"{self.unseen} new · End to follow"

    def set_following(self, following: bool) -> None:
        if following == self.following:
            return
        self.following = following
        if following:
            self.unseen = 0
            super().action_last()
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        self._update_subtitle()

    def action_cursor(self, delta: int) -> None:
        super().action_cursor(delta)
        self.set_following(self.cursor == len(self._texts) - 1 and delta > 0)

    def action_page(self, direction: int) -> None:
        super().action_page(direction)
        self.set_following(self.cursor == len(self._texts) - 1 and direction > 0)

    def action_first(self) -> None:
        self.set_following(False)
        super().action_first()

    def action_last(self) -> None:
        self.set_following(True)
        super().action_last()

    def on_click(self, event: Click) -> None:
        super().on_click(event)
        self.set_following(self.cursor == len(self._texts) - 1)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.set_following(False)

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.call_after_refresh(lambda: self.set_following(self.is_vertical_scroll_end) if not self.following
                                else None)

    def action_select(self) -> None:
        if self.cursor is not None and 0 <= self.cursor < len(self.items):
            self.post_message(self.Selected(self.items[self.cursor]))

    def on_mount(self) -> None:
        self._update_subtitle()

    def on_resize(self) -> None:
        if self.following:  # the panel changed size: keep the newest line in view
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
