"""Record schemas (accepted, rejected, heartbeat) and their JSONL encoding.

These shapes are the contract between workers (writers) and tail/stats/gate/TUI (readers).
Poetry records carry `form` and `poem`; agentic records carry `category` and `response`;
aba records carry `variant` and `response`.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

FINISH_REASONS = ("stop", "length", "content_filter", "tool_calls", "error", "other")

# Reasons an attempt or an item can fail; stats and the gate count by these words (DESIGN.md
# "Outcomes"). Content classes end an item as rejected; call classes (providers/failures.py) do not,
# except a `bad_request` the provider gave one item alone while other calls went through.
FAIL_BELOW_MIN = "below_min_score"
FAIL_TRUNCATED = "truncated"
FAIL_EMPTY = "empty"
FAIL_CONTENT_FILTER = "content_filter"
FAIL_RATE_LIMITED = "rate_limit"
FAIL_TIMEOUT = "timeout"
FAIL_CONNECTION = "connect"
FAIL_SERVER = "server"
FAIL_AUTH = "auth"
FAIL_NOT_FOUND = "not_found"
FAIL_BAD_REQUEST = "bad_request"
FAIL_BAD_RESPONSE = "bad_response"
FAIL_OTHER = "error"


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: int = 0  # every input token, cached ones included (the cache fields are parts of it)
    output_tokens: int = 0  # reasoning tokens included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    unknown_calls: int = 0  # calls whose response carried no usage: their tokens and cost are unknown


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
    batch_id: str | None = None  # batch mode: the provider batch the accepted completion came in
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
    batch_id: str | None = None  # batch mode: the batch of the last attempt
    status: str = "rejected"


TERMINAL_STATES = ("done", "stopped", "failed")  # a worker in one of these takes and polls nothing more


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
    retries: int = 0  # repeated calls
    pending: int = 0  # items of its share not yet ended (never tried, in flight, or failed in transport)
    breaker: str = "closed"  # closed | open (probing with backoff) | down (given up)
    down_since: float | None = None  # when the breaker opened
    down_reason: str | None = None
    next_probe_at: float | None = None
    share: int = 0  # items this worker owns in the plan
    budget_hit: bool = False  # stopped taking items at the run's spend ceiling
    budget_next_usd: float | None = None  # batch mode: upper bound of the next request, which did not fit
    started_at: float = 0.0
    updated_at: float = 0.0


_encoder = msgspec.json.Encoder()
_hb_decoder = msgspec.json.Decoder(Heartbeat)


def encode_line(record: Accepted | Rejected | dict[str, Any]) -> bytes:
    """One whole JSONL line, newline included: writers hand this to a single write()."""
    return _encoder.encode(record) + b"\n"


def decode_heartbeat(data: bytes | str) -> Heartbeat:
    return _hb_decoder.decode(data)


def read_heartbeat(path: Path) -> Heartbeat | None:
    """A worker's heartbeat file, or None when it is missing or half-written."""
    try:
        return _hb_decoder.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):
        return None


GROUP_FIELD = {"poetry": "form", "agentic": "category", "aba": "variant"}  # the one rule for "which group"


def group_of(rec: Any) -> str:
    """The per-group key of a record (full or a reader subset, or its dict): form, category or variant."""
    if isinstance(rec, dict):
        return rec.get("form") or rec.get("category") or rec.get("variant") or "?"
    return rec.form or rec.category or rec.variant or "?"


def item_id(job: str, key: str, replicate: int) -> str:
    """Stable id: the same job, item key and replicate index give the same id on every run."""
    return hashlib.sha1(f"{job}\x1f{key}\x1f{replicate}".encode()).hexdigest()[:16]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# Reader subsets: what one reader decodes of a record line, typed so msgspec checks it. Unknown
# fields are ignored; a wrong type or a missing required field is a decode error naming the field.

# The gate (gate/run.py): only what its checks read. Traces stay raw JSON: checked as bytes and
# copied into the export without decode/re-encode.
_RAW_NULL = msgspec.Raw(b"null")


class GateRecord(msgspec.Struct, kw_only=True):
    id: str
    prompt: str
    score: float
    finish_reason: str
    job: str | None = None
    synth_trace: msgspec.Raw = _RAW_NULL
    natural_trace: msgspec.Raw = _RAW_NULL
    usage: Usage | None = None
    final_usage: Usage | None = None
    system: str | None = None
    model: str = ""  # the diversity report's share per model


class GatePoetryRecord(GateRecord, kw_only=True):
    form: str
    poem: str


class GateAgenticRecord(GateRecord, kw_only=True):
    category: str
    response: str | None = None
    messages: list[dict[str, Any]] | None = None


class GateAbaRecord(GateRecord, kw_only=True):
    variant: str
    response: str


GATE_RECORD_TYPES: dict[str, type[GateRecord]] = {
    "poetry": GatePoetryRecord, "agentic": GateAgenticRecord, "aba": GateAbaRecord}


# Resume (generate/plan.py).
class IdRound(msgspec.Struct):
    """Resume (generate/plan.py): an accepted or rejected line's item id and, for rejects, its round."""

    id: str
    round: int = 0


# Stats (monitor/stats.py).
# monitor.stats decodes only these fields of Accepted/Rejected lines (msgspec skips the rest, much
# cheaper than a whole parse); the group of a decoded line is `group_of(rec)`, as for full records.
class StatsAttempt(msgspec.Struct):
    model: str = ""
    finish_reason: str = ""
    failure: str | None = None
    score: float | None = None  # the verifier's score; None when the call failed before verifying


class StatsRecord(msgspec.Struct):
    """Fields of Accepted/Rejected that stats need; `score` is None on a rejected line."""

    id: str
    status: str = ""
    form: str | None = None
    category: str | None = None
    variant: str | None = None
    score: float | None = None
    best_score: float | None = None
    attempts: int = 1
    model: str = ""
    finish_reason: str = ""
    usage: Usage | None = None
    cost_usd: float | None = 0.0
    timestamp: str = ""
    reason: str | None = None
    detail: str | None = None
    attempt_log: list[StatsAttempt] = []


# A bound method, not a wrapper: stats calls it once per line of a catch-up.
decode_stats_record = msgspec.json.Decoder(StatsRecord).decode
