"""OpenAI's Batch API (a JSONL file uploaded with purpose "batch", then `/v1/batches`) and OpenRouter's
inline batches (`requests` in the body of POST /batches, results in cursor pages), both through
the official `openai` SDK: `client.files` / `client.batches` for OpenAI, the SDK's own request
methods for OpenRouter's routes, which the SDK has no typed calls for. The same OpenAI code serves any
OpenAI-compatible endpoint with `/v1/files` and `/v1/batches` (Gemini's compatible endpoint, vLLM).
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletion

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
from watcher.providers.openai_provider import OpenAIProvider

ENDPOINT = "/v1/chat/completions"
TERMINAL = frozenset({"completed", "expired", "cancelled", "failed"})
RESULTS_TIMEOUT_S = 600.0


class OpenAIBatches:
    def __init__(self, provider: OpenAIProvider, inline: bool = False) -> None:
        self.p = provider
        self.client = provider.client
        self.inline = inline  # OpenRouter
        self.api = "openrouter" if inline else "openai"
        self.base = str(self.client.base_url).rstrip("/")
        self.url = safe_url(f"{self.base}/batches")

    def line(self, custom_id: str, req: Request) -> dict[str, Any]:
        body = self.p._params(req)
        headers = body.pop("extra_headers", None) or {}
        meta = headers.get(SIM_META_HEADER)
        if meta:
            body[SIM_META_FIELD] = json.loads(meta)
        if self.inline:
            return {"custom_id": custom_id, "body": body}
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    async def _call(self, make: Any, url: str | None = None, timeout: float | None = None) -> Any:
        return await sdk_call(openai, openai.OpenAIError, url or self.url, self.p._key,
                              timeout or self.p.cfg.timeout_s, make)

    def _info(self, b: dict[str, Any]) -> BatchInfo:
        status = str(b.get("status") or "")
        c = b.get("request_counts") or {}
        total, done, failed = int(c.get("total") or 0), int(c.get("completed") or 0), int(c.get("failed") or 0)
        # These APIs count failures as one number: the results tell errored from expired.
        counts = {"succeeded": done, "errored": failed, "expired": 0, "canceled": 0,
                  "processing": max(0, total - done - failed) if status not in TERMINAL else 0}
        if status == "expired" and not done:
            counts = {**counts, "errored": 0, "expired": total or failed}
        return BatchInfo(id=str(b["id"]), state=ENDED if status in TERMINAL else IN_PROGRESS, status=status,
                         counts=counts, created_at=float(b.get("created_at") or 0))

    async def _get_json(self, path: str, timeout: float | None = None) -> Any:
        text = await self._call(lambda: self.client.get(path, cast_to=str), f"{self.base}{path}", timeout)
        return json.loads(text)

    async def submit(self, lines: list[dict[str, Any]], key: str) -> BatchInfo:
        meta = {"watcher_key": key}
        if self.inline:
            body = {"endpoint": ENDPOINT, "model": self.p.model, "requests": lines, "metadata": meta}
            text = await self._call(lambda: self.client.post("/batches", body=body, cast_to=str))
            return self._info(json.loads(text))
        data = b"".join(json.dumps(x, separators=(",", ":")).encode() + b"\n" for x in lines)
        f = await self._call(lambda: self.client.files.create(file=("batch.jsonl", data, "application/jsonl"),
                                                              purpose="batch"), safe_url(f"{self.base}/files"))
        b = await self._call(lambda: self.client.batches.create(input_file_id=f.id, endpoint=ENDPOINT,
                                                                completion_window="24h", metadata=meta))
        return self._info(b.model_dump())

    async def retrieve(self, batch_id: str) -> BatchInfo:
        if self.inline:
            return self._info(await self._get_json(f"/batches/{batch_id}"))
        b = await self._call(lambda: self.client.batches.retrieve(batch_id), f"{self.url}/{batch_id}")
        return self._info(b.model_dump())

    async def find(self, key: str, created_after: float, n: int, known: set[str]) -> BatchInfo | None:
        page = await self._get_json("/batches?limit=100")
        cands = []
        for b in page.get("data") or []:
            if (b.get("metadata") or {}).get("watcher_key") == key:
                return self._info(b)
            info = self._info(b)
            total = int((b.get("request_counts") or {}).get("total") or 0)
            if info.id not in known and info.created_at >= created_after - 5 and total == n and not b.get("metadata"):
                cands.append(info)  # a server that drops metadata: the one unknown batch of this size
        return cands[0] if len(cands) == 1 else None

    async def results(self, batch_id: str) -> tuple[list[BatchResult], int]:
        if self.inline:
            return await self._inline_results(batch_id)
        b = await self._call(lambda: self.client.batches.retrieve(batch_id), f"{self.url}/{batch_id}")
        out: list[BatchResult] = []
        bad = 0
        for fid in (b.output_file_id, b.error_file_id):
            if not fid:
                continue
            resp = await self._call(lambda fid=fid: self.client.files.content(fid),
                                    safe_url(f"{self.base}/files/{fid}/content"), RESULTS_TIMEOUT_S)
            for raw in resp.text.splitlines():
                if raw.strip():
                    bad += self._parse(raw, out)
        return out, bad

    async def _inline_results(self, batch_id: str) -> tuple[list[BatchResult], int]:
        out: list[BatchResult] = []
        bad = 0
        cursor: str | None = None
        while True:
            q = f"?cursor={cursor}" if cursor else ""
            page = await self._get_json(f"/batches/{batch_id}/results{q}", RESULTS_TIMEOUT_S)
            for item in page.get("data") or []:
                bad += self._parse(item, out)
            cursor = page.get("next_cursor")
            if not cursor:
                return out, bad

    def _parse(self, raw: str | Any, out: list[BatchResult]) -> int:
        """Append one result line's outcome; 1 when it cannot be read."""
        try:
            d = json.loads(raw) if isinstance(raw, str) else raw
            cid = str(d["custom_id"])
        except (ValueError, KeyError, TypeError):
            return 1
        resp, err = d.get("response"), d.get("error")
        if isinstance(resp, dict) and resp.get("status_code") == 200 and isinstance(resp.get("body"), dict):
            body = resp["body"]
            try:
                comp = self.p._completion(ChatCompletion.model_validate(body), 0.0, bool(body.get("usage")))
            except (ValueError, KeyError, TypeError, AttributeError, IndexError):
                return 1
            out.append(BatchResult(cid, SUCCEEDED, comp))
            return 0
        code = str((err or {}).get("code") or "") if isinstance(err, dict) else ""
        if code in ("batch_expired", "expired"):
            out.append(BatchResult(cid, EXPIRED, error=code))
        elif code in ("batch_cancelled", "cancelled", "canceled"):
            out.append(BatchResult(cid, CANCELED, error=code))
        else:
            msg = (err or {}).get("message") if isinstance(err, dict) else None
            if not msg and isinstance(resp, dict):
                msg = json.dumps(resp.get("body"))[:200]
            out.append(BatchResult(cid, ERRORED, error=str(msg or "errored")[:300]))
        return 0

    async def cancel(self, batch_id: str) -> None:
        if self.inline:
            await self._call(lambda: self.client.delete(f"/batches/{batch_id}", cast_to=str), f"{self.url}/{batch_id}")
            return
        await self._call(lambda: self.client.batches.cancel(batch_id), f"{self.url}/{batch_id}/cancel")
