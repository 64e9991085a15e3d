"""Record schemas (accepted, rejected, heartbeat) and their JSONL encoding.

These shapes are the contract between workers (writers) and tail/stats/gate/TUI (readers).
Poetry records carry `form` and `poem`; agentic records carry `category` and `response`;
aba records carry `variant` and `response`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "error", "other")

# Reasons an attempt or an item can fail; stats and the gate count by these words.
FAIL_BELOW_MIN = "below_min_score"
FAIL_TRUNCATED = "truncated"
FAIL_EMPTY = "empty"
FAIL_CONTENT_FILTER = "content_filter"
FAIL_RATE_LIMITED = "rate_limited"
FAIL_TIMEOUT = "timeout"
FAIL_CONNECTION = "connection"
FAIL_SERVER = "server_error"
FAIL_AUTH = "auth"
FAIL_BAD_REQUEST = "bad_request"
FAIL_OTHER = "error"


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0
    output_tokens: int = 0


class Attempt(msgspec.Struct, kw_only=True):
    """One backend call made for an item, kept so stats can show every finish_reason and failure."""

    model: str
    finish_reason: str  # normalised; "error" when the call failed
    finish_reason_raw: str = ""
    score: float | None = None
    failure: str | None = None  # one of the FAIL_* words, None when the attempt was accepted
    error: str | None = None
    latency_s: float = 0.0


class Accepted(msgspec.Struct, kw_only=True, omit_defaults=False):
    id: str
    job: str
    prompt: str
    synth_trace: str
    natural_trace: str
    score: float
    passed: bool
    rubric: list[dict[str, Any]]
    attempts: int
    model: str
    backend: str
    finish_reason: str
    finish_reason_raw: str
    usage: Usage  # all attempts of the item: what it cost
    cost_usd: float
    latency_s: float
    worker: int
    timestamp: str
    final_usage: Usage | None = None  # the accepted completion alone: what a token budget is about
    form: str | None = None
    poem: str | None = None
    category: str | None = None
    variant: str | None = None
    response: str | None = None
    messages: list[dict[str, Any]] | None = None  # agentic: the chat example itself
    system: str | None = None
    attempt_log: list[Attempt] = msgspec.field(default_factory=list)
    status: str = "accepted"


class Rejected(msgspec.Struct, kw_only=True):
    id: str
    job: str
    prompt: str
    reason: str  # a FAIL_* word: why the item ended without acceptance
    best_score: float | None
    finish_reason: str
    attempts: int
    model: str
    backend: str
    usage: Usage
    cost_usd: float
    worker: int
    timestamp: str
    error: str | None = None
    detail: str | None = None  # one line: the failing rubric items of the best attempt, or the error
    form: str | None = None
    category: str | None = None
    variant: str | None = None
    best_text: str | None = None
    attempt_log: list[Attempt] = msgspec.field(default_factory=list)
    round: int = 0  # the run round (each start or resume is one); a resume retries earlier rounds' rejects
    status: str = "rejected"


class Heartbeat(msgspec.Struct, kw_only=True):
    worker_id: int
    pid: int
    backend: str
    model: str
    state: str  # starting | running | pausing | paused | stopping | done | failed
    in_flight: int = 0
    concurrency: int = 0
    done: int = 0
    rejected: int = 0
    errors: int = 0
    rate_limit_waits: int = 0
    rate_limited_until: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    share: int = 0  # items this worker owns in the plan
    started_at: float = 0.0
    updated_at: float = 0.0


_encoder = msgspec.json.Encoder()
_hb_decoder = msgspec.json.Decoder(Heartbeat)


def encode_line(record: Accepted | Rejected | dict[str, Any]) -> bytes:
    """One whole JSONL line, newline included: writers hand this to a single write()."""
    return _encoder.encode(record) + b"\n"


def decode_heartbeat(data: bytes | str) -> Heartbeat:
    return _hb_decoder.decode(data)


def item_id(job: str, key: str, replicate: int) -> str:
    """Stable id: the same job, item key and replicate index give the same id on every run."""
    return hashlib.sha1(f"{job}\x1f{key}\x1f{replicate}".encode()).hexdigest()[:16]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
