"""Line-rendered scrolling tables: pre-built lines drawn per visible row, optionally with a cursor."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LinesView(ScrollView):
    """Pre-built lines drawn per visible row: scrolling and repaints cost only the visible lines."""

    # No horizontal scrollbar: it would eat a row of a small panel; long lines are cropped.
    DEFAULT_CSS = "LinesView { height: auto; overflow-x: hidden; overflow-y: auto; }"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"lines--cursor", "lines--cursor-blur"}

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._texts: list[Text] = []
        self._strips: dict[int, Strip] = {}
        self.cursor: int | None = None

    @property
    def line_count(self) -> int:
        return len(self._texts)

    def plain_lines(self) -> list[str]:
        return [t.plain for t in self._texts]

    def set_lines(self, lines: list[Text]) -> None:
        grew = len(lines) != len(self._texts)
        self._texts = lines
        self._strips.clear()
        self._resize()
        self.refresh(layout=grew)

    def _resize(self) -> None:
        width = max((t.cell_len for t in self._texts), default=0)
        self.virtual_size = Size(width, len(self._texts))

    def _strip(self, index: int) -> Strip:
        strip = self._strips.get(index)
        if strip is None:
            text = self._texts[index]
            strip = Strip(list(text.render(self.app.console)), text.cell_len)
            self._strips[index] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._texts):
            return Strip.blank(width, base)
        strip = self._strip(index).apply_style(base).crop_extend(scroll_x, scroll_x + width, base)
        if index == self.cursor:
            cls = "lines--cursor" if self.has_focus else "lines--cursor-blur"
            cursor_style = self.get_component_rich_style(cls)
            strip = Strip(list(Segment.apply_style(strip, post_style=cursor_style)), strip.cell_length)
        return strip


class CursorView(LinesView, can_focus=True):
    """A LinesView with a row cursor (keyboard and mouse)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    DEFAULT_CSS = """
    CursorView > .lines--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    CursorView > .lines--cursor-blur { background: $block-cursor-blurred-background; }
    """

    def move_cursor(self, index: int | None) -> None:
        if not self._texts:
            index = None
        elif index is not None:
            index = max(0, min(len(self._texts) - 1, index))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        for i in (old, index):
            if i is not None:
                self._strips.pop(i, None)
        self.refresh()
        if index is not None:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if self.cursor is None:
            return
        h = self.scrollable_content_region.height
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif h and self.cursor >= self.scroll_y + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor((self.cursor if self.cursor is not None else len(self._texts)) + delta)

    def action_page(self, direction: int) -> None:
        h = max(1, self.scrollable_content_region.height - 1)
        self.action_cursor(direction * h)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._texts) - 1)

    def on_click(self, event: Click) -> None:
        self.move_cursor(int(self.scroll_y) + event.y)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
