"""The request-quota headers providers send on every answer (429s included), read and written.

Anthropic: `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset` (an RFC 3339 time).
OpenAI-style: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
`x-ratelimit-reset-requests` (a Go-style duration: `1s`, `6m0s`, `250ms`, `1h2m3.5s`).
Both define reset as the moment the limit is fully replenished. mlx_lm.server and vLLM send none.
The simulator writes them with the helpers here so the format has one home.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ANTHROPIC_LIMIT = "anthropic-ratelimit-requests-limit"
ANTHROPIC_REMAINING = "anthropic-ratelimit-requests-remaining"
ANTHROPIC_RESET = "anthropic-ratelimit-requests-reset"
OPENAI_LIMIT = "x-ratelimit-limit-requests"
OPENAI_REMAINING = "x-ratelimit-remaining-requests"
OPENAI_RESET = "x-ratelimit-reset-requests"

# A reset further out than this is taken for garbage (a clock off by days, a unit mix-up).
MAX_RESET_S = 86_400.0

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Quota:
    """What one answer said about the request quota, at `seen_at` (time.monotonic) on our clock."""

    remaining: int
    limit: int | None
    reset_s: float | None  # seconds after seen_at until the quota is full again; None: not said
    seen_at: float

    @property
    def reset_at(self) -> float | None:
        return None if self.reset_s is None else self.seen_at + self.reset_s


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration ("6m0s", "250ms", "1.5s"); None for anything else."""
    s = text.strip()
    if not s:
        return None
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total if pos == len(s) and math.isfinite(total) else None


def parse_rfc3339(text: str) -> float | None:
    """POSIX seconds of an RFC 3339 time with an offset or Z; None for anything else."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:  # RFC 3339 always carries an offset; a naive time is ambiguous
        return None
    return dt.timestamp()


def _int(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def parse_quota(headers: Any, *, now: float | None = None, wall: float | None = None) -> Quota | None:
    """The request quota in a response's headers (either dialect), or None when there is none or its
    remaining count is garbage; a garbage limit or reset is dropped on its own. `now` / `wall`:
    time.monotonic() / time.time() at the answer (for tests)."""
    if headers is None:
        return None
    now = time.monotonic() if now is None else now
    try:
        if headers.get(ANTHROPIC_REMAINING) is not None:
            remaining = _int(headers.get(ANTHROPIC_REMAINING))
            limit = _int(headers.get(ANTHROPIC_LIMIT))
            raw = headers.get(ANTHROPIC_RESET)
            at = parse_rfc3339(raw) if raw else None
            reset = None if at is None else at - (time.time() if wall is None else wall)
        elif headers.get(OPENAI_REMAINING) is not None:
            remaining = _int(headers.get(OPENAI_REMAINING))
            limit = _int(headers.get(OPENAI_LIMIT))
            raw = headers.get(OPENAI_RESET)
            reset = parse_duration(raw) if raw else None
        else:
            return None
    except Exception:  # an odd headers object: no quota rather than a failed call
        return None
    if remaining is None:
        return None
    if reset is not None and not (-MAX_RESET_S < reset < MAX_RESET_S):
        reset = None
    if limit is not None and limit < remaining:
        limit = None
    return Quota(remaining=remaining, limit=limit or None,
                 reset_s=None if reset is None else max(0.0, reset), seen_at=now)


def format_duration(seconds: float) -> str:
    """Go's Duration.String() for seconds >= 0, rounded up to the millisecond (a client that waits
    it out is never early): "250ms", "59.8s", "6m0s"."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms < 1000:
        return f"{ms}ms"
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    sec = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{sec}s"


def format_rfc3339(posix_s: float) -> str:
    """An RFC 3339 UTC time, rounded up to the millisecond: "2026-01-01T00:00:59.800Z"."""
    return datetime.fromtimestamp(math.ceil(posix_s * 1000 - 1e-6) / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def quota_headers(anthropic: bool, limit: int, remaining: int, reset_s: float, wall: float | None = None) -> dict[str, str]:
    """The three headers in one dialect; reset_s is seconds from now until the quota is full again."""
    reset_s = max(0.0, reset_s)
    if anthropic:
        at = (time.time() if wall is None else wall) + reset_s
        return {ANTHROPIC_LIMIT: str(limit), ANTHROPIC_REMAINING: str(remaining), ANTHROPIC_RESET: format_rfc3339(at)}
    return {OPENAI_LIMIT: str(limit), OPENAI_REMAINING: str(remaining), OPENAI_RESET: format_duration(reset_s)}
