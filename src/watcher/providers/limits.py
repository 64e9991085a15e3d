"""Client-side rate limits: token buckets for rpm/tpm and AIMD adaptive concurrency.

Both are per worker: the caller divides a backend's limits among that backend's workers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

# Accepted calls remembered for a replay: one window's worth at any rate a worker reaches.
MAX_REMEMBERED = 20_000


class TokenBucket:
    """Capacity `capacity`, refilled continuously at `rate_per_s`.

    A bucket of capacity rpm refilled at rpm/60 per second uses the burst a per-minute limit allows
    (pacing at one request every 60/rpm s from a cold start halves throughput; see notes/generation.md).
    The lock is held while waiting so waiters are served in arrival order.
    """

    def __init__(self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("rate_per_s and capacity must be > 0")
        self.rate = float(rate_per_s)
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self._clock = clock
        self._t = clock()
        self._lock = asyncio.Lock()
        self.waits = 0  # acquisitions that had to sleep
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self._t) * self.rate)
        self._t = now

    def available(self) -> float:
        self._refill()
        return self.tokens

    def try_acquire(self, n: float = 1.0) -> bool:
        self._refill()
        n = min(n, self.capacity)
        if self.tokens >= n and not self._lock.locked():
            self.tokens -= n
            return True
        return False

    async def acquire(self, n: float = 1.0) -> float:
        """Take n tokens, sleeping until they are there; returns the seconds waited."""
        n = min(n, self.capacity)  # a request larger than the bucket would otherwise wait forever
        waited = 0.0
        async with self._lock:
            while True:
                self._refill()
                if self.tokens >= n:
                    self.tokens -= n
                    if waited:
                        self.waits += 1
                        self.waited_s += waited
                    return waited
                delay = (n - self.tokens) / self.rate
                await asyncio.sleep(delay)
                waited += delay

    def adjust(self, delta: float) -> None:
        """Charge (delta > 0) or refund (delta < 0) tokens once the real count is known.

        A charge may leave the bucket negative: later callers then wait for the debt to refill.
        """
        self._refill()
        self.tokens = min(self.capacity, self.tokens - delta)


def rpm_bucket(rpm: float) -> TokenBucket | None:
    return TokenBucket(rpm / 60.0, max(1.0, rpm)) if rpm and rpm > 0 else None


def tpm_bucket(tpm: float) -> TokenBucket | None:
    return TokenBucket(tpm / 60.0, max(1.0, tpm)) if tpm and tpm > 0 else None


class AdaptiveConcurrency:
    """AIMD limit on calls in flight, in the manner of NeMo Data Designer, plus a paced restart
    after a long Retry-After pause.

    Two kinds of 429 need opposite answers:
      * a short Retry-After while we have been sending for longer than that (a token bucket that
        refills as we go): too many calls in flight. The limit is multiplied by 0.75 (min 1) and
        new calls wait out Retry-After (else 2 s); one cut per cooldown, so a burst of 429s from
        calls already in flight counts once. After 25 successes in a row the limit grows by 1 up
        to `max_limit`; the limit that drew the 429 is kept as a ceiling and growing back to it
        takes 4x as many successes, which damps the sawtooth.
      * a Retry-After at least as long as the run of accepted calls that led to it (and >=
        `pause_min_s`): a quota such as R requests per sliding window is used up. Fewer calls in
        flight would not help, so the limit is kept. The window frees its slots in the order and
        at the pace it accepted them, starting when the oldest leaves (= when Retry-After ends),
        so after the pause calls are let out on that same schedule, shifted by the pause
        ("replay"), instead of all at once into a window with only a few free slots.
    """

    def __init__(self, max_limit: int, *, initial: int | None = None, decrease: float = 0.75,
                 increase_after: int = 25, default_cooldown_s: float = 2.0, pause_min_s: float = 1.0,
                 on_change: Callable[[int, int, str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_limit = max(1, int(max_limit))
        self.limit = max(1, min(self.max_limit, int(initial or self.max_limit)))
        self.decrease = decrease
        self.increase_after = increase_after
        self.default_cooldown_s = default_cooldown_s
        self.pause_min_s = pause_min_s
        self.on_change = on_change
        self._clock = clock
        self.in_flight = 0
        self.ceiling: int | None = None
        self.cooldown_until = 0.0  # clock()
        self.cuts = 0
        self.pauses = 0  # long Retry-After pauses followed by a replay
        self._guard_until = 0.0
        self._successes = 0
        self._waiters: list[asyncio.Future[None]] = []
        # Send times of accepted calls since `_streak_start` (when the last pause ended).
        self._accepted: list[float] = []
        self._streak_start = -math.inf
        self._replay_armed = False  # a pause is on: build the schedule when it ends
        self._schedule: deque[float] = deque()  # clock() times at which paced calls may start

    def cooling(self) -> float:
        """Seconds of cooldown left (0 when none)."""
        return max(0.0, self.cooldown_until - self._clock())

    def try_acquire(self) -> float:
        """Take a slot and return 0.0, or return how long to wait before asking again
        (math.inf: until a call in flight is released)."""
        now = self._clock()
        if now < self.cooldown_until:
            return self.cooldown_until - now
        if self._replay_armed:
            self._start_replay()
        if self._schedule and self._schedule[0] > now:
            return self._schedule[0] - now
        if self.in_flight >= self.limit:
            return math.inf
        if self._schedule:
            self._schedule.popleft()
        self.in_flight += 1
        return 0.0

    def now(self) -> float:
        return self._clock()

    async def acquire(self) -> None:
        while True:
            wait = self.try_acquire()
            if wait == 0.0:
                return
            if wait != math.inf:
                await asyncio.sleep(wait)
                continue
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)

    def release(self) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self._wake()

    def _wake(self) -> None:
        # Wake everyone: each re-checks the limit, so a cancelled waiter can never strand a free slot.
        waiters, self._waiters = self._waiters, []
        for f in waiters:
            if not f.done():
                f.set_result(None)

    def on_accepted(self, sent_at: float) -> None:
        """A call let out at `sent_at` was answered (not 429): it holds a slot of a window quota."""
        if sent_at >= self._streak_start:
            self._accepted.append(sent_at)
            if len(self._accepted) > MAX_REMEMBERED:
                del self._accepted[: len(self._accepted) - MAX_REMEMBERED]

    def on_success(self) -> None:
        self._successes += 1
        need = self.increase_after
        if self.ceiling is not None and self.limit + 1 >= self.ceiling:
            need *= 4
        if self._successes >= need and self.limit < self.max_limit:
            old = self.limit
            self.limit += 1
            self._successes = 0
            if self.ceiling is not None and self.limit >= self.ceiling:
                self.ceiling = None  # it held at the old ceiling: that 429 was transient
            self._wake()
            if self.on_change:
                self.on_change(old, self.limit, "increase")

    def on_rate_limited(self, retry_after: float | None = None) -> bool:
        """Record a 429; returns True for the first 429 of a cooldown (the one that cut the limit
        or started a pause)."""
        now = self._clock()
        cool = retry_after if retry_after is not None and retry_after >= 0 else self.default_cooldown_s
        self._successes = 0
        if self._schedule:
            # The replay ran ahead of the window (another client shares it, or jitter): push the
            # rest of the schedule back by the new wait, keeping its pace, and do not cut.
            shift = max(0.0, now + cool - max(self.cooldown_until, now))
            self._schedule = deque(t + shift for t in self._schedule)
            self.cooldown_until = max(self.cooldown_until, now + cool)
            return False
        first = now >= self._guard_until
        self.cooldown_until = max(self.cooldown_until, now + cool)
        if self._replay_armed:
            return False  # more 429s from calls that were in flight when the pause began
        accepted = [t for t in self._accepted if t >= self._streak_start]
        if accepted and cool >= max(self.pause_min_s, now - min(accepted)):
            self._replay_armed = True
            self._guard_until = self.cooldown_until
            self.pauses += 1
            return True
        if not first:
            return False
        old = self.limit
        self.ceiling = old
        self.limit = max(1, int(old * self.decrease))
        self._guard_until = self.cooldown_until
        self.cuts += 1
        if self.on_change:
            self.on_change(old, self.limit, "decrease")
        return True

    def _start_replay(self) -> None:
        """The pause is over: schedule calls at the offsets the accepted ones had, from now on.
        Built here, not at the first 429, so calls that were in flight then are included."""
        self._replay_armed = False
        accepted = sorted(t for t in self._accepted if t >= self._streak_start)
        start = self.cooldown_until
        if accepted:
            first = accepted[0]
            self._schedule = deque(start + (t - first) for t in accepted)
        self._accepted = []
        self._streak_start = start
