"""QuotaGate: start a call only while the provider's request-quota headers leave room for it.

Every answer of a provider that sends quota headers (providers/quota_headers.py) says how many
requests are left and when the quota is full again. Both Anthropic and OpenAI define that reset as
"fully replenished", which for the call that was just counted is the moment its own slot frees:
for a sliding window (R per W) that is its admission + W, and for a token bucket the refill reaches
it in the same order. So each accepted call holds a slot until the reset its own answer gave, and
the room to start a call is

    remaining (latest answer, by send time) - our calls sent after that one still holding a slot
    + our calls sent before it whose slot has freed since

which stops at 0 remaining until a slot frees, and then lets calls out at the pace the slots free:
no 429 for the window's 2nd round, without knowing the window's kind or length. The latest answer's
remaining also counts other clients sharing the quota. A provider that sends no such headers
(mlx_lm.server, vLLM) never opens the gate's accounting: every call starts at once, as before.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from watcher.providers.quota_headers import Quota


@dataclass
class Ticket:
    """One call let out by the gate."""

    sent_at: float
    answered: bool = False
    free_at: float | None = None  # accepted with quota headers: when its slot frees
    answered_at: float = math.inf
    remaining: int = -1  # what its answer's headers said (-1: nothing)
    waited: bool = False  # the gate held it back for a while


class QuotaGate:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._base: Quota | None = None  # the quota of the answer to the latest-sent answered call
        self._base_sent = -math.inf
        self._after: list[Ticket] = []  # calls sent after _base_sent, or still in flight
        # heap (free_at, seq, answered_at, remaining): accepted calls the base's remaining counted as held
        self._pending: list[tuple[float, int, float, int]] = []
        self._freed: list[tuple[float, float, int]] = []  # the same of those passed: > _base_sent, <= now
        self._seq = 0
        self._skip = 0  # slots in _pending the base already counted as free
        self.hold_until = 0.0  # a 429's Retry-After, when the quota headers came with it
        self.waits = 0  # calls that waited for room
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def active(self) -> bool:
        return self._base is not None

    def room(self) -> tuple[int, float]:
        """(calls that may start now, seconds until that may grow; math.inf: at the next answer)."""
        if self._base is None:
            # Keep only calls in flight: the first answer with headers counts them.
            self._after = [t for t in self._after if not t.answered]
            return 1 << 30, math.inf
        now = self._clock()
        if now < self.hold_until:
            return 0, self.hold_until - now
        while self._pending and self._pending[0][0] <= now:
            f, _, answered_at, remaining = heapq.heappop(self._pending)
            if self._skip > 0:
                self._skip -= 1  # in the base's remaining already
            else:
                self._freed.append((f, answered_at, remaining))
        # Drop answered calls that hold nothing (429s, answers without headers, freed slots).
        self._after = [t for t in self._after if not t.answered or (t.free_at is not None and t.free_at > now)]
        held = len(self._after)
        room = self._base.remaining + len(self._freed) - held
        wake = [t.free_at for t in self._after if t.free_at is not None]
        if self._pending:
            wake.append(self._pending[0][0])
        reset = self._base.reset_at
        if reset is not None:
            if now >= reset:
                # Full again as of that answer; an unknown limit still lets one call probe.
                room = max(room, (self._base.limit or 1) - held)
            else:
                wake.append(reset)
        nxt = min(wake, default=math.inf)
        return room, (max(0.0, nxt - now) if nxt != math.inf else math.inf)

    def try_start(self) -> Ticket | float:
        """A ticket for a call that starts now, or the seconds to wait (math.inf: an answer)."""
        room, wait = self.room()
        if room >= 1:
            t = Ticket(self._clock())
            self._after.append(t)
            return t
        return wait

    async def start(self) -> Ticket:
        waited = False
        while True:
            got = self.try_start()
            if isinstance(got, Ticket):
                if waited:
                    self.waits += 1
                    got.waited = True
                return got
            waited = True
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                # An answer may bring more room (a rebase); else the next slot frees after `got`.
                await asyncio.wait({fut}, timeout=None if got == math.inf else got)
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def answered(self, t: Ticket, quota: Quota | None, rate_limited: bool = False,
                 retry_after: float | None = None) -> None:
        """The call's answer came back; `quota` is what its headers said (None: no headers)."""
        self._settle(t)
        if quota is None or quota.reset_at is None:
            # No usable headers: the call holds nothing we can account for.
            self._wake()
            return
        if rate_limited:
            if retry_after is not None:
                self.hold_until = max(self.hold_until, self._clock() + retry_after)
        else:
            t.free_at, t.remaining = quota.reset_at, quota.remaining
            if t.sent_at <= self._base_sent and t.free_at > self._base_sent and not self._is_after(t):
                self._push(t)  # counted in the base already; frees later
        if t.sent_at > self._base_sent:
            self._rebase(t, quota)
        self._wake()

    def abandoned(self, t: Ticket) -> None:
        """The call ended without an answer (cancelled, timed out, dropped): assume it holds nothing."""
        self._settle(t)
        self._wake()

    def _settle(self, t: Ticket) -> None:
        t.answered, t.answered_at = True, self._clock()

    def _is_after(self, t: Ticket) -> bool:
        return any(x is t for x in self._after)

    def _push(self, t: Ticket) -> None:
        assert t.free_at is not None
        self._seq += 1
        heapq.heappush(self._pending, (t.free_at, self._seq, t.answered_at, t.remaining))

    def _rebase(self, t: Ticket, quota: Quota) -> None:
        self._base, self._base_sent = quota, t.sent_at

        # Calls sent a moment apart reach the server in any order, so a call answered after this one
        # was sent may have been admitted after it, and not be in its remaining. It surely was
        # before when its answer came back before this call went out, or when its answer left more
        # remaining than this one's (admissions count the window down). Any other such slot is held
        # on our own count until it frees, and adds nothing then.
        def before_it(x: Ticket) -> bool:
            return x.answered_at <= t.sent_at or x.remaining > quota.remaining

        # Every slot we know of that was held when this call was sent: its f in the heap (or
        # still in flight), whether or not our view of it has freed since.
        while self._pending and self._pending[0][0] <= t.sent_at:
            heapq.heappop(self._pending)
        known = [Ticket(-math.inf, answered=True, free_at=f, answered_at=a, remaining=r)
                 for f, _, a, r in self._pending]
        known += [Ticket(-math.inf, answered=True, free_at=f, answered_at=a, remaining=r)
                  for f, a, r in self._freed if f > t.sent_at]
        self._pending, self._freed = [], []
        for x in known:
            if before_it(x):
                self._push(x)
            elif x.free_at is not None and x.free_at > self._clock():
                self._after.append(x)
        if t.free_at is not None and t.free_at > t.sent_at and not self._is_after(t):
            self._push(t)
        keep: list[Ticket] = []
        for x in self._after:
            if x.sent_at > t.sent_at or not x.answered or (x is not t and not before_it(x)):
                # Sent after it, still in flight, or maybe admitted after it: not in its remaining.
                keep.append(x)
            elif x.free_at is not None and x.free_at > t.sent_at:
                self._push(x)  # its slot is in the new remaining; it frees later
        self._after = keep
        # We learn of a freed slot at its answer's reset, which is late by the answer's transit (or
        # more, when the loop was busy). The server says how many slots it held for this call:
        # our slots past that number have freed already, and are in `remaining`: the earliest of
        # them must not be counted again when our view of them frees.
        used = None if quota.limit is None else quota.limit - quota.remaining
        self._skip = max(0, len(self._pending) - used) if used is not None else 0

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for f in waiters:
            if not f.done():
                f.set_result(None)
