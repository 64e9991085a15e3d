"""What one completion does to an item, shared by the online worker (`Worker.process`) and the batch
loop (`generate/batch_items.py`): its token counts and cost, the failure its finish reason or an
empty text means, then the verifier (and the judge), and the feedback kept for the next try."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from watcher.generate.jobs.base import Evaluation, WorkItem
from watcher.providers.base import Completion, Request
from watcher.run.records import (
    FAIL_BELOW_MIN,
    FAIL_CONTENT_FILTER,
    FAIL_EMPTY,
    FAIL_TRUNCATED,
    Attempt,
    Usage,
)
from watcher.verify.text import split_think


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


@dataclass
class ItemProgress:
    """What an item's attempts have built so far: the tries fed back to the next request, the trace's
    history, the attempt log, tokens and cost, the best try (for a reject) and the last failure."""

    item: WorkItem
    history: list[tuple[str, Evaluation | None]] = field(default_factory=list)
    trace_hist: list[tuple[float | None, str]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    best: tuple[Evaluation, Completion] | None = None
    last_failure: str = FAIL_EMPTY
    last_comp: Completion | None = None

    def count(self, comp: Completion) -> None:
        add_usage(self.usage, comp)
        self.cost += comp.cost_usd


async def take_completion(p: ItemProgress, comp: Completion, job: Any, model: str,
                          judge_call: Callable[[Request], Awaitable[Completion]] | None,
                          accept: bool = True) -> tuple[Evaluation, str | None] | None:
    """Apply one completion to the item: count it, verify its text, judge a pass. (evaluation,
    reasoning) when the item is accepted with it; None when the try failed, its feedback kept for the
    next one. `accept=False` (a batch result replayed after a restart) only rebuilds the history."""
    p.last_comp = comp
    p.count(comp)
    think, text = split_think(comp.text)
    failure = completion_failure(comp, text)
    if failure:
        p.attempts.append(Attempt(model=model, finish_reason=comp.finish_reason,
                                  finish_reason_raw=comp.finish_reason_raw, failure=failure,
                                  latency_s=round(comp.latency_s, 3)))
        p.last_failure = failure
        p.trace_hist.append((None, failure))
        p.history.append(("", None))
        return None
    ev = job.evaluate(p.item, comp, text)
    if judge_call is not None and ev.passed:
        ev, jcomp = await job.judge(p.item, ev, judge_call)
        if jcomp is not None:
            p.count(jcomp)
    p.attempts.append(Attempt(model=model, finish_reason=comp.finish_reason,
                              finish_reason_raw=comp.finish_reason_raw, score=ev.score,
                              failure=None if ev.passed else FAIL_BELOW_MIN, latency_s=round(comp.latency_s, 3)))
    if ev.passed and accept:
        return ev, comp.reasoning or think
    if p.best is None or ev.score > p.best[0].score:
        p.best = (ev, comp)
    p.last_failure = FAIL_BELOW_MIN
    p.history.append((text, ev))
    p.trace_hist.append((ev.score, ev.detail))
    return None
