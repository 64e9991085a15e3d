"""Throughput over a sliding window, and the ETA it implies."""

from __future__ import annotations

import math
from collections import deque


class Window:
    """Event counts in 1-second buckets over a sliding window: memory O(window), not O(rate)."""

    __slots__ = ("span", "_buckets", "_order", "n")

    def __init__(self, span: float) -> None:
        self.span = span
        self._buckets: dict[int, int] = {}
        self._order: deque[int] = deque()  # bucket seconds in arrival order (nearly sorted)
        self.n = 0

    def add(self, t: float) -> None:
        sec = int(t)
        b = self._buckets
        if sec in b:
            b[sec] += 1
        else:
            b[sec] = 1
            self._order.append(sec)
        self.n += 1

    def trim(self, end: float, start: float | None = None) -> None:
        """Drop what is older than `start` (default `end - span`; a paused run's window reaches
        further back in wall time: see `Pauses.window_start`)."""
        lo = int(end - self.span if start is None else start)  # whole buckets: exact to a second
        order, b = self._order, self._buckets
        while order and order[0] < lo:
            self.n -= b.pop(order.popleft())


    def series(self, end: float, span: float, step: float, pauses: Pauses) -> tuple[int, ...]:
        """Counts per `step` seconds of running time over the `span` seconds of running time that
        end at `end`, oldest first: what a rate sparkline draws (paused time takes no room)."""
        n = max(1, math.ceil(span / step - 1e-9))
        out = [0] * n
        for sec, count in self._buckets.items():
            if sec > end:
                continue
            # running seconds from this bucket to the end; the bucket counts from its midpoint
            age = max(0.0, end - sec - 0.5 - pauses.within(sec + 0.5, end))
            k = int(age // step)
            if k < n:
                out[n - 1 - k] += count
        return tuple(out)


class Pauses:
    """A run's paused intervals (from its pause/resume events): what separates running time from
    wall time, so elapsed, rate and ETA stand still while the run is paused."""

    __slots__ = ("closed", "open_at")

    def __init__(self) -> None:
        self.closed: list[tuple[float, float]] = []
        self.open_at: float | None = None  # paused since then, not resumed yet

    def pause(self, t: float) -> None:
        if self.open_at is None:
            self.open_at = t

    def resume(self, t: float) -> None:
        if self.open_at is not None:
            if t > self.open_at:
                self.closed.append((self.open_at, t))
            self.open_at = None

    def _intervals(self, hi: float) -> list[tuple[float, float]]:
        out = self.closed if self.open_at is None else [*self.closed, (self.open_at, max(self.open_at, hi))]
        return out

    def within(self, lo: float, hi: float) -> float:
        """Seconds paused between wall times lo and hi."""
        return sum(max(0.0, min(e, hi) - max(s, lo)) for s, e in self._intervals(hi))

    def window_start(self, end: float, span: float) -> float:
        """The wall time `span` seconds of running time before `end` (pauses do not count)."""
        t, need = end, span
        for s, e in reversed(self._intervals(end)):
            e = min(e, end)
            if e <= s or s >= t:
                continue
            seg = t - e
            if seg >= need:
                return t - need
            need -= seg
            t = s
        return t - need


def rate_and_eta(n_accepted: int, n_done: int, span_s: float, remaining: int, total: int) -> tuple[float, float | None]:
    """(accepted per minute, seconds to finish) from the counts within a window `span_s` long.

    The ETA counts rejections too (each ends an item); 0 when nothing remains of a non-empty target,
    None when unknown (no target, or nothing finished within the window)."""
    rate_per_min = n_accepted / span_s * 60.0
    done_rate_s = n_done / span_s
    if remaining == 0:
        eta = 0.0 if total else None
    else:
        eta = remaining / done_rate_s if done_rate_s > 0 else None
    return (rate_per_min if math.isfinite(rate_per_min) else 0.0), eta
