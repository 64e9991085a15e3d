"""A circuit breaker per backend: stop hammering a backend that fails, and know when to give up.

Deterministic failures (auth, not_found, bad_response, bad_request on every call) `threshold` times
in a row mark the backend *down* at once: no retry can fix them. Transient ones (connect, timeout,
server) `threshold` times in a row *open* the breaker: calls wait while one probe at a time goes out
with exponential backoff (half-open); a success closes it, and a backend still failing
`give_up_after_s` after it opened is marked down. 429s are not failures here: AIMD handles them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from watcher.providers.base import ProviderError
from watcher.providers.failures import DETERMINISTIC
from watcher.run.records import FAIL_BAD_RESPONSE, FAIL_OTHER, FAIL_RATE_LIMITED

CLOSED, OPEN, DOWN = "closed", "open", "down"


class BackendDown(Exception):
    """The backend was given up on; `reason` says why in one line."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind  # the failure class that brought it down


class CallStopped(Exception):
    """The run is stopping: no new call or retry starts."""


class Breaker:
    def __init__(self, threshold: int = 3, give_up_after_s: float = 900.0, probe_base_s: float = 1.0,
                 probe_cap_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = max(1, threshold)
        self.give_up_after_s = give_up_after_s
        self.probe_base_s = probe_base_s
        self.probe_cap_s = probe_cap_s
        self.clock = clock
        self.state = CLOSED
        self.streak = 0  # failed calls in a row (429s aside)
        self.det_streak = 0  # deterministic ones of them, in a row
        self.successes = 0
        self.reason: str | None = None
        self.last_kind: str | None = None
        self.opened_at: float | None = None  # clock time
        self.down_since: float | None = None  # wall time, for display
        self.next_probe_at: float | None = None  # clock time
        self._probes = 0
        self._probing = False

    # -- display ----------------------------------------------------------------------------
    def next_probe_wall(self) -> float | None:
        if self.state != OPEN or self.next_probe_at is None:
            return None
        return time.time() + max(0.0, self.next_probe_at - self.clock())

    # -- outcomes ---------------------------------------------------------------------------
    def on_success(self) -> None:
        self.successes += 1
        self.streak = self.det_streak = 0
        self._probing = False
        if self.state == OPEN:
            self.state, self.reason, self.opened_at, self.down_since, self.next_probe_at = CLOSED, None, None, None, None
            self._probes = 0

    def on_failure(self, err: ProviderError) -> None:
        self._probing = False
        if err.kind == FAIL_RATE_LIMITED or self.state == DOWN:
            return
        self.streak += 1
        self.last_kind = err.kind
        deterministic = err.kind in DETERMINISTIC or err.kind == FAIL_OTHER
        self.det_streak = self.det_streak + 1 if deterministic else 0
        now = self.clock()
        if self.det_streak >= self.threshold:
            what = "answers are not the protocol" if err.kind == FAIL_BAD_RESPONSE else "every call refused"
            self._down(f"{what}: {err.message}")
            return
        if self.state == CLOSED and self.streak >= self.threshold:
            self.state, self.opened_at, self.down_since = OPEN, now, time.time()
        if self.state == OPEN:
            self.reason = err.message
            if now - (self.opened_at or now) >= self.give_up_after_s:
                self._down(f"unreachable for {self.give_up_after_s:g}s: {err.message}")
                return
            self.next_probe_at = now + min(self.probe_cap_s, self.probe_base_s * 2 ** self._probes)
            self._probes += 1

    def abandon(self) -> None:
        """A call ended without an answer either way (cancelled): let another probe go."""
        self._probing = False

    def _down(self, reason: str) -> None:
        self.state, self.reason = DOWN, reason
        if self.down_since is None:
            self.down_since = time.time()

    # -- admission --------------------------------------------------------------------------
    async def admit(self, stopping: Callable[[], bool] | None = None, poll_s: float = 0.05) -> float:
        """Wait until a call may go out; returns the seconds waited. Raises BackendDown or CallStopped."""
        t0 = self.clock()
        while True:
            if self.state == DOWN:
                raise BackendDown(self.reason or "down", self.last_kind)
            if stopping is not None and stopping():
                raise CallStopped()
            if self.state == CLOSED:
                return self.clock() - t0
            now = self.clock()
            if self.opened_at is not None and now - self.opened_at >= self.give_up_after_s and not self._probing:
                self._down(f"unreachable for {self.give_up_after_s:g}s: {self.reason}")
                continue
            if not self._probing and (self.next_probe_at is None or now >= self.next_probe_at):
                self._probing = True  # half-open: this call is the probe; the others keep waiting
                return self.clock() - t0
            await asyncio.sleep(poll_s)
