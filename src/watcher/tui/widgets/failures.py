"""The failures panel: failed attempts by reason, plus rate-limit waits."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from watcher.monitor.snapshot import Snapshot
from watcher.tui.widgets.lines import LinesView


def humanize_reason(word: str) -> str:
    return word.replace("_", " ")


def failure_lines(failures: dict[str, int], rl_waits: int) -> list[Text]:
    items = sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))
    if rl_waits and not any("RATE" in k.upper() for k in failures):
        items.append(("rate_limit_waits", rl_waits))
    if not items:
        return [Text("no failures", style="dim")]
    return [Text(f"{humanize_reason(k):<28}{v:>7}", no_wrap=True) for k, v in items]


class FailuresView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None

    def apply(self, s: Snapshot) -> None:
        key = (tuple(sorted(s.failures.items())), s.rate_limit_waits)
        if key != self._key:
            self._key = key
            self.set_lines(failure_lines(s.failures, s.rate_limit_waits))
