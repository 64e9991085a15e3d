"""The one interface every LLM backend implements, and the shapes it speaks.

A Provider makes ONE call and raises ProviderError on failure; retries, rate limits and adaptive
concurrency live in `client.BackendClient`, so every retry is counted and shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from watcher.providers.quota_headers import Quota
from watcher.run.records import (
    FAIL_AUTH,
    FAIL_BAD_REQUEST,
    FAIL_BAD_RESPONSE,
    FAIL_CONNECTION,
    FAIL_NOT_FOUND,
    FAIL_OTHER,
    FAIL_RATE_LIMITED,
    FAIL_SERVER,
    FAIL_TIMEOUT,
)

ERROR_KINDS = (FAIL_RATE_LIMITED, FAIL_TIMEOUT, FAIL_CONNECTION, FAIL_SERVER, FAIL_AUTH, FAIL_NOT_FOUND,
               FAIL_BAD_REQUEST, FAIL_BAD_RESPONSE, FAIL_OTHER)
# Transient: the same call may work later. The rest are deterministic: retrying the call is no use.
RETRYABLE_KINDS = frozenset({FAIL_RATE_LIMITED, FAIL_TIMEOUT, FAIL_CONNECTION, FAIL_SERVER})


# What a simulated backend is told about a request, as JSON in this header. Only backends with
# `simulated = true` get it: the simulator answers from it and never reads prompt wording, and real
# models see exactly the prompts, nothing added for the simulator.
SIM_META_HEADER = "x-watcher-sim"


class SimMeta(TypedDict, total=False):
    job: str  # poetry | agentic | aba
    kind: str  # generate | retry (feedback turns follow) | judge
    group: str  # form, category or variant
    item: str  # the work item's id
    think: bool  # the prompt asks for a <think> section
    topic: str
    tone: str  # poetry
    language: str  # agentic scenario
    domain: str
    min_tool_calls: int
    tools: list[dict[str, Any]]  # agentic: the category's declared tool schemas
    budget_stated: bool  # aba: the variant's system prompt states the token budget
    token_budget: int


@dataclass
class Request:
    system: str | None
    messages: list[dict[str, Any]]  # {"role": "user"|"assistant", "content": str}
    max_tokens: int
    temperature: float
    thinking_budget: int = 0  # anthropic extended thinking; 0 = off
    reasoning_effort: str | None = None  # openai-style reasoning models
    # Neutral tool schemas {"name", "description", "parameters" (JSON schema)}; each provider converts.
    tools: list[dict[str, Any]] | None = None
    sim_meta: SimMeta | None = None  # filled by jobs; sent to simulated backends only (sim_headers)


def sim_headers(simulated: bool, req: Request) -> dict[str, str] | None:
    """The per-request `extra_headers` of a call: the sim metadata header, for simulated backends only."""
    if not simulated or not req.sim_meta:
        return None
    # ASCII JSON: header values must be latin-1, and topics may not be.
    return {SIM_META_HEADER: json.dumps(req.sim_meta, separators=(",", ":"))}


@dataclass
class Completion:
    text: str
    reasoning: str | None
    finish_reason: str  # normalised, one of records.FINISH_REASONS
    finish_reason_raw: str  # the provider's own word
    input_tokens: int
    output_tokens: int
    latency_s: float
    cost_usd: float
    model: str
    # Normalised tool calls: {"id": str, "name": str, "arguments": dict}
    tool_calls: list[dict[str, Any]] | None = None
    # Parts of input_tokens / output_tokens, as the provider reports them.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    usage_known: bool = True  # False: the response had no usage; tokens and cost are unknown, not 0
    quota: Quota | None = None  # the request-quota headers of the answer, when it had them


class ProviderError(Exception):
    """One failed call, classified. The message is short and never contains the API key."""

    def __init__(self, message: str, kind: str = FAIL_OTHER, status: int | None = None,
                 retry_after: float | None = None, retryable: bool | None = None, url: str = "",
                 quota: Quota | None = None) -> None:
        message = " ".join(message.split())  # one line: a multi-line message breaks the ✗ lines
        super().__init__(message)
        self.message = message
        self.kind = kind if kind in ERROR_KINDS else FAIL_OTHER
        self.status = status
        self.retry_after = retry_after
        self.retryable = (self.kind in RETRYABLE_KINDS) if retryable is None else retryable
        self.url = url  # scheme://host:port/path, never a query or credentials (failures.safe_url)
        self.quota = quota  # the request-quota headers of the answer (a 429's say when room comes back)

    def short(self) -> str:
        """A one-line label for heartbeats and the TUI: '429 Retry-After 2s', '529 overloaded', 'timeout'."""
        if self.kind == FAIL_RATE_LIMITED:
            head = str(self.status or 429)
            return f"{head} Retry-After {_fmt_s(self.retry_after)}" if self.retry_after is not None \
                else f"{head} rate limited"
        label = "overloaded" if self.status == 529 else self.kind.replace("_", " ")
        return f"{self.status} {label}" if self.status else label

    def __repr__(self) -> str:
        return f"ProviderError(kind={self.kind!r}, status={self.status!r}, retryable={self.retryable!r}, {self.message!r})"


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "?"
    return f"{s:.0f}s" if abs(s - round(s)) < 0.05 else f"{s:.1f}s"


_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{2,}|sk-ant-[A-Za-z0-9_\-]+|Bearer\s+\S+)")


def redact(text: str, *secrets: str) -> str:
    """Remove secrets (and anything that looks like a bearer/sk- key) from text meant for logs or errors."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return _KEYLIKE.sub("***", text)


