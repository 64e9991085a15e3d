"""Reading and writing the request-quota headers: Anthropic (RFC 3339 reset) and OpenAI (duration)."""

from __future__ import annotations

import httpx
import pytest

from watcher.providers.failures import error_from_status
from watcher.providers.quota_headers import (
    format_duration,
    format_rfc3339,
    parse_duration,
    parse_quota,
    parse_rfc3339,
    quota_headers,
)

WALL = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize("text,seconds", [
    ("1s", 1.0), ("6m0s", 360.0), ("250ms", 0.25), ("1h2m3.5s", 3723.5), ("12ms", 0.012),
    ("59.8s", 59.8), ("1.5µs", 1.5e-6), ("20us", 2e-5), ("0s", 0.0),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1", "1x", "s", "1s junk", "-1s", "1m 2s", "nan s"])
def test_garbage_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_rfc3339() -> None:
    assert parse_rfc3339("2026-01-01T00:00:00Z") == WALL
    assert parse_rfc3339("2026-01-01T01:00:30.5+01:00") == WALL + 30.5
    for bad in ("2026-01-01T00:00:00", "tomorrow", "2026-01-01", ""):
        assert parse_rfc3339(bad) is None


def test_both_dialects_are_read() -> None:
    an = httpx.Headers({"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
                        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:12Z"})
    q = parse_quota(an, now=10.0, wall=WALL)
    assert (q.remaining, q.limit, q.reset_s, q.reset_at) == (0, 50, 12.0, 22.0)
    oa = {"x-ratelimit-limit-requests": "5000", "x-ratelimit-remaining-requests": "4999",
          "x-ratelimit-reset-requests": "12ms"}
    q = parse_quota(oa, now=10.0)
    assert (q.remaining, q.limit) == (4999, 5000) and q.reset_at == pytest.approx(10.012)


def test_absent_and_garbage_values() -> None:
    assert parse_quota(None) is None
    assert parse_quota({}) is None
    assert parse_quota({"x-ratelimit-limit-tokens": "10"}) is None  # tokens only: not a request quota
    assert parse_quota({"x-ratelimit-remaining-requests": "lots"}) is None
    assert parse_quota({"x-ratelimit-remaining-requests": "-3"}) is None
    # A garbage limit or reset is dropped on its own; the remaining count still counts.
    q = parse_quota({"x-ratelimit-remaining-requests": "7", "x-ratelimit-limit-requests": "many",
                     "x-ratelimit-reset-requests": "soon"}, now=1.0)
    assert (q.remaining, q.limit, q.reset_s) == (7, None, None)
    q = parse_quota({"anthropic-ratelimit-requests-remaining": "7", "anthropic-ratelimit-requests-limit": "3",
                     "anthropic-ratelimit-requests-reset": "2126-01-01T00:00:00Z"}, now=1.0, wall=WALL)
    assert (q.limit, q.reset_s) == (None, None)  # a limit below remaining, a reset a century out
    # A reset already past is "now", not negative.
    q = parse_quota({"anthropic-ratelimit-requests-remaining": "1",
                     "anthropic-ratelimit-requests-reset": "2025-12-31T23:59:59Z"}, now=1.0, wall=WALL)
    assert q.reset_s == 0.0


def test_written_headers_read_back_never_early() -> None:
    assert [format_duration(s) for s in (0.25, 59.8, 360.0, 3723.5, 0.0001, 0.0)] == \
        ["250ms", "59.8s", "6m0s", "1h2m3.5s", "1ms", "0ms"]
    assert format_rfc3339(WALL + 0.0004) == "2026-01-01T00:00:00.001Z"
    for anthropic in (True, False):
        h = quota_headers(anthropic, 100, 3, 59.8004, wall=WALL)
        q = parse_quota(h, now=0.0, wall=WALL)
        assert (q.remaining, q.limit) == (3, 100)
        assert 59.8004 <= q.reset_s < 59.802


def test_a_429_carries_its_quota() -> None:
    h = httpx.Headers({"retry-after-ms": "1500", "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-limit-requests": "100", "x-ratelimit-reset-requests": "59s"})
    e = error_from_status(429, h, {"error": {"message": "slow down"}}, url="http://127.0.0.1:1/v1/chat/completions")
    assert e.retry_after == 1.5 and e.quota is not None and (e.quota.remaining, e.quota.reset_s) == (0, 59.0)
    assert error_from_status(429, httpx.Headers({"retry-after": "2"}), "x").quota is None
