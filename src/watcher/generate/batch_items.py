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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watcher.generate.completion import ItemProgress, take_completion
from watcher.providers.base import Completion
from watcher.providers.batches import SUCCEEDED, BatchResult

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
class ItemState(ItemProgress):
    used: int = 0  # highest submission number taken (intents included): the next is used + 1
    latest: int = 0  # highest submission number a batch was made with
    flight: str | None = None  # the batch (or intent key) it is in now
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
        w = self.w
        st.resubmits, st.failing_since = 0, None
        accepted = await take_completion(st, comp, w.job, w.bcfg.model, w.judge_call, accept=final)
        if accepted is not None:
            ev, reasoning = accepted
            w._accept(st, ev, reasoning, comp, batch_id=batch_id)
            st.ended = True
            return ACCEPTED
        return self._next(st, batch_id, final)

    def _next(self, st: ItemState, batch_id: str | None, final: bool) -> str:
        if not final:
            return NOTED
        if len(st.attempts) < self.w.cfg.max_attempts:
            return RETRY
        self.w._reject(st, batch_id=batch_id)
        st.ended = True
        return REJECTED

    def request(self, st: ItemState) -> Any:
        w = self.w
        req = w.job.request(st.item, w.bcfg.max_tokens, w.bcfg.temperature, w.ask_think, st.history)
        if st.item.system and not req.system:
            req.system = st.item.system
        return req