_FINISH_MAP: dict[str, str] = {
    # Anthropic
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "refusal": "content_filter", "pause_turn": "other", "model_context_window_exceeded": "length",
    # OpenAI / OpenRouter
    "stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "tool_calls",
    "function_call": "tool_calls", "error": "error", "eos": "stop",
    # Gemini (upper case on the wire; matched lower-cased)
    "max_tokens_reached": "length", "safety": "content_filter", "recitation": "content_filter",
    "blocklist": "content_filter", "prohibited_content": "content_filter", "spii": "content_filter",
    "image_safety": "content_filter", "language": "content_filter",
    "malformed_function_call": "error", "unexpected_tool_call": "error",
    "finish_reason_unspecified": "other", "other": "other",
}


def normalise_finish_reason(raw: str | None) -> str:
    """Map a provider's finish/stop reason onto stop | length | content_filter | tool_calls | error | other."""
    if not raw:
        return "other"
    return _FINISH_MAP.get(str(raw).strip().lower(), "other")


def cost_usd(input_tokens: int, output_tokens: int, price_in: float, price_out: float, *,
             cache_read: int = 0, cache_write: int = 0, read_mult: float = 0.1, write_mult: float = 1.25) -> float:
    """Prices are USD per million tokens. `input_tokens` includes the cached ones: cache reads cost
    `read_mult` and cache writes `write_mult` times the input price (Anthropic: 0.1x and 1.25x)."""
    plain = max(0, input_tokens - cache_read - cache_write)
    tin = plain + cache_read * read_mult + cache_write * write_mult
    return (tin * price_in + output_tokens * price_out) / 1_000_000


class Provider(Protocol):
    name: str
    model: str

    async def complete(self, req: Request) -> Completion:
        """ONE call, no retries; raises ProviderError."""
        ...

    async def aclose(self) -> None:
        ...


def flatten_content(content: Any) -> str:
    """Message content as plain text: a string, or the text parts of a list of blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, str):
                parts.append(b)
            elif isinstance(b, dict) and isinstance(b.get("text"), str):
                parts.append(b["text"])
        return "\n".join(parts)
    return str(content)
