"""The run header: run, state, elapsed, progress bar and ETA; then rate, counts, tokens, cost."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from watcher.monitor.format import (
    STATE_STYLE,
    bar,
    downsample,
    fmt_clock,
    fmt_duration,
    fmt_tokens,
    sparkline,
)
from watcher.monitor.snapshot import RATE_STEP_S, Snapshot

SPARK_MAX = 30  # cells of the rate sparkline; fewer when the line has less room, none below SPARK_MIN
SPARK_MIN = 6


class RunHeader(Widget):
    """Two lines: run/state/elapsed + overall progress bar and ETA; then rate (with a sparkline of
    accepted per RATE_STEP_S of running time over the rate window), counts, tokens, cost."""

    DEFAULT_CSS = "RunHeader { height: 2; }"

    def __init__(self, title: str = "watcher", **kw: Any) -> None:
        super().__init__(**kw)
        self.app_title = title
        self.tooltip = f"the sparkline after the rate: accepted per {RATE_STEP_S:.0f} s of running time, last 5 min"
        self._data: tuple[Any, ...] | None = None
        self._ceiling: float | None = None  # spend ceiling: the header shows spent / ceiling
        self._committed = 0.0  # batch mode: submitted, not yet priced (the batches panel reads it)
        self.error: str | None = None

    def apply(self, s: Snapshot) -> None:
        data = (s.run, s.state, int(s.elapsed_s), s.accepted, s.rejected, s.errors, s.total_target,
                fmt_duration(s.eta_s, coarse=True), round(s.rate_per_min, 1), fmt_tokens(s.tokens_in), fmt_tokens(s.tokens_out),
                round(s.cost_usd, 2), None if s.projected_cost_usd is None else round(s.projected_cost_usd, 2),
                s.rate_limit_waits, s.malformed_lines, self.error, s.accepted_series)
        if data != self._data or s.max_cost_usd != self._ceiling:
            self._data, self._ceiling = data, s.max_cost_usd
            self.refresh()

    def set_committed(self, usd: float) -> None:
        if round(usd, 2) != round(self._committed, 2):
            self._committed = usd
            self.refresh()

    def set_error(self, error: str | None) -> None:
        if error != self.error:
            self.error = error
            self.refresh()

    def render(self) -> Text:
        width = max(20, self.size.width)
        if self._data is None:
            return Text(f" {self.app_title} · waiting for the first snapshot…", style="dim")
        (run, state, elapsed, acc, rej, errs, total, eta, rate, tin, tout, cost, proj, rl_waits, malformed,
         error, series) = self._data
        done = acc + rej
        frac = done / total if total else 0.0
        right = f" {done}/{total} {100 * frac:3.0f}%  ETA {eta} "
        state_txt = state.upper()
        left_fixed = f" {self.app_title} ·  · " + state_txt + f" · {fmt_clock(elapsed)} "
        bar_w = min(40, max(8, width - cell_len(left_fixed) - cell_len(run) - cell_len(right) - 1))
        room = width - cell_len(left_fixed) - bar_w - cell_len(right) - 1
        if run and run in self.app_title:
            run = ""  # the title already names the run ("watcher · <run>")
        run_txt = run if len(run) <= room else run[: max(1, room - 1)] + "…"
        line1 = Text(no_wrap=True, overflow="crop")
        line1.append(f" {self.app_title}", style="bold")
        line1.append(f" · {run_txt} · " if run_txt else " · ")
        line1.append(state_txt, style=STATE_STYLE.get(state, "bold"))
        line1.append(f" · {fmt_clock(elapsed)} ")
        line1.append(" " * max(0, width - line1.cell_len - bar_w - cell_len(right)))
        line1.append(bar(frac, bar_w), style="green" if state != "failed" else "red")
        line1.append(right, style="bold")
        cost_txt = (f"${cost:.2f}" + (f" + ${self._committed:.2f} committed" if self._committed >= 0.005 else "")
                    + (f" / ${self._ceiling:.2f} max" if self._ceiling else "")
                    + (f" (proj. ${proj:.2f})" if proj is not None else ""))
        full = (f" rate {rate:.1f}/min · accepted {acc} · rejected {rej} · errors {errs} · "
                f"tokens {tin} in / {tout} out · {cost_txt}")
        compact = cell_len(full) > width  # small terminals: same facts, shorter words
        tail = Text(no_wrap=True)
        tail.append("· ")
        tail.append(f"ok {acc}" if compact else f"accepted {acc}", style="green")
        tail.append(" · ")
        tail.append(f"rej {rej}" if compact else f"rejected {rej}", style="yellow" if rej else "")
        tail.append(" · ")
        tail.append(f"err {errs}" if compact else f"errors {errs}", style="red" if errs else "")
        if compact:
            proj_txt = f" (→${proj:.2f})" if proj is not None else ""
            tail.append(f" · tok {tin}/{tout} · ${cost:.2f}{proj_txt}")
        else:
            tail.append(f" · tokens {tin} in / {tout} out · {cost_txt}")
        if malformed:
            tail.append(f" · malformed lines {malformed}", style="red")
        line2 = Text(f" {rate:.1f}/min " if compact else f" rate {rate:.1f}/min ", no_wrap=True, overflow="ellipsis")
        # the sparkline takes what room the facts leave (at most SPARK_MAX cells, none below SPARK_MIN)
        spark_w = min(SPARK_MAX, len(series), width - line2.cell_len - tail.cell_len - 1)
        if spark_w >= SPARK_MIN:
            line2.append(sparkline(downsample(series, spark_w)), style="cyan")
            line2.append(" ")
        line2.append_text(tail)
        if error:
            line2 = Text(f" snapshot error: {error}", style="bold red", no_wrap=True, overflow="ellipsis")
        return Text("\n").join([line1, line2])
