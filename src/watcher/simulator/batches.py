"""The simulator's batch APIs: Anthropic Message Batches, OpenAI Files + Batches, OpenRouter's inline batches.

Routes (the HTTP side is server.py; this module keeps the batches and renders the protocols):
  Anthropic   POST /v1/messages/batches {requests: [{custom_id, params}]}, GET /v1/messages/batches[/{id}],
              GET /v1/messages/batches/{id}/results (JSONL), POST /v1/messages/batches/{id}/cancel
  OpenAI      POST /v1/files (multipart, purpose=batch), GET /v1/files/{id}/content,
              POST /v1/batches {input_file_id, endpoint, completion_window, metadata},
              GET /v1/batches[/{id}], POST /v1/batches/{id}/cancel; results in output_file_id / error_file_id
  OpenRouter  POST /v1/batches {endpoint, model, requests: [{custom_id, body}], metadata} (202, "validating"),
              GET /v1/batches/{id}, GET /v1/batches/{id}/results?cursor=N ({data, next_cursor}),
              DELETE /v1/batches/{id} (cancel). OpenRouter documents the route both as /api/v1/batches
              (API reference) and /api/beta/batches (quickstart); the reference's form is served here.

Knobs (SimConfig): batch_delay_s (processing time; progress grows linearly over it), batch_error_rate
and batch_expire_rate (per request), batch_hold_s (the create call stores the batch, then waits this
long before answering: a client killed meanwhile has submitted without hearing back). Tests queue
per-batch scripts with `script_batches([{"errored": 1, "expired": 1, "malformed": 1, "expire": True}])`:
the first requests of the next batch error, then expire; `malformed` corrupts that many result lines;
`expire` expires the whole batch. Every submitted custom_id is counted (`submissions`).

A request's params may carry `x_watcher_sim` (the sim metadata a simulated backend sends in a header
online): batches have no per-request headers, so simulated backends put it in the body instead.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watcher.simulator.config import SimConfig

ANTHROPIC, OPENAI, OPENROUTER = "anthropic", "openai", "openrouter"
SIM_META_FIELD = "x_watcher_sim"
RESULTS_PAGE = 1000  # OpenRouter's results come in cursor pages


def iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if t else None


@dataclass
class SimBatch:
    id: str
    protocol: str
    requests: list[dict[str, Any]]  # {custom_id, params|body}
    created: float
    delay: float
    outcome: dict[str, str]  # custom_id -> succeeded | errored | expired
    expire_whole: bool = False
    malformed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    input_file_id: str | None = None
    canceled_at: float | None = None
    lines: list[bytes] | None = None  # results, made once when first read
    output_file_id: str | None = None
    error_file_id: str | None = None

    def ended(self, now: float) -> bool:
        return self.canceled_at is not None or now >= self.created + self.delay

    def progress(self, now: float) -> float:
        if self.ended(now):
            return 1.0
        return min(1.0, (now - self.created) / self.delay) if self.delay > 0 else 1.0

    def final(self, cid: str) -> str:
        """What a request ended as: its outcome, expired when the whole batch expired, canceled when
        the batch was canceled before it was done."""
        if self.expire_whole:
            return "expired"
        if self.canceled_at is not None and self.canceled_at < self.created + self.delay:
            return "canceled"
        return self.outcome[cid]

    def counts(self, now: float) -> dict[str, int]:
        n = len(self.requests)
        if not self.ended(now):
            done = int(n * self.progress(now))
            c = Counter(self.outcome[r["custom_id"]] for r in self.requests[:done])
            return {"processing": n - done, "succeeded": c["succeeded"], "errored": c["errored"],
                    "expired": 0, "canceled": 0}
        c = Counter(self.final(r["custom_id"]) for r in self.requests)
        return {"processing": 0, "succeeded": c["succeeded"], "errored": c["errored"],
                "expired": c["expired"], "canceled": c["canceled"]}


class BatchStore:
    """Batches and files, shared by the server's handler threads under one lock."""

    def __init__(self, cfg: SimConfig, rng: random.Random, lock: threading.Lock) -> None:
        self.cfg = cfg
        self._rng = rng
        self._lock = lock
        self.batches: dict[str, SimBatch] = {}
        self.files: dict[str, bytes] = {}
        self.submissions: Counter[str] = Counter()  # custom_id -> times submitted
        self._scripts: deque[dict[str, Any]] = deque()
        self._seq = 0
        # Ids are unique across simulator restarts too, as a provider's are: a run resumed against a
        # new simulator must not mistake a new batch for one the old simulator lost.
        self._tag = uuid.uuid4().hex[:8]

    def script(self, scripts: list[dict[str, Any]]) -> None:
        with self._lock:
            self._scripts.extend(scripts)

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._tag}{self._seq:06d}"

    def add_file(self, data: bytes) -> str:
        with self._lock:
            fid = self._next("file-sim-")
            self.files[fid] = data
            return fid

    def create(self, protocol: str, requests: list[dict[str, Any]], metadata: dict[str, Any] | None = None,
               model: str = "", input_file_id: str | None = None) -> SimBatch:
        prefix = {ANTHROPIC: "msgbatch_sim_", OPENAI: "batch_sim_", OPENROUTER: "batch_or_sim_"}[protocol]
        with self._lock:
            script = self._scripts.popleft() if self._scripts else {}
            outcome: dict[str, str] = {}
            errored, expired = int(script.get("errored", 0)), int(script.get("expired", 0))
            for i, r in enumerate(requests):
                cid = str(r.get("custom_id"))
                self.submissions[cid] += 1
                if i < errored:
                    outcome[cid] = "errored"
                elif i < errored + expired:
                    outcome[cid] = "expired"
                else:
                    x = self._rng.random()
                    outcome[cid] = ("errored" if x < self.cfg.batch_error_rate else
                                    "expired" if x < self.cfg.batch_error_rate + self.cfg.batch_expire_rate
                                    else "succeeded")
            b = SimBatch(id=self._next(prefix), protocol=protocol, requests=requests, created=time.time(),
                         delay=float(script.get("delay_s", self.cfg.batch_delay_s)), outcome=outcome,
                         expire_whole=bool(script.get("expire", False)), malformed=int(script.get("malformed", 0)),
                         metadata=dict(metadata or {}), model=model, input_file_id=input_file_id)
            self.batches[b.id] = b
            return b

    def get(self, batch_id: str, protocol: str | None = None) -> SimBatch | None:
        with self._lock:
            b = self.batches.get(batch_id)
        return b if b is not None and (protocol is None or b.protocol == protocol or
                                       {b.protocol, protocol} == {OPENAI, OPENROUTER}) else None

    def listing(self, protocols: tuple[str, ...]) -> list[SimBatch]:
        with self._lock:
            return sorted((b for b in self.batches.values() if b.protocol in protocols),
                          key=lambda b: b.id, reverse=True)  # newest first, as the providers list

    def cancel(self, b: SimBatch) -> None:
        with self._lock:
            if b.canceled_at is None and not b.ended(time.time()):
                b.canceled_at = time.time()

    def results(self, b: SimBatch, answer: Callable[[dict[str, Any], str], dict[str, Any]]) -> list[bytes]:
        """The result lines of an ended batch, one per request (made once: a second read is the same).
        `answer(request, final)` renders one line's object; `malformed` lines are cut in half."""
        with self._lock:
            if b.lines is not None:
                return b.lines
        lines = [json.dumps(answer(r, b.final(str(r.get("custom_id"))))).encode() for r in b.requests]
        ok = [i for i, r in enumerate(b.requests) if b.final(str(r.get("custom_id"))) == "succeeded"]
        for i in ok[: b.malformed]:  # an answer's line cut short: not JSON, its request unreadable
            lines[i] = lines[i][: max(1, len(lines[i]) // 2)]
        with self._lock:
            if b.lines is None:
                b.lines = lines
            return b.lines


# -- the protocols' batch objects ------------------------------------------------------------------
def anthropic_batch(b: SimBatch, base_url: str, now: float) -> dict[str, Any]:
    ended = b.ended(now)
    status = "ended" if ended else ("canceling" if b.canceled_at else "in_progress")
    ended_at = (b.canceled_at or b.created + b.delay) if ended else None
    return {"id": b.id, "type": "message_batch", "processing_status": status, "request_counts": b.counts(now),
            "created_at": iso(b.created), "expires_at": iso(b.created + 86400), "ended_at": iso(ended_at),
            "archived_at": None, "cancel_initiated_at": iso(b.canceled_at),
            "results_url": f"{base_url}/v1/messages/batches/{b.id}/results" if ended else None}


def _openai_status(b: SimBatch, now: float) -> str:
    if not b.ended(now):
        return "cancelling" if b.canceled_at else "in_progress"
    if b.expire_whole:
        return "expired"
    return "cancelled" if b.canceled_at is not None and b.canceled_at < b.created + b.delay else "completed"


def openai_batch(b: SimBatch, now: float) -> dict[str, Any]:
    c = b.counts(now)
    status = _openai_status(b, now)
    t = int(b.created)
    end = int(b.canceled_at or b.created + b.delay)
    return {"id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": None,
            "input_file_id": b.input_file_id or "", "completion_window": "24h", "status": status,
            "output_file_id": b.output_file_id, "error_file_id": b.error_file_id, "created_at": t,
            "in_progress_at": t, "expires_at": t + 86400, "finalizing_at": None,
            "completed_at": end if status == "completed" else None, "failed_at": None,
            "expired_at": end if status == "expired" else None,
            "cancelling_at": int(b.canceled_at) if b.canceled_at else None,
            "cancelled_at": end if status == "cancelled" else None,
            "request_counts": {"total": len(b.requests), "completed": c["succeeded"],
                               "failed": c["errored"] + c["expired"] + c["canceled"]},
            "metadata": b.metadata or None}


def openrouter_batch(b: SimBatch, now: float) -> dict[str, Any]:
    c = b.counts(now)
    status = _openai_status(b, now)
    if status == "in_progress" and now - b.created < 0.05:
        status = "validating"  # what a fresh submission answers (202)
    return {"id": b.id, "object": "batch", "endpoint": "/v1/chat/completions", "model": b.model,
            "completion_window": "24h", "status": status, "created_at": int(b.created),
            "finalized_at": int(b.canceled_at or b.created + b.delay) if b.ended(now) else None,
            "request_counts": {"total": len(b.requests), "completed": c["succeeded"],
                               "failed": c["errored"] + c["expired"] + c["canceled"]},
            "results": [], "error": None, "usage": None, "metadata": b.metadata or None}


def anthropic_result_line(cid: str, final: str, message: dict[str, Any] | None) -> dict[str, Any]:
    if final == "succeeded" and message is not None:
        return {"custom_id": cid, "result": {"type": "succeeded", "message": message}}
    if final == "errored":
        return {"custom_id": cid, "result": {"type": "errored", "error": {
            "type": "error", "error": {"type": "api_error", "message": "internal server error (simulated)"}}}}
    return {"custom_id": cid, "result": {"type": final}}


def openai_result_line(cid: str, final: str, body: dict[str, Any] | None, n: int) -> dict[str, Any]:
    rid = f"batch_req_sim_{n:08d}"
    if final == "succeeded" and body is not None:
        return {"id": rid, "custom_id": cid, "response": {"status_code": 200, "request_id": f"req_{n}",
                                                          "body": body}, "error": None}
    if final == "errored":
        return {"id": rid, "custom_id": cid, "response": {"status_code": 500, "request_id": f"req_{n}", "body": {
            "error": {"message": "internal server error (simulated)", "type": "server_error"}}}, "error": None}
    code = {"expired": "batch_expired", "canceled": "batch_cancelled"}[final]
    return {"id": rid, "custom_id": cid, "response": None,
            "error": {"code": code, "message": f"this request was not run: {code.replace('_', ' ')}"}}
