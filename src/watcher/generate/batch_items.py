"""One item across batches: its attempts so far, and what a result does to it.

The verify loop is the online one (generate/worker.py `Worker.process`) spread over batches: a
completion is cleaned and verified; a pass is accepted, a failure gets its feedback retry in a later
submission while attempts remain, else the item is rejected with its best try. A request that
errored, expired, was canceled or whose result line could not be read is resubmitted, never
rejected: after `max_retries` resubmissions in a row, or `give_up_after_s` of failing, the item is
left pending for the next run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watcher.generate.completion import add_usage, completion_failure
from watcher.generate.jobs import WorkItem
from watcher.generate.jobs.base import Evaluation
from watcher.providers.base import Completion
from watcher.providers.batches import SUCCEEDED, BatchResult
from watcher.run.records import (
    FAIL_BELOW_MIN,
    FAIL_EMPTY,
    Attempt,
    Usage,
)
from watcher.verify.text import split_think

if TYPE_CHECKING:
    from watcher.generate.worker import Worker

# What applying a result leaves the item as.
ACCEPTED, REJECTED, RETRY, RESUBMIT, PARKED, NOTED = "accepted", "rejected", "retry", "resubmit", "parked", "noted"


def custom_id(item_id: str, seq: int) -> str:
    """The item id and its submission number: unique per request, and a valid id for every provider
    (Anthropic allows [a-zA-Z0-9_-]{1,64})."""
    return f"{item_id}-{seq}"


def split_custom_id(cid: str) -> tuple[str, int]:
    item, _, seq = cid.rpartition("-")
    return item, int(seq) if seq.isdigit() else 0


@dataclass
class ItemState:
    item: WorkItem
    used: int = 0  # highest submission number taken (intents included): the next is used + 1
    latest: int = 0  # highest submission number a batch was made with
    flight: str | None = None  # the batch (or intent key) it is in now
    history: list[tuple[str, Evaluation | None]] = field(default_factory=list)
    trace_hist: list[tuple[float | None, str]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    best: tuple[Evaluation, Completion] | None = None
    last_failure: str = FAIL_EMPTY
    last_comp: Completion | None = None
    resubmits: int = 0  # transport failures in a row
    failing_since: float | None = None
    ended: bool = False  # accepted, rejected or parked: nothing more to do this run
    online: bool = False  # mixed mode: its next try goes as an online call

    @property
    def ready(self) -> bool:
        return not self.ended and self.flight is None


class ItemJudge:
    """Applies results to items and writes their records through the worker."""

    def __init__(self, worker: Worker, price_share: float) -> None:
        self.w = worker
        self.share = price_share

    async def apply(self, st: ItemState, r: BatchResult | None, batch_id: str | None, final: bool = True) -> str:
        """One result of the item's latest submission (`final`), or of an earlier one replayed on a
        restart to rebuild its history (`final=False`: noted, nothing written)."""
        if r is None or r.outcome != SUCCEEDED or r.completion is None:
            return self._transport(st, final)
        comp = r.completion
        comp.cost_usd *= self.share  # the batch price
        return await self.completion(st, comp, batch_id, final)

    def _transport(self, st: ItemState, final: bool) -> str:
        if not final:
            return NOTED
        now = time.monotonic()
        st.resubmits += 1
        if st.failing_since is None:
            st.failing_since = now
        b = self.w.bcfg
        if st.resubmits > b.max_retries or now - st.failing_since >= b.give_up_after_s:
            st.ended = True
            self.w.left_pending += 1
            return PARKED
        return RESUBMIT

    async def completion(self, st: ItemState, comp: Completion, batch_id: str | None, final: bool = True) -> str:
        w, item = self.w, st.item
        st.resubmits, st.failing_since = 0, None
        st.last_comp = comp
        add_usage(st.usage, comp)
        st.cost += comp.cost_usd
        think, text = split_think(comp.text)
        reasoning = comp.reasoning or think
        failure = completion_failure(comp, text)
        model = w.bcfg.model
        if failure:
            st.attempts.append(Attempt(model=model, finish_reason=comp.finish_reason,
                                       finish_reason_raw=comp.finish_reason_raw, failure=failure,
                                       latency_s=round(comp.latency_s, 3)))
            st.last_failure = failure
            st.trace_hist.append((None, failure))
            st.history.append(("", None))
            return self._next(st, batch_id, final)
        ev = w.job.evaluate(item, comp, text)
        if w.judge_call is not None and ev.passed:
            ev, jcomp = await w.job.judge(item, ev, w.judge_call)  # type: ignore[attr-defined]
            if jcomp is not None:
                add_usage(st.usage, jcomp)
                st.cost += jcomp.cost_usd
        st.attempts.append(Attempt(model=model, finish_reason=comp.finish_reason,
                                   finish_reason_raw=comp.finish_reason_raw, score=ev.score,
                                   failure=None if ev.passed else FAIL_BELOW_MIN, latency_s=round(comp.latency_s, 3)))
        if ev.passed and final:
            w._accept(item, ev, comp, reasoning, st.attempts, st.usage, st.cost, st.trace_hist, batch_id=batch_id)
            st.ended = True
            return ACCEPTED
        if st.best is None or ev.score > st.best[0].score:
            st.best = (ev, comp)
        st.last_failure = FAIL_BELOW_MIN
        st.history.append((text, ev))
        st.trace_hist.append((ev.score, ev.detail))
        return self._next(st, batch_id, final)

    def _next(self, st: ItemState, batch_id: str | None, final: bool) -> str:
        if not final:
            return NOTED
        if len(st.attempts) < self.w.cfg.max_attempts:
            return RETRY
        self.w._reject(st.item, st.best, st.last_comp, st.last_failure, None, st.attempts, st.usage, st.cost,
                       batch_id=batch_id)
        st.ended = True
        return REJECTED

    def request(self, st: ItemState) -> Any:
        w = self.w
        req = w.job.request(st.item, w.bcfg.max_tokens, w.bcfg.temperature, w.ask_think, st.history)
        if st.item.system and not req.system:
            req.system = st.item.system
        return req
