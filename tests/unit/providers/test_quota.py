"""QuotaGate on a fake clock: stop at 0 remaining, go again as each slot frees, other clients, 429s,
and no gating at all for a provider without quota headers."""

from __future__ import annotations

import pytest

from watcher.providers.quota import QuotaGate, Ticket
from watcher.providers.quota_headers import Quota

LIMIT, WINDOW = 4, 10.0


class Window:
    """A sliding-window provider: LIMIT requests per WINDOW s, answering with its quota headers."""

    def __init__(self, clock: Clock, others: int = 0) -> None:
        self.clock = clock
        self.admitted: list[float] = [clock()] * others  # another client's calls, at the start
        self.rejected = 0

    def answer(self, gate: QuotaGate, t: Ticket, read_late: float = 0.0) -> bool:
        """Admit or refuse the call now; the client reads the answer `read_late` s later."""
        now = self.clock()
        self.admitted = [a for a in self.admitted if now - a < WINDOW]
        ok = len(self.admitted) < LIMIT
        if ok:
            self.admitted.append(now)
        else:
            self.rejected += 1
        q = Quota(remaining=LIMIT - len(self.admitted), limit=LIMIT,
                  reset_s=self.admitted[-1] + WINDOW - now, seen_at=now + read_late)
        gate.answered(t, q, rate_limited=not ok, retry_after=None if ok else self.admitted[0] + WINDOW - now)
        return ok


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def start(gate: QuotaGate) -> Ticket:
    got = gate.try_start()
    assert isinstance(got, Ticket), f"no room: wait {got}"
    return got


def test_without_headers_every_call_starts() -> None:
    gate = QuotaGate(Clock())
    tickets = [start(gate) for _ in range(50)]
    for t in tickets:
        gate.answered(t, None)
    assert not gate.active and isinstance(gate.try_start(), Ticket)
    bad = Quota(remaining=0, limit=10, reset_s=None, seen_at=0.0)  # no reset: nothing to wait for
    gate.answered(start(gate), bad)
    assert not gate.active


def test_stops_at_zero_and_replays_the_slots_as_they_free() -> None:
    clock = Clock()
    gate, server = QuotaGate(clock), Window(clock)
    admitted = []
    for _ in range(LIMIT):  # one at a time, 1 s apart
        assert server.answer(gate, start(gate))
        admitted.append(clock())
        clock.t += 1.0
    # Window full: no room until the first admission leaves, at 110.0.
    assert gate.try_start() == 110.0 - clock()
    for a in admitted:
        clock.t = a + WINDOW
        t = start(gate)
        assert server.answer(gate, t)
        assert isinstance(gate.try_start(), float)  # exactly one slot freed
    assert server.rejected == 0


def test_calls_in_flight_count_against_remaining() -> None:
    clock = Clock()
    gate, server = QuotaGate(clock), Window(clock)
    first = [start(gate) for _ in range(3)]  # before any answer: nothing known yet
    assert server.answer(gate, first[0])  # remaining 3, but 2 more are in flight
    assert isinstance(start(gate), Ticket)
    assert gate.try_start() == WINDOW  # room 0 until the first slot frees (or an answer)
    for t in first[1:]:
        assert server.answer(gate, t)
    assert server.rejected == 0


def test_other_clients_seen_in_remaining() -> None:
    clock = Clock()
    gate, server = QuotaGate(clock), Window(clock, others=3)
    assert server.answer(gate, start(gate))  # remaining 0: the other client took 3
    wait = gate.try_start()
    assert wait == WINDOW  # its slots are not ours: wait for the full reset
    clock.t += WINDOW
    assert server.answer(gate, start(gate))
    assert server.rejected == 0


def test_a_429_with_headers_holds_until_retry_after() -> None:
    clock = Clock()
    gate, server = QuotaGate(clock), Window(clock, others=LIMIT)
    t = start(gate)
    assert not server.answer(gate, t)  # window full of another client's calls
    assert gate.hold_until == 110.0 and gate.try_start() == 10.0
    clock.t = 110.0
    assert server.answer(gate, start(gate))


def test_late_news_of_a_freed_slot_is_not_counted_twice() -> None:
    """Our view of when a slot frees is late when its answer was read late. A later answer's
    remaining already has it: counting it again when our view frees would send too many."""
    clock = Clock()
    gate, server = QuotaGate(clock), Window(clock)
    tickets = [start(gate) for _ in range(LIMIT)]
    for i, t in enumerate(tickets):
        assert server.answer(gate, t, read_late=0.0 if i == 0 else 0.6)
    clock.t = 110.0  # the server frees all four now; we know of the first only
    assert server.answer(gate, start(gate))  # remaining 3
    for _ in range(3):
        assert server.answer(gate, start(gate))
    assert gate.try_start() == pytest.approx(0.6)  # our late view of three slots passes at 110.6 ...
    clock.t = 110.6
    assert gate.try_start() == pytest.approx(WINDOW - 0.6)  # ... and brings no room: the next is the 110.0 calls'
    assert server.rejected == 0


def test_answers_admitted_in_another_order_than_sent_send_no_extra_call() -> None:
    """Three calls in flight together: the server admits the last-sent first (remaining 3) and the
    others after it. That answer's remaining misses them, so the gate counts them itself: the window
    of 4 gets one more call, not three (seen on a loaded machine: 429s at the window's 2nd round)."""
    clock = Clock()
    gate = QuotaGate(clock)
    sent = []
    for _ in range(3):
        sent.append(start(gate))
        clock.t += 0.001
    clock.t = 100.01  # admitted C, B, A: remaining 3, 2, 1; full again WINDOW after the last
    full = clock.t + WINDOW
    quota = {2: 3, 1: 2, 0: 1}
    clock.t = 100.02
    for i in (1, 0, 2):  # read B, A, then C (sent last, admitted first)
        gate.answered(sent[i], Quota(remaining=quota[i], limit=LIMIT, reset_s=full - clock.t, seen_at=clock.t))
    start(gate)  # the window's 4th slot
    assert isinstance(gate.try_start(), float)  # and no 5th
