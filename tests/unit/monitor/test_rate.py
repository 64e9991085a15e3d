"""The sliding window and the rate/ETA it gives."""

from __future__ import annotations

import pytest

from watcher.monitor.rate import Pauses, Window, rate_and_eta


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


def test_pauses_running_time_and_window_start() -> None:
    p = Pauses()
    p.pause(100.0)
    p.pause(105.0)  # a second pause while paused changes nothing
    assert p.within(0.0, 130.0) == 30.0  # still paused: up to hi
    p.resume(130.0)
    p.pause(200.0)
    p.resume(210.0)
    assert p.within(0.0, 300.0) == 40.0
    assert p.within(120.0, 205.0) == 15.0
    # 60 s of running time before 250: 250..210 (40 s), pause 210..200, 200..180 (20 s)
    assert p.window_start(250.0, 60.0) == 180.0
    assert p.window_start(250.0, 10.0) == 240.0
    assert p.window_start(250.0, 200.0) == 10.0  # 40 s + 70 s, then 90 s before the first pause


def test_window_trim_from_an_explicit_start() -> None:
    w = Window(10.0)
    for t in (50.0, 100.0, 109.0):
        w.add(t)
    w.trim(110.0, start=40.0)  # the window reaches back over a pause: keeps second 50
    assert w.n == 3
    w.trim(110.0, start=60.0)
    assert w.n == 2


def test_series_counts_per_step_of_running_time_and_skips_pauses() -> None:
    w = Window(60.0)
    for t in (100.2, 105.0, 109.9, 115.0, 150.0, 159.0):
        w.add(t)
    no_pauses = Pauses()
    assert w.series(160.0, 60.0, 10.0, no_pauses) == (3, 1, 0, 0, 0, 2)  # [100,110) … [150,160)
    assert w.series(160.0, 25.0, 10.0, no_pauses) == (0, 0, 2)  # only as far back as the span
    paused = Pauses()
    paused.pause(120.0)
    paused.resume(150.0)  # 30 s paused: the buckets before it sit 30 s closer to the end
    assert w.series(160.0, 60.0, 10.0, paused) == (0, 0, 0, 3, 1, 2)
    assert w.series(99.0, 60.0, 10.0, no_pauses) == (0,) * 6  # nothing at or before the end yet
