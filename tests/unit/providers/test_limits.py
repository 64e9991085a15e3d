"""AdaptiveConcurrency's decisions on a fake clock: AIMD cuts for short Retry-After, a paced replay
after a long pause (a sliding-window quota used up)."""

from __future__ import annotations

import math

from watcher.providers.limits import AdaptiveConcurrency


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def send(ac: AdaptiveConcurrency, clock: Clock, n: int) -> int:
    """Let out up to n calls now; each is answered at once (accepted) and released. Returns how many went."""
    went = 0
    for _ in range(n):
        if ac.try_acquire() != 0.0:
            break
        ac.on_accepted(clock())
        ac.on_success()
        ac.release()
        went += 1
    return went


def fill_window(ac: AdaptiveConcurrency, clock: Clock, bursts: list[int], step: float = 0.2) -> None:
    """Accepted bursts `step` apart from t=100, then the 429 that says the window is full."""
    for n in bursts:
        assert send(ac, clock, n) == n
        clock.t += step


def test_long_pause_keeps_the_limit_and_replays_the_accepted_pace() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock)
    fill_window(ac, clock, [4, 4, 4])  # t=100.0, 100.2, 100.4; now 100.6
    # Sliding window of 10 s: the oldest (t=100.0) leaves at 110.0.
    assert ac.on_rate_limited(110.0 - clock.t) is True
    assert ac.limit == 8 and ac.cuts == 0 and ac.pauses == 1
    assert ac.on_rate_limited(9.3) is False  # the other calls in flight: the same pause
    assert ac.try_acquire() == 110.0 - clock.t  # nothing before the pause ends
    clock.t = 110.0
    assert send(ac, clock, 8) == 4  # only the 4 slots that free at 110.0, not all 8
    assert math.isclose(ac.try_acquire(), 0.2)
    clock.t = 110.2
    assert send(ac, clock, 8) == 4
    assert math.isclose(ac.try_acquire(), 0.2)
    clock.t = 110.4
    assert send(ac, clock, 12) == 12  # the last 4 slots, then the concurrency limit alone


def test_calls_in_flight_when_the_pause_began_are_replayed_too() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock)
    assert send(ac, clock, 3) == 3
    clock.t = 100.2
    late = []
    for _ in range(2):  # sent now, answered only after the first 429 comes back
        assert ac.try_acquire() == 0.0
        late.append(clock())
    clock.t = 100.25
    assert ac.on_rate_limited(9.75) is True
    clock.t = 100.4
    for sent in late:
        ac.on_accepted(sent)
        ac.release()
    clock.t = 110.0
    assert send(ac, clock, 8) == 3
    assert math.isclose(ac.try_acquire(), 0.2)  # the two late ones have their own slots


def test_short_retry_after_cuts_the_limit_once_per_cooldown() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock)
    fill_window(ac, clock, [8] * 10)  # 2 s of accepted calls
    assert ac.on_rate_limited(0.05) is True  # shorter than the run of accepted calls: too many in flight
    assert ac.limit == 6 and ac.cuts == 1 and ac.pauses == 0
    assert ac.on_rate_limited(0.05) is False
    assert ac.limit == 6
    clock.t += 0.05
    assert send(ac, clock, 8) == 8  # no replay: only the (cut) limit on calls in flight applies
    held = [ac.try_acquire() for _ in range(7)]
    assert held[:6] == [0.0] * 6 and held[6] == math.inf


def test_429_with_no_accepted_call_cuts() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock)
    assert ac.on_rate_limited(30.0) is True  # nothing learned about a window yet
    assert ac.limit == 6 and ac.pauses == 0


def test_retry_after_below_pause_min_is_not_a_pause() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock, pause_min_s=1.0)
    assert send(ac, clock, 4) == 4
    clock.t += 0.1
    assert ac.on_rate_limited(0.5) is True
    assert ac.cuts == 1 and ac.pauses == 0


def test_429_during_a_replay_pushes_the_rest_back_without_a_cut() -> None:
    clock = Clock()
    ac = AdaptiveConcurrency(8, clock=clock)
    fill_window(ac, clock, [4, 4, 4])
    ac.on_rate_limited(110.0 - clock.t)
    clock.t = 110.0
    assert send(ac, clock, 4) == 4
    clock.t = 110.2
    assert ac.try_acquire() == 0.0  # one of the 110.2 calls goes, and the window was not free yet
    assert ac.on_rate_limited(0.1) is False
    assert ac.limit == 8 and ac.cuts == 0
    assert math.isclose(ac.try_acquire(), 0.1)
    clock.t = 110.3
    assert send(ac, clock, 8) == 3  # the rest of the 110.2 slots
    assert math.isclose(ac.try_acquire(), 0.2)  # the 110.4 slots, pushed back by 0.1 s
