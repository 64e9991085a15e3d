"""Which fault (if any) a request gets: a forced header, a scripted queue, random rates, the rpm limit.

Forcing faults deterministically (tests, benches), two ways:
  * `script(["429", "500", None])`: a queue consumed in order, one entry per completion request
    (None / "ok" = no fault for that request); random faults are not drawn while it is non-empty.
  * request header `x-sim-fault: 500|529|429|slow|drop|truncate|empty`: that fault on every request
    carrying it (e.g. via BackendConfig.extra_headers).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque

from watcher.simulator.config import FAULTS, SimConfig


def retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, int(math.ceil(seconds)))), "retry-after-ms": str(int(seconds * 1000))}


class Faults:
    """Fault picking and the rpm token bucket (capacity rpm, refill rpm/60 per second).

    Shares the server's rng and lock so a seeded simulator draws faults and answers in one sequence."""

    def __init__(self, cfg: SimConfig, rng: random.Random, lock: threading.Lock) -> None:
        self.cfg = cfg
        self._rng = rng
        self._lock = lock
        self._script: deque[str | None] = deque()
        self._bucket_tokens = float(cfg.rpm)
        self._bucket_t = time.monotonic()
        self._window: deque[float] = deque()  # times of the requests let through in the sliding window

    def script(self, faults: list[str | None]) -> None:
        for f in faults:
            f = None if f in (None, "", "ok", "none") else str(f)
            if f is not None and f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; use one of {', '.join(FAULTS)}")
            with self._lock:
                self._script.append(f)

    def pick(self, header: str | None) -> str | None:
        if header:
            h = header.strip().lower()
            return h if h in FAULTS else None
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self.cfg.force:
                return self.cfg.force
            r = self._rng.random()
        acc = 0.0
        for f, rate in self.cfg.fault_rates():
            acc += rate
            if r < acc:
                return f
        return None

    def take_rpm(self) -> float | None:
        """None when a request may pass the rpm limit, else the seconds until one token is back."""
        rpm = self.cfg.rpm
        if rpm <= 0:
            return None
        rate = rpm / 60.0
        with self._lock:
            now = time.monotonic()
            self._bucket_tokens = min(float(rpm), self._bucket_tokens + (now - self._bucket_t) * rate)
            self._bucket_t = now
            if self._bucket_tokens >= 1.0:
                self._bucket_tokens -= 1.0
                return None
            return (1.0 - self._bucket_tokens) / rate

    def take_window(self) -> tuple[float | None, int, float]:
        """(wait, remaining, full_at) for one request against the sliding window (window_rpm per
        window_s): wait is None when it fits, else the seconds until the oldest request in it
        leaves (the Retry-After a real provider sends); remaining and full_at (time.monotonic, when
        the newest leaves) are the quota after it, for the rate-limit headers."""
        limit = self.cfg.window_rpm
        if limit <= 0:
            return None, 0, 0.0
        with self._lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= self.cfg.window_s:
                self._window.popleft()
            wait = None
            if len(self._window) < limit:
                self._window.append(now)
            else:
                wait = self._window[0] + self.cfg.window_s - now
            return wait, limit - len(self._window), self._window[-1] + self.cfg.window_s
