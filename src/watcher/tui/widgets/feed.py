"""The live feed of accepted and rejected items."""

from __future__ import annotations

import bisect
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
from watcher.tui.widgets.text import score_style

SORTS = ("time", "score ↓", "score ↑")  # `s` cycles them


def feed_text(item: FeedItem, min_score: float | None = None) -> Text:
    """The headless line (`format.feed_line`), with the group in bold and the score coloured."""
    line = feed_line(item)
    t = Text(line, style="green" if item.kind == "accepted" else "yellow", no_wrap=True)
    g = line.find(item.group)
    if g >= 0 and item.group:
        t.stylize("bold", g, g + len(item.group))
    if item.score is not None:
        word = f"{item.score:.2f}"
        i = line.find(word, g + len(item.group) if g >= 0 else 0)
        if i >= 0:
            t.stylize(score_style(item.score, min_score), i, i + len(word))
    return t


def _score_key(item: FeedItem, down: bool) -> float:
    """The sort key of the score sorts (no score sorts lowest); ascending in the key either way."""
    score = -1.0 if item.score is None else item.score
    return -score if down else score


def matches(item: FeedItem, terms: Sequence[str]) -> bool:
    """Every term (lower case) occurs in the item's form/category, model, kind, reason, id or line."""
    hay = f"{item.group} {item.model} {item.kind} {item.reason or ''} {item.id} {feed_line(item)}".lower()
    return all(t in hay for t in terms)


