"""BackendClient: a Provider plus rate limits, adaptive concurrency and our own counted retries."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable

from watcher.config import BackendConfig
from watcher.providers.base import Completion, Provider, ProviderError, Request
from watcher.providers.breaker import Breaker, CallStopped
from watcher.providers.limits import AdaptiveConcurrency, TokenBucket, rpm_bucket, tpm_bucket
from watcher.providers.quota import QuotaGate
from watcher.run.records import FAIL_RATE_LIMITED

log = logging.getLogger("watcher.providers")

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


def backoff_delay(attempt: int, rng: random.Random, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt))."""
    return rng.uniform(0.0, min(cap, base * (2 ** attempt)))


class BackendClient:
    """One backend as a worker uses it. `call()` never retries non-retryable errors (401, 400)."""

    def __init__(self, name: str, provider: Provider, *, max_retries: int = 6, concurrency: int = 8,
                 rpm: float = 0, tpm: float = 0, on_event: Callable[[str, str], None] | None = None,
                 rng: random.Random | None = None, backoff_base_s: float = BACKOFF_BASE_S,
                 backoff_cap_s: float = BACKOFF_CAP_S, thinking_budget: int = 0,
                 reasoning_effort: str | None = None, breaker: Breaker | None = None) -> None:
        self.name = name
        self.breaker = breaker or Breaker()
        # Backend-level reasoning settings apply to requests that do not set their own.
        self.thinking_budget = thinking_budget
        self.reasoning_effort = reasoning_effort
        self.provider = provider
        self.model = provider.model
        self.max_retries = max_retries
        self.on_event = on_event
        self.rng = rng or random.Random()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.rpm_bucket: TokenBucket | None = rpm_bucket(rpm)
        self.tpm_bucket: TokenBucket | None = tpm_bucket(tpm)
        self.limiter = AdaptiveConcurrency(concurrency, on_change=self._on_limit_change)
        self.quota = QuotaGate()  # the provider's quota headers, when it sends them
        # Counters for the heartbeat.
        self.in_flight = 0
        self.calls = 0
        self.successes = 0
        self.errors = 0
        self.retries = 0
        self.rate_limit_waits = 0  # 429s waited out
        self.throttle_waits = 0  # our own rpm/tpm buckets made a call wait
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.errors_by_kind: dict[str, int] = {}

    # -- heartbeat fields --------------------------------------------------------------------
    @property
    def concurrency(self) -> int:
        return self.limiter.limit

    @property
    def rate_limited_until(self) -> float | None:
        left = max(self.limiter.cooling(), self.quota.hold_until - time.monotonic())
        return time.time() + left if left > 0 else None

    def _event(self, kind: str, detail: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event(kind, detail)
            except Exception:  # a display callback must never break a call
                log.exception("on_event callback failed")

    def _on_limit_change(self, old: int, new: int, why: str) -> None:
        self._event("concurrency", f"{self.name}: concurrency {old} -> {new} ({why})")

    # -- the call -------------------------------------------------------------------------------
    async def _once(self, req: Request) -> Completion:
        await self.limiter.acquire()
        charged = 0.0
        try:
            if self.rpm_bucket is not None and await self.rpm_bucket.acquire(1) > 0:
                self.throttle_waits += 1
            if self.tpm_bucket is not None:
                # Output tokens are charged at max_tokens until the real count is known.
                charged = min(float(req.max_tokens), self.tpm_bucket.capacity)
                if await self.tpm_bucket.acquire(charged) > 0:
                    self.throttle_waits += 1
            ticket = await self.quota.start()  # last: it counts the call as sent from here
            if ticket.waited:
                self.throttle_waits += 1
            self.in_flight += 1
            self.calls += 1
            sent_at = self.limiter.now()  # after the rpm/tpm waits: when the server sees it
            try:
                comp = await self.provider.complete(req)
                self.quota.answered(ticket, comp.quota)
                self.limiter.on_accepted(sent_at)
            except ProviderError as e:
                self.quota.answered(ticket, e.quota, e.kind == FAIL_RATE_LIMITED, e.retry_after)
                raise
            except BaseException:
                self.quota.abandoned(ticket)
                self.breaker.abandon()
                raise
            finally:
                self.in_flight -= 1
        except BaseException:
            if self.tpm_bucket is not None and charged:
                self.tpm_bucket.adjust(-charged)  # a failed call used no output tokens
            raise
        finally:
            self.limiter.release()
        if self.tpm_bucket is not None:
            self.tpm_bucket.adjust(comp.output_tokens - charged)
        return comp

    def _with_defaults(self, req: Request) -> Request:
        changes: dict[str, object] = {}
        if self.thinking_budget and not req.thinking_budget:
            changes["thinking_budget"] = self.thinking_budget
        if self.reasoning_effort and not req.reasoning_effort:
            changes["reasoning_effort"] = self.reasoning_effort
        return dataclasses.replace(req, **changes) if changes else req

    async def call(self, req: Request, deadline: float | None = None,
                   stopping: Callable[[], bool] | None = None) -> Completion:
        """One completion, retrying transient failures with backoff while the breaker allows and
        before `deadline` (time.monotonic; time spent waiting for an open breaker extends it).
        Raises the last ProviderError, BackendDown, or CallStopped once `stopping()` is true."""
        req = self._with_defaults(req)
        attempt = 0
        while True:
            waited = await self.breaker.admit(stopping)
            if deadline is not None:
                deadline += waited
            try:
                comp = await self._once(req)
            except ProviderError as e:
                self._record_error(e)
                self.breaker.on_failure(e)
                if e.kind == FAIL_RATE_LIMITED:
                    self.rate_limit_waits += 1
                    if e.quota is not None and e.quota.reset_s is not None:
                        # The quota headers say when room comes back (the gate waits for it): a
                        # quota used up, not too many calls in flight, so no cut and no replay.
                        self._event("rate_limited", f"{self.name}: {e.short()}; quota of "
                                    f"{e.quota.limit or '?'} used up, waiting for it")
                    elif self.limiter.on_rate_limited(e.retry_after):
                        self._event("rate_limited", f"{self.name}: {e.short()}; concurrency now {self.concurrency}")
                delay = backoff_delay(attempt, self.rng, self.backoff_base_s, self.backoff_cap_s)
                if e.retry_after is not None:
                    delay = max(delay, e.retry_after)
                late = deadline is not None and time.monotonic() + delay > deadline
                if not e.retryable or attempt >= self.max_retries or late:
                    if e.retryable:
                        self._event("gave_up", f"{self.name}: {e.short()} after {attempt + 1} tries")
                    raise
                attempt += 1
                self.retries += 1
                self._event("retry", f"{self.name}: {e.short()}; retry {attempt}/{self.max_retries} in {delay:.1f}s")
                log.info("%s: %s; retry %d/%d in %.1fs", self.name, e, attempt, self.max_retries, delay)
                await _sleep_unless(delay, stopping)
                continue
            self.successes += 1
            self.breaker.on_success()
            self.limiter.on_success()
            return comp

    def _record_error(self, e: ProviderError) -> None:
        self.errors += 1
        self.errors_by_kind[e.kind] = self.errors_by_kind.get(e.kind, 0) + 1
        self.last_error = e.message[:300]  # one line: class, status, URL, the body's gist
        self.last_error_at = time.time()

    async def aclose(self) -> None:
        close = getattr(self.provider, "aclose", None)
        if close is not None:
            await close()


async def _sleep_unless(delay: float, stopping: Callable[[], bool] | None, step: float = 0.1) -> None:
    """Sleep `delay` seconds, raising CallStopped as soon as `stopping()` turns true."""
    end = time.monotonic() + delay
    while True:
        if stopping is not None and stopping():
            raise CallStopped()
        left = end - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(step, left))


def make_provider(cfg: BackendConfig, api_key: str) -> Provider:
    if cfg.kind == "anthropic":
        from watcher.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider(cfg, api_key)
    if cfg.kind == "openai":
        from watcher.providers.openai_provider import OpenAIProvider

        return OpenAIProvider(cfg, api_key)
    raise ValueError(f"unknown backend kind {cfg.kind!r}; use anthropic or openai")


def make_client(name: str, cfg: BackendConfig, api_key: str, rpm_share: float = 1.0,
                on_event: Callable[[str, str], None] | None = None) -> BackendClient:
    """The client for one worker: rpm/tpm are the backend's limits times this worker's share."""
    share = max(0.0, min(1.0, rpm_share)) or 1.0
    return BackendClient(
        name, make_provider(cfg, api_key), max_retries=cfg.max_retries, concurrency=cfg.concurrency,
        rpm=cfg.rpm * share if cfg.rpm else 0, tpm=cfg.tpm * share if cfg.tpm else 0, on_event=on_event,
        thinking_budget=cfg.thinking_budget, reasoning_effort=cfg.reasoning_effort,
        breaker=Breaker(cfg.breaker_threshold, cfg.give_up_after_s),
    )
