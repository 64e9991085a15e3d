"""The finish_reason table: attempts per model and normalised finish_reason."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from watcher.monitor.snapshot import Snapshot
from watcher.tui.widgets.lines import LinesView
from watcher.tui.widgets.text import short_model

FINISH_COLS = (("stop", "stop"), ("length", "len"), ("content_filter", "filt"), ("tool_calls", "tool"),
               ("error", "err"))
FINISH_MODEL_W = 14


def finish_header(with_other: bool) -> Text:
    cols = "".join(f"{h:>6}" for _, h in FINISH_COLS) + (f"{'other':>6}" if with_other else "")
    return Text(f"{'model':<{FINISH_MODEL_W}}{cols}", style="bold", no_wrap=True)


def finish_line(model: str, counts: dict[str, int], with_other: bool) -> Text:
    t = Text(f"{short_model(model, FINISH_MODEL_W - 1):<{FINISH_MODEL_W}}", no_wrap=True)
    for key, _ in FINISH_COLS:
        n = counts.get(key, 0)
        style = "" if key == "stop" or not n else "red" if key == "error" else "yellow"
        t.append(f"{n:>6}", style=style)
    if with_other:
        t.append(f"{counts.get('other', 0):>6}")
    return t


class FinishView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None
        self.with_other = False

    def apply(self, s: Snapshot) -> bool:
        key = tuple((m, tuple(sorted(c.items()))) for m, c in s.finish_reasons.items())
        if key == self._key:
            return False
        self._key = key
        with_other = any(c.get("other") for c in s.finish_reasons.values())
        changed_header = with_other != self.with_other
        self.with_other = with_other
        lines = [finish_line(m, c, with_other) for m, c in sorted(s.finish_reasons.items())]
        self.set_lines(lines or [Text("no calls yet", style="dim")])
        return changed_header