class FeedView(CursorView):
    """Accepted and rejected items, newest at the bottom, bounded; follows the end unless the user
    moved the cursor or scrolled up (End follows again). Enter opens the item."""

    # Not in the footer (no room at 80 columns): the help lists it.
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "Detail", key_display="↵", show=False)]

    class Selected(Message):
        def __init__(self, item: FeedItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, max_items: int = 500, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_items = max_items
        self.items: list[FeedItem] = []  # what is shown (filtered and sorted), parallel to _texts
        self._all: list[FeedItem] = []  # everything received, in time order (when a view is active)
        self._all_texts: list[Text] = []
        self.query = ""
        self.sort = SORTS[0]
        self.min_score: float | None = None
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

    @property
    def viewing(self) -> bool:
        """A filter or a sort is active: the shown lines are a view of everything received."""
        return bool(self.query.strip()) or self.sort != SORTS[0]

    def apply(self, s: Snapshot) -> None:
        self.min_score = s.min_score
        if not s.feed or (self._last_key is not None and self._key(s.feed[-1]) == self._last_key):
            return  # nothing new: the common case at 4 Hz, a single compare
        self.add(self.new_items(s.feed))

    def add(self, new: Iterable[FeedItem]) -> None:
        new = list(new)[-self.max_items:]
        if not new:
            return
        self._last_key = self._key(new[-1])
        texts = [feed_text(it, self.min_score) for it in new]
        if self.viewing:
            self._add_to_view(new, texts)
            return
        self.items.extend(new)
        self._texts.extend(texts)
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

    def _add_to_view(self, new: list[FeedItem], texts: list[Text]) -> None:
        """New items while a filter or sort is active: only they are matched, and they go in at
        their place (the end, or their score's place); items that fell out of the bounded list
        leave the view. The full rebuild (every item re-matched and re-sorted, then a layout pass)
        ran on every tick while a view was active; now only `set_view` does it."""
        selected = self.items[self.cursor] if self.cursor is not None and 0 <= self.cursor < len(self.items) \
            else None
        self._all.extend(new)
        self._all_texts.extend(texts)
        drop = len(self._all) - self.max_items
        gone: set[tuple[str, int]] = set()
        if drop > 0:
            gone = {self._key(it) for it in self._all[:drop]}
            del self._all[:drop]
            del self._all_texts[:drop]
        terms = self.query.lower().split()
        pairs = [(it, t) for it, t in zip(new, texts, strict=True) if not terms or matches(it, terms)]
        removed = 0
        if gone:
            if self.sort == SORTS[0]:  # time order: what fell out is a prefix of the view
                while removed < len(self.items) and self._key(self.items[removed]) in gone:
                    removed += 1
                del self.items[:removed]
                del self._texts[:removed]
            else:
                keep = [i for i, it in enumerate(self.items) if self._key(it) not in gone]
                removed = len(self.items) - len(keep)
                if removed:
                    self.items = [self.items[i] for i in keep]
                    self._texts = [self._texts[i] for i in keep]
        if not pairs and not removed:  # nothing shown changed: only the counts
            self._update_subtitle()
            return
        if self.sort == SORTS[0]:
            self.items.extend(p[0] for p in pairs)
            self._texts.extend(p[1] for p in pairs)
        else:
            down = self.sort == SORTS[1]
            for it, t in pairs:  # after its equals, as the stable sort in _rebuild_view puts it
                i = bisect.bisect_right(self.items, _score_key(it, down), key=lambda x: _score_key(x, down))
                self.items.insert(i, it)
                self._texts.insert(i, t)
        self._strips.clear()
        self._resize()
        if self.following and self.sort == SORTS[0]:
            self.cursor = len(self.items) - 1 if self.items else None
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        else:
            old = self.cursor
            at = next((i for i, it in enumerate(self.items) if it is selected), None) if selected else None
            self.cursor = at if at is not None else (min(old, len(self.items) - 1) if old is not None and
                                                     self.items else (0 if self.items else None))
            if old is not None and self.cursor is not None and self.cursor != old:
                # keep the lines the user is reading in place
                self.scroll_to(y=max(0, self.scroll_y + self.cursor - old), animate=False, immediate=True)
        self._update_subtitle()
        self.refresh()

    def _update_subtitle(self) -> None:
        if self.viewing:
            parts = [f"/{self.query.strip()}: {len(self.items)} of {len(self._all)}" if self.query.strip()
                     else f"{len(self.items)} items"]
            if self.sort != SORTS[0]:
                parts.append(f"sort {self.sort}")
            self.border_subtitle = " · ".join(parts)
        elif self.following:
            self.border_subtitle = f"{len(self.items)} items · following"
        else:
            self.border_subtitle = f"{self.unseen} new · End to follow"

    # -- filter and sort -------------------------------------------------------------------------
    def set_view(self, query: str | None = None, sort: str | None = None) -> None:
        """Filter by `query` (space-separated terms, all must match) and/or sort; keeps the cursor on
        the same item. Back to no filter and time order, the feed follows the newest item again."""
        was_viewing = self.viewing
        if not was_viewing:  # entering a view: what is shown is everything
            self._all, self._all_texts = list(self.items), list(self._texts)
        if query is not None:
            self.query = query
        if sort is not None:
            self.sort = sort
        self._rebuild_view()
        if was_viewing and not self.viewing:
            self.unseen = 0
            self.following = True
            self.cursor = len(self._texts) - 1 if self._texts else None
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
            self._update_subtitle()

    def cycle_sort(self) -> str:
        self.set_view(sort=SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)])
        return self.sort

    def _rebuild_view(self) -> None:
        selected = self.items[self.cursor] if self.cursor is not None and 0 <= self.cursor < len(self.items) \
            else None
        terms = self.query.lower().split()
        pairs = [(it, t) for it, t in zip(self._all, self._all_texts, strict=True) if not terms or matches(it, terms)]
        if self.sort != SORTS[0]:
            down = self.sort == SORTS[1]
            pairs.sort(key=lambda p: _score_key(p[0], down))  # stable: equal scores stay in time order
        self.items = [p[0] for p in pairs]
        self._texts = [p[1] for p in pairs]
        self._strips.clear()
        self._resize()
        if self.viewing:
            if self.following and self.sort == SORTS[0]:  # a filtered feed in time order still follows
                self.cursor = len(self.items) - 1 if self.items else None
                self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
            else:
                self.following = False
                keys = [self._key(it) for it in self.items]
                key = self._key(selected) if selected is not None else None
                self.cursor = keys.index(key) if key in keys else (0 if self.items else None)
                self._scroll_to_cursor()
        self._update_subtitle()
        self.refresh(layout=True)

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
