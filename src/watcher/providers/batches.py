"""What every provider batch API looks like to the worker: submit, retrieve, find, results, cancel.

The implementations (batch_anthropic.py: Message Batches; batch_openai.py: OpenAI Files + Batches and
OpenRouter's inline batches) go through the official SDKs with their retries off; every failure of
a call is classified by failures.py like an online call, with the URL named, and `BatchCaller`
retries the transient ones with backoff and feeds the backend's breaker.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from watcher.config import BackendConfig
from watcher.providers.base import Completion, ProviderError
from watcher.providers.breaker import Breaker
from watcher.providers.client import backoff_delay
from watcher.run.records import FAIL_RATE_LIMITED

# Provider limits per batch (requests, bytes of the request lines).
LIMITS: dict[str, tuple[int, int]] = {
    "anthropic": (100_000, 256 * 1024 * 1024),
    "openai": (50_000, 200 * 1024 * 1024),
    "openrouter": (5_000, 200 * 1024 * 1024),  # OpenRouter states 5,000 requests; no byte limit found
}
SIM_META_FIELD = "x_watcher_sim"  # simulated backends only: the sim metadata, in the body (no per-request headers)

# Normalised per-request outcomes; a custom_id with no readable result line is "missing".
SUCCEEDED, ERRORED, EXPIRED, CANCELED, MISSING = "succeeded", "errored", "expired", "canceled", "missing"
IN_PROGRESS, ENDED = "in_progress", "ended"


@dataclass
class BatchInfo:
    id: str
    state: str  # in_progress | ended (no more results will come)
    status: str  # the provider's own word: in_progress, ended, completed, expired, cancelled, ...
    counts: dict[str, int] = field(default_factory=dict)  # succeeded errored expired canceled processing
    created_at: float = 0.0


@dataclass
class BatchResult:
    custom_id: str
    outcome: str  # SUCCEEDED | ERRORED | EXPIRED | CANCELED
    completion: Completion | None = None
    error: str | None = None


class BatchAPI(Protocol):
    api: str  # anthropic | openai | openrouter
    url: str  # the batches endpoint, for messages

    def line(self, custom_id: str, req: Any) -> dict[str, Any]:
        """One request of a batch in the protocol's shape."""
        ...

    async def submit(self, lines: list[dict[str, Any]], key: str) -> BatchInfo: ...

    async def retrieve(self, batch_id: str) -> BatchInfo: ...

    async def find(self, key: str, created_after: float, n: int, known: set[str]) -> BatchInfo | None:
        """The batch an interrupted submit made, if any: by the key in its metadata where the API
        keeps metadata, else the one unknown batch of `n` requests created since `created_after`."""
        ...

    async def results(self, batch_id: str) -> tuple[list[BatchResult], int]:
        """The results of an ended batch and the number of result lines that could not be read."""
        ...

    async def cancel(self, batch_id: str) -> None: ...


def chunks(lines: list[tuple[str, dict[str, Any]]], max_requests: int, max_bytes: int) -> list[list[tuple[str, dict[str, Any]]]]:
    """Split (custom_id, line) pairs into batches within a provider's request and byte limits."""
    out: list[list[tuple[str, dict[str, Any]]]] = []
    cur: list[tuple[str, dict[str, Any]]] = []
    size = 0
    for cid, line in lines:
        n = len(json.dumps(line, separators=(",", ":"))) + 1
        if cur and (len(cur) >= max_requests or size + n > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append((cid, line))
        size += n
    if cur:
        out.append(cur)
    return out


T = TypeVar("T")


class BatchCaller:
    """A BatchAPI's calls with counted retries of transient failures and the backend's breaker."""

    def __init__(self, api: BatchAPI, cfg: BackendConfig, rng: random.Random | None = None) -> None:
        self.api = api
        self.cfg = cfg
        self.breaker = Breaker(cfg.breaker_threshold, cfg.give_up_after_s)
        self.rng = rng or random.Random()
        self.errors = 0
        self.retries = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None

    async def __call__(self, what: Callable[[], Awaitable[T]], stopping: Callable[[], bool] | None = None) -> T:
        """Raises BackendDown, CallStopped, or the last ProviderError (deterministic, or out of tries)."""
        attempt = 0
        while True:
            await self.breaker.admit(stopping)
            try:
                out = await what()
            except ProviderError as e:
                self.errors += 1
                self.last_error, self.last_error_at = e.message[:300], time.time()
                self.breaker.on_failure(e)
                delay = backoff_delay(attempt, self.rng)
                if e.retry_after is not None:
                    delay = max(delay, e.retry_after)
                if not e.retryable or attempt >= self.cfg.max_retries:
                    raise
                attempt += 1
                self.retries += 1
                await asyncio.sleep(delay if e.kind == FAIL_RATE_LIMITED else min(delay, 5.0))
                continue
            self.breaker.on_success()
            return out


def batch_api_of(cfg: BackendConfig) -> str:
    if cfg.batch_api != "auto":
        return cfg.batch_api
    if cfg.kind == "anthropic":
        return "anthropic"
    return "openrouter" if "openrouter.ai" in (cfg.base_url or "") else "openai"
