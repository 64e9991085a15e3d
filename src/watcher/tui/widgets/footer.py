"""The key footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen


class KeysFooter(Footer):
    """Textual's Footer recomposes (unmounts and mounts a widget per key) on every bindings signal:
    each focus change and each return to the screen (closing help or a panel): ~50 ms under load
    on the keypress path (bench/tui.py), though the keys shown are nearly always the same. This one
    remembers what it composed and recomposes only when that would differ."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._shown: tuple[object, ...] | None = None

    def _keys(self) -> tuple[object, ...]:
        """Everything `Footer.compose` reads: the shown bindings with their enabled state and tooltip,
        and the command palette's key."""
        bindings = self.screen.active_bindings
        palette = bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return (tuple(b[1:] for b in bindings.values() if b[1].show),
                self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE, palette[1:] if palette else None)

    def compose(self) -> ComposeResult:
        self._shown = self._keys() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._shown is not None and self.is_attached and screen is self.screen and self._keys() == self._shown:
            return  # the same keys as on screen: nothing to rebuild
        super().bindings_changed(screen)

    def watch_show_command_palette(self) -> None:
        if self._bindings_ready and self.is_attached:
            self.bindings_changed(self.screen)  # Footer only reads it when composing
