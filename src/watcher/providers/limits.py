"""Client-side rate limits: token buckets for rpm/tpm and AIMD adaptive concurrency.

Both are per worker: the caller divides a backend's limits among that backend's workers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


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
    """AIMD limit on calls in flight, in the manner of NeMo Data Designer.

    On a 429 the limit is multiplied by 0.75 (min 1) and new calls wait out Retry-After (else 2 s);
    one cut per cooldown, so a burst of 429s from calls already in flight counts once. After 25
    successes in a row the limit grows by 1 up to `max_limit`. The limit that drew the 429 is kept as
    a ceiling: growing back to it takes 4x as many successes, which damps the sawtooth.
    """

    def __init__(self, max_limit: int, *, initial: int | None = None, decrease: float = 0.75,
                 increase_after: int = 25, default_cooldown_s: float = 2.0,
                 on_change: Callable[[int, int, str], None] | None = None) -> None:
        self.max_limit = max(1, int(max_limit))
        self.limit = max(1, min(self.max_limit, int(initial or self.max_limit)))
        self.decrease = decrease
        self.increase_after = increase_after
        self.default_cooldown_s = default_cooldown_s
        self.on_change = on_change
        self.in_flight = 0
        self.ceiling: int | None = None
        self.cooldown_until = 0.0  # monotonic
        self.cuts = 0
        self._guard_until = 0.0
        self._successes = 0
        self._waiters: list[asyncio.Future[None]] = []

    def cooling(self) -> float:
        """Seconds of cooldown left (0 when none)."""
        return max(0.0, self.cooldown_until - time.monotonic())

    async def acquire(self) -> None:
        while True:
            left = self.cooling()
            if left > 0:
                await asyncio.sleep(left)
                continue
            if self.in_flight < self.limit:
                self.in_flight += 1
                return
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
        """Record a 429; returns True when it cut the limit (at most once per cooldown)."""
        now = time.monotonic()
        cool = retry_after if retry_after is not None and retry_after >= 0 else self.default_cooldown_s
        self.cooldown_until = max(self.cooldown_until, now + cool)
        self._successes = 0
        if now < self._guard_until:
            return False
        old = self.limit
        self.ceiling = old
        self.limit = max(1, int(old * self.decrease))
        self._guard_until = self.cooldown_until
        self.cuts += 1
        if self.on_change:
            self.on_change(old, self.limit, "decrease")
        return True

