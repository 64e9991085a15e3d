"""Anthropic Message Batches through the official SDK (`client.messages.batches.*`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import anthropic
from anthropic.types import Message

from watcher.providers.anthropic_provider import AnthropicProvider
from watcher.providers.base import SIM_META_HEADER, Request
from watcher.providers.batches import (
    CANCELED,
    ENDED,
    ERRORED,
    EXPIRED,
    IN_PROGRESS,
    SIM_META_FIELD,
    SUCCEEDED,
    BatchInfo,
    BatchResult,
)
from watcher.providers.failures import safe_url, sdk_call

RESULTS_TIMEOUT_S = 600.0  # a results file of 100,000 requests takes a while to stream


def _ts(v: Any) -> float:
    if isinstance(v, datetime):
        return v.timestamp()
    return 0.0


class AnthropicBatches:
    api = "anthropic"

    def __init__(self, provider: AnthropicProvider) -> None:
        self.p = provider
        self.client = provider.client
        self.url = safe_url(f"{str(self.client.base_url).rstrip('/')}/v1/messages/batches")

    def line(self, custom_id: str, req: Request) -> dict[str, Any]:
        params = self.p._params(req)
        headers = params.pop("extra_headers", None) or {}
        extra = params.pop("extra_body", None) or {}
        params.update(extra)  # the temperature the online call sends as an extra
        meta = headers.get(SIM_META_HEADER)
        if meta:
            params[SIM_META_FIELD] = json.loads(meta)
        return {"custom_id": custom_id, "params": params}

    async def _call(self, make: Any, url: str | None = None, timeout: float | None = None) -> Any:
        return await sdk_call(anthropic, anthropic.AnthropicError, url or self.url, self.p._key,
                              timeout or self.p.cfg.timeout_s, make)

    @staticmethod
    def _info(b: Any) -> BatchInfo:
        c = b.request_counts
        counts = {"succeeded": c.succeeded, "errored": c.errored, "expired": c.expired, "canceled": c.canceled,
                  "processing": c.processing}
        return BatchInfo(id=b.id, state=ENDED if b.processing_status == "ended" else IN_PROGRESS,
                         status=b.processing_status, counts=counts, created_at=_ts(b.created_at))

    async def submit(self, lines: list[dict[str, Any]], key: str) -> BatchInfo:
        # Message Batches keep no metadata: `find` recognises an unrecorded batch by time and size.
        b = await self._call(lambda: self.client.messages.batches.create(requests=lines))  # type: ignore[arg-type]
        return self._info(b)

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return self._info(await self._call(lambda: self.client.messages.batches.retrieve(batch_id),
                                           f"{self.url}/{batch_id}"))

    async def find(self, key: str, created_after: float, n: int, known: set[str]) -> BatchInfo | None:
        async def newest() -> list[Any]:
            page = await self.client.messages.batches.list(limit=100)
            return list(page.data)

        found = [self._info(b) for b in await self._call(newest)]
        cands = [b for b in found if b.id not in known and b.created_at >= created_after - 5
                 and sum(b.counts.values()) == n]
        return cands[0] if len(cands) == 1 else None

    async def results(self, batch_id: str) -> tuple[list[BatchResult], int]:
        url = f"{self.url}/{batch_id}/results"
        b = await self._call(lambda: self.client.messages.batches.retrieve(batch_id), f"{self.url}/{batch_id}")
        # Read the JSONL ourselves, not through the SDK's decoder: one bad line must not lose the rest.
        text: str = await self._call(lambda: self.client.get(b.results_url or url, cast_to=str),
                                     url, RESULTS_TIMEOUT_S)
        out: list[BatchResult] = []
        bad = 0
        for raw in text.splitlines():
            if not raw.strip():
                continue
            try:
                d = json.loads(raw)
                cid, res = str(d["custom_id"]), d["result"]
                kind = res["type"]
            except (ValueError, KeyError, TypeError):
                bad += 1
                continue
            if kind == "succeeded":
                try:
                    msg = Message.model_validate(res["message"])
                    comp = self.p._completion(msg, 0.0, bool(res["message"].get("usage")))
                except (ValueError, KeyError, TypeError, AttributeError):
                    bad += 1
                    continue
                out.append(BatchResult(cid, SUCCEEDED, comp))
            elif kind in ("expired", "canceled"):
                out.append(BatchResult(cid, EXPIRED if kind == "expired" else CANCELED, error=kind))
            else:
                err = (res.get("error") or {}).get("error") or {}
                out.append(BatchResult(cid, ERRORED, error=str(err.get("message") or err.get("type") or kind)[:300]))
        return out, bad

    async def cancel(self, batch_id: str) -> None:
        await self._call(lambda: self.client.messages.batches.cancel(batch_id), f"{self.url}/{batch_id}/cancel")
