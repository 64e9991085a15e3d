"""`batches.jsonl`: the batch mode's ledger (DESIGN.md "Run directory"), its line shapes and its reader.

Workers append, one whole line each, fsync'ed before they go on:
  intent    {key, backend, worker, api, round, custom_ids, committed_usd}   before the submit call
  batch     {key, id, backend, worker, api, round, custom_ids, submitted_at, state, counts, committed_usd}
            right after the submit call returns, before anything else
  abandoned {key, why}            an intent no batch came of (the submit failed, or a restart found none)
  state     {id, state, status, counts}               when a poll sees the state or counts change
  ingested  {id, counts, malformed, cost_usd}         every result of the batch has been read
  cancel    {id}                                      a cancel was asked for
Every line carries `kind` and `t`. A batch is *in flight* from its batch line to its ingested line;
its `committed_usd` (an upper bound: every request writing max_tokens, at the batch price) counts
toward the run's ceiling until then, and an intent's until it is resolved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

INTENT, BATCH, ABANDONED, STATE, INGESTED, CANCEL = "intent", "batch", "abandoned", "state", "ingested", "cancel"


def batch_line(kind: str, **fields: Any) -> bytes:
    return orjson.dumps({"kind": kind, "t": time.time(), **fields}) + b"\n"


@dataclass
class BatchView:
    """One batch as the ledger tells it."""

    id: str
    key: str
    backend: str
    worker: int
    api: str
    round: int
    custom_ids: list[str]
    submitted_at: float
    committed_usd: float
    state: str = "in_progress"
    status: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    updated_at: float = 0.0
    ingested: bool = False
    malformed: int = 0
    cost_usd: float = 0.0
    cancel_asked: bool = False

    @property
    def in_flight(self) -> bool:
        return not self.ingested

    def summary(self, now: float | None = None) -> dict[str, Any]:
        """The public shape (status --json, headless, TUI): no custom_ids."""
        now = time.time() if now is None else now
        c = {k: int(self.counts.get(k, 0)) for k in ("succeeded", "errored", "expired", "canceled", "processing")}
        total = len(self.custom_ids)
        done = total - c["processing"] if self.counts else 0
        age = max(0.0, now - self.submitted_at)
        eta = None
        if not self.ingested and self.state != "ended" and 0 < done < total:
            eta = round(age * (total - done) / done, 1)  # at the provider's progress so far
        return {"id": self.id, "backend": self.backend, "api": self.api, "worker": self.worker,
                "state": "ingested" if self.ingested else self.state, "status": self.status,
                "requests": total, **c, "age_s": round(age, 1), "eta_s": eta,
                "committed_usd": 0.0 if self.ingested else round(self.committed_usd, 6),
                "cost_usd": round(self.cost_usd, 6), "malformed": self.malformed}


class BatchLedger:
    """The ledger read incrementally (complete lines only): workers, status, headless and the TUI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.intents: dict[str, dict[str, Any]] = {}  # key -> intent line, until resolved
        self.batches: dict[str, BatchView] = {}  # id -> view, in submission order
        self.resolved: set[str] = set()  # intent keys with a batch or abandoned line

    def poll(self) -> BatchLedger:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return self
        if size < self.offset:  # replaced: read again
            self.__init__(self.path)  # type: ignore[misc]
        if size == self.offset:
            return self
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            try:
                self._apply(orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
        self.offset += end
        return self

    def _apply(self, d: dict[str, Any]) -> None:
        kind = d["kind"]
        if kind == INTENT:
            if d["key"] not in self.resolved:
                self.intents[d["key"]] = d
        elif kind == BATCH:
            self.resolved.add(d["key"])
            self.intents.pop(d["key"], None)
            self.batches[d["id"]] = BatchView(
                id=d["id"], key=d["key"], backend=d["backend"], worker=int(d.get("worker", 0)), api=d.get("api", ""),
                round=int(d.get("round", 0)), custom_ids=list(d["custom_ids"]),
                submitted_at=float(d.get("submitted_at") or d["t"]), committed_usd=float(d.get("committed_usd", 0)),
                state=d.get("state", "in_progress"), status=d.get("status", ""), counts=dict(d.get("counts") or {}),
                updated_at=d["t"])
        elif kind == ABANDONED:
            self.resolved.add(d["key"])
            self.intents.pop(d["key"], None)
        elif kind in (STATE, INGESTED, CANCEL):
            b = self.batches.get(d["id"])
            if b is None:
                return
            b.updated_at = d["t"]
            if kind == CANCEL:
                b.cancel_asked = True
                return
            if d.get("counts"):
                b.counts = dict(d["counts"])
            if kind == STATE:
                b.state, b.status = d.get("state", b.state), d.get("status", b.status)
            else:
                b.ingested, b.state = True, "ended"
                b.malformed = int(d.get("malformed", 0))
                b.cost_usd = float(d.get("cost_usd", 0.0))

    def committed_usd(self) -> float:
        """Cost submitted and not yet priced: batches in flight and unresolved intents."""
        return (sum(b.committed_usd for b in self.batches.values() if b.in_flight)
                + sum(float(i.get("committed_usd", 0)) for i in self.intents.values()))

    def in_flight(self) -> list[BatchView]:
        return [b for b in self.batches.values() if b.in_flight]


def ledger_summary(path: Path | BatchLedger, recent: int = 20) -> dict[str, Any]:
    """What status, headless and the TUI show: counts, committed cost, the batches in flight first."""
    led = (path if isinstance(path, BatchLedger) else BatchLedger(path)).poll()
    views = list(led.batches.values())
    flying = [b for b in views if b.in_flight]
    now = time.time()
    return {"total": len(views), "in_flight": len(flying), "unresolved_intents": len(led.intents),
            "committed_usd": round(led.committed_usd(), 6),
            "requests_in_flight": sum(len(b.custom_ids) for b in flying),
            "batches": [b.summary(now) for b in (flying + [b for b in views if not b.in_flight])[:recent]]}
