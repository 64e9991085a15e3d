"""Modal screens (help, dialogs) over a dimmed view of the screen below, drawn cheaply.

Textual draws a translucent modal's background with `BackgroundScreen`: the screen below is
rendered as Rich segments, each tinted with fresh Color arithmetic and re-styled, then split back
into lines. Opening help paid that (~15 ms idle, ~25 ms under load; bench/tui.py) before its first
frame. The frame is a few dozen distinct styles over 40 rows, so this draws the same pixels from
the strips the compositor already has, each distinct style tinted once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.color import Color
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.visual import Visual

if TYPE_CHECKING:
    from textual.css.styles import RulesMap
    from textual.screen import Screen
    from textual.style import Style
    from textual.visual import RenderOptions

ResultT = TypeVar("ResultT")
_NULL = RichStyle()


class DimmedBackground(Visual):
    """The screen below tinted with `color`: the same styles as BackgroundScreen gives after the
    widget's base style is applied (Widget.post_render), per segment, looked up in `tints`."""

    def __init__(self, screen: Screen[Any], color: Color, tints: dict[Any, RichStyle]) -> None:
        self.screen = screen
        self.color = color
        self.tints = tints

    def _tint(self, style: RichStyle | None, base: RichStyle) -> RichStyle:
        # BackgroundScreen.process_segments, then Widget._Styled: base + tinted.
        s = _NULL if style is None else style.clear_meta_and_links()
        c = self.color
        if c.a != 0:
            s = s + RichStyle.from_color(
                (Color.from_rich_color(s.color) + c).rich_color if s.color is not None else None,
                (Color.from_rich_color(s.bgcolor) + c).rich_color if s.bgcolor is not None else None)
        return base + s if base else s

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        base = style.rich_style
        if len(self.tints) > 4096:  # themes come and go: keep the cache bounded
            self.tints.clear()
        tints, tint = self.tints, self._tint
        strips = []
        for strip in self.screen._compositor.render_strips()[:height]:  # what BackgroundScreen renders
            segments = []
            for text, st, control in strip:
                if control:  # as _Styled leaves it (none in practice: the compositor writes no controls)
                    segments.append(Segment(text, base + st, None) if base else Segment(text, st, control))
                    continue
                key = (st, base, self.color)
                new = tints.get(key)
                if new is None:
                    new = tints[key] = tint(st, base)
                segments.append(Segment(text, new))
            line = Strip(segments, strip.cell_length)
            strips.append(line.crop(0, width) if line.cell_length > width else line)
        return strips

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return self.screen.size.height


class DimmedModal(ModalScreen[ResultT]):
    """A ModalScreen whose translucent background is a DimmedBackground."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._tints: dict[Any, RichStyle] = {}

    def render(self) -> Any:
        rendered = super().render()
        if isinstance(rendered, BackgroundScreen):
            return DimmedBackground(rendered.screen, rendered.color, self._tints)
        return rendered
