"""The sliding window and the rate/ETA it gives."""

from __future__ import annotations

import pytest

from watcher.monitor.rate import Window, rate_and_eta


def test_window_counts_whole_seconds_and_trims_old_buckets() -> None:
    w = Window(10.0)
    for t in (100.2, 100.7, 101.0, 105.5, 112.9):
        w.add(t)
    assert w.n == 5
    w.trim(110.0)  # keeps buckets from second 100 on
    assert w.n == 5
    w.trim(111.0)  # drops second 100
    assert w.n == 3
    w.trim(200.0)
    assert w.n == 0


def test_rate_and_eta() -> None:
    rate, eta = rate_and_eta(n_accepted=30, n_done=40, span_s=60.0, remaining=120, total=200)
    assert rate == pytest.approx(30.0) and eta == pytest.approx(180.0)  # 40 items/min done, 120 to go
    assert rate_and_eta(0, 0, 60.0, 10, 10) == (0.0, None)  # nothing finished yet: unknown
    assert rate_and_eta(5, 5, 1.0, 0, 10) == (300.0, 0.0)  # target reached
    assert rate_and_eta(0, 0, 1.0, 0, 0) == (0.0, None)  # no target at all
