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

    def trim(self, end: float) -> None:
        lo = int(end - self.span)  # whole buckets: the window is exact to a second
        order, b = self._order, self._buckets
        while order and order[0] < lo:
            self.n -= b.pop(order.popleft())


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
