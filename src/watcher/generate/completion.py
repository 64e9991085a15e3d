"""What one completion adds to an item, shared by the online worker and the batch loop: its token
counts, and the failure its finish reason or an empty text means before any verifier runs."""

from __future__ import annotations

from watcher.providers.base import Completion
from watcher.run.records import FAIL_CONTENT_FILTER, FAIL_EMPTY, FAIL_TRUNCATED, Usage


def add_usage(usage: Usage, comp: Completion) -> None:
    usage.input_tokens += comp.input_tokens
    usage.output_tokens += comp.output_tokens
    usage.cache_read_tokens += comp.cache_read_tokens
    usage.cache_write_tokens += comp.cache_write_tokens
    usage.reasoning_tokens += comp.reasoning_tokens
    usage.unknown_calls += 0 if comp.usage_known else 1


def completion_failure(comp: Completion, text: str) -> str | None:
    """Truncated, filtered or empty (`text` is the completion without its <think> part); None when the
    text is there to verify."""
    if comp.finish_reason == "length":
        return FAIL_TRUNCATED
    if comp.finish_reason == "content_filter":
        return FAIL_CONTENT_FILTER
    if not text.strip():
        return FAIL_EMPTY
    return None
