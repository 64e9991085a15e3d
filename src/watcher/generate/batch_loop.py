"""A worker in batch mode: its pending items go to the provider's batch API instead of one call at a time.

Exactly once across kill -9 (run/batches.py is the ledger): an intent line is fsync'ed before each
submit call, the batch line (id, custom_ids, submitted_at) right after the call returns, before
anything else. A restart resolves an intent without a batch line by looking the batch up (its
metadata key, or the one unknown batch of that size made since the intent), never by submitting
again; batches in flight are polled, not resubmitted; results are matched by custom_id. The
results of batches already read are read again on a restart to rebuild each pending item's history
(its feedback retries) and cost; items already accepted or rejected are skipped.

Pause stops new submissions (batches in flight are still polled and read); stop leaves batches in
flight for the next run, or cancels them when control.json says `cancel_batches`. The ceiling
counts committed cost: no batch is submitted whose upper-bound cost could pass it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from watcher.errors import DiskFullError
from watcher.generate.batch_items import (
    RESUBMIT,
    RETRY,
    ItemJudge,
    ItemState,
    custom_id,
    split_custom_id,
)
from watcher.generate.estimate import CHARS_PER_TOKEN
from watcher.providers.base import ProviderError
from watcher.providers.batch_factory import make_batch_api
from watcher.providers.batches import ENDED, LIMITS, BatchCaller, BatchInfo, chunks
from watcher.providers.breaker import BackendDown, CallStopped
from watcher.run.batches import (
    ABANDONED,
    BATCH,
    CANCEL,
    INGESTED,
    INTENT,
    STATE,
    BatchLedger,
    BatchView,
    batch_line,
)
from watcher.run.files import JsonlAppender, pid_alive, read_control
from watcher.run.records import FAIL_AUTH, FAIL_NOT_FOUND, TERMINAL_STATES, IdRound, read_heartbeat

if TYPE_CHECKING:
    from watcher.generate.worker import Worker

log = logging.getLogger("watcher.generate.batch")
PAUSE_ENV = "WATCHER_BATCH_PAUSE"  # tests: stop dead at a named point (once a run) so a kill -9 lands there
POINTS = ("before_submit", "submitted", "polling", "ingesting")


class BatchLoop:
    def __init__(self, worker: Worker, api_key: str) -> None:
        self.w = worker
        b = worker.bcfg
        self.api = make_batch_api(b, api_key)
        self.caller = BatchCaller(self.api, b)
        self.judge = ItemJudge(worker, b.batch_price_share)
        self.ledger = BatchLedger(worker.paths.batches)
        self.out = JsonlAppender(worker.paths.batches, fsync_interval=0)  # every line durable before we go on
        req_limit, self.max_bytes = LIMITS[self.api.api]
        self.max_requests = min(req_limit, b.batch_max_requests or req_limit)
        self.states: dict[str, ItemState] = {it.id: ItemState(it) for it in worker.queue}
        self.flying: dict[str, BatchView] = {}
        self.next_poll: dict[str, float] = {}
        self.pauses = {p for p in os.environ.get(PAUSE_ENV, "").split(",") if p}
        self.online_tasks: set[asyncio.Task] = set()

    # -- bookkeeping -------------------------------------------------------------------------------
    def _write(self, kind: str, **fields: Any) -> None:
        self.out.append(batch_line(kind, **fields))
        self.ledger.poll()

    def _sync_counts(self) -> None:
        w = self.w
        w.active = sum(1 for s in self.states.values() if s.flight is not None)
        # The worker's queue is what waits for the next submission: its state and pending read it.
        w.queue.clear()
        w.queue.extend(s.item for s in self.states.values() if s.ready)
        w.errors = self.caller.errors
        if self.caller.last_error:
            w.client.last_error, w.client.last_error_at = self.caller.last_error, self.caller.last_error_at

    async def _pause_point(self, point: str) -> None:
        if point not in self.pauses:
            return
        marker = self.w.paths.workers / f"{self.w.worker_id}.pause-{point}"
        if marker.exists():
            return  # once a run: the restart after the kill goes on
        marker.write_text(str(os.getpid()))
        log.warning("worker %d: paused at %s (%s)", self.w.worker_id, point, PAUSE_ENV)
        while True:
            await asyncio.sleep(3600)

    def _mine(self, cids: list[str]) -> list[tuple[ItemState, int]]:
        out = []
        for cid in cids:
            item, seq = split_custom_id(cid)
            st = self.states.get(item)
            if st is not None:
                out.append((st, seq))
        return out

    # -- restart: read the ledger, resolve intents, replay ended batches ---------------------------
    def _reject_rounds(self) -> dict[str, int]:
        import msgspec

        dec = msgspec.json.Decoder(IdRound)
        out: dict[str, int] = {}
        try:
            data = self.w.paths.rejects.read_bytes()
        except FileNotFoundError:
            return out
        for line in data.splitlines():
            try:
                r = dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
            if r.id in self.states:
                out[r.id] = max(out.get(r.id, -1), r.round)
        return out

    async def restore(self) -> None:
        self.ledger.poll()
        rejected = self._reject_rounds()
        for d in self.ledger.intents.values():
            for st, seq in self._mine(d["custom_ids"]):
                st.used = max(st.used, seq)
        for b in self.ledger.batches.values():
            for st, seq in self._mine(b.custom_ids):
                st.used = max(st.used, seq)
        for key, d in list(self.ledger.intents.items()):
            if self._mine(d["custom_ids"]):
                await self._resolve(key, d)
        for b in list(self.ledger.batches.values()):
            mine = [(st, seq) for st, seq in self._mine(b.custom_ids) if b.round > rejected.get(st.item.id, -1)]
            for st, seq in mine:
                st.latest = max(st.latest, seq)
        for b in list(self.ledger.batches.values()):
            if not any(b.round > rejected.get(st.item.id, -1) for st, _ in self._mine(b.custom_ids)):
                continue
            if not (b.ingested or b.state == ENDED):
                self._fly(b)
                continue
            try:
                await self._ingest(b)
            except ProviderError as e:
                log.warning("worker %d: results of batch %s unreadable: %s", self.w.worker_id, b.id, e)
                if e.kind == FAIL_NOT_FOUND:
                    await self._lost(b)  # gone: its latest requests go out again
                else:
                    self._fly(b)  # read when the provider answers again

    async def _resolve(self, key: str, d: dict[str, Any]) -> None:
        known = set(self.ledger.batches)
        info = await self.caller(lambda: self.api.find(key, float(d["t"]), len(d["custom_ids"]), known))
        if info is None:
            self._write(ABANDONED, key=key, why="no batch was made of it")
            return
        log.info("worker %d: intent %s was submitted as %s: adopting it", self.w.worker_id, key, info.id)
        self._record(d, info)

    def _record(self, intent: dict[str, Any], info: BatchInfo) -> None:
        fields = {k: intent[k] for k in ("key", "backend", "worker", "api", "round", "custom_ids", "committed_usd")}
        self._write(BATCH, id=info.id, submitted_at=info.created_at or time.time(), state=info.state,
                    status=info.status, counts=info.counts, **fields)
        self._fly(self.ledger.batches[info.id])

    def _fly(self, b: BatchView) -> None:
        self.flying[b.id] = b
        self.next_poll[b.id] = 0.0
        for st, seq in self._mine(b.custom_ids):
            if seq == st.latest and not st.ended:
                st.flight = b.id

    # -- submitting --------------------------------------------------------------------------------
    def _committed(self, line: dict[str, Any]) -> float:
        """Upper bound of one request's cost at the batch price: its input, and max_tokens out."""
        b = self.w.bcfg
        body = line.get("params") or line.get("body") or {}
        tin = len(str(body.get("messages", ""))) / CHARS_PER_TOKEN + len(str(body.get("system", ""))) / CHARS_PER_TOKEN
        # The request's own output cap (aba sends its max_output_tokens), else the backend's.
        tout = int(body.get("max_tokens") or body.get("max_completion_tokens") or b.max_tokens)
        return (tin * b.price_in + tout * b.price_out) / 1_000_000 * b.batch_price_share

    def _may_submit(self) -> bool:
        w = self.w
        return not (w.stopping() or w.control["paused"])

    async def submit_ready(self) -> None:
        ready = [s for s in self.states.values() if s.ready and not s.online]
        if not ready or not self._may_submit():
            return
        pairs = [(s, self.api.line(custom_id(s.item.id, s.used + 1), self.judge.request(s))) for s in ready]
        lines = [(line["custom_id"], line) for _, line in pairs]
        by_cid = {line["custom_id"]: s for s, line in pairs}
        for chunk in chunks(lines, self.max_requests, self.max_bytes):
            if not self._may_submit():
                return
            chunk = self._within_budget(chunk)
            if not chunk:
                return
            await self._submit([by_cid[c] for c, _ in chunk], [x for _, x in chunk])

    def _within_budget(self, chunk: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
        budget = self.w.budget
        if budget.ceiling <= 0:
            return chunk
        room = budget.ceiling - budget.spent(self.ledger.poll().committed_usd())
        keep = []
        for cid, line in chunk:
            room -= self._committed(line)
            if room < 0:
                break
            keep.append((cid, line))
        if len(keep) < len(chunk):
            log.info("worker %d: ceiling: %d of %d requests fit under it", self.w.worker_id, len(keep), len(chunk))
            if not keep and not self.flying and not self._others_in_flight():
                # Nothing in flight anywhere can come back under its bound and free room: the run stops here.
                self.w.budget_hit = True
                self.w.budget_next_usd = self._committed(chunk[0][1])
        return keep

    def _others_in_flight(self) -> bool:
        """Another live worker's batch (or submit under way) is counted at its upper bound; it may come
        back cheaper and free room, so a request that does not fit now waits for it rather than stop."""
        w = self.w
        led = self.ledger.poll()
        gone = set(w.control["stop_workers"])
        owners = [(b.worker, b.backend) for b in led.in_flight()]
        owners += [(int(i.get("worker", -1)), str(i.get("backend", ""))) for i in led.intents.values()]
        return any(o != w.worker_id and o not in gone and b in w.cfg.backends and self._polling(o) for o, b in owners)

    def _polling(self, worker_id: int) -> bool:
        """That worker is alive and still working: its batches will come back (a batch left by a
        worker that is gone waits for the next run, so nothing here waits on it)."""
        hb = read_heartbeat(self.w.paths.heartbeat(worker_id))
        return hb is not None and hb.state not in TERMINAL_STATES and pid_alive(hb.pid)

    async def _submit(self, sts: list[ItemState], lines: list[dict[str, Any]]) -> None:
        w = self.w
        key = uuid.uuid4().hex
        cids = [x["custom_id"] for x in lines]
        intent = {"key": key, "backend": w.backend_name, "worker": w.worker_id, "api": self.api.api,
                  "round": w.round, "custom_ids": cids, "committed_usd": round(sum(map(self._committed, lines)), 8)}
        for st in sts:
            st.used += 1
            st.flight = key
        self._write(INTENT, **intent)
        intent["t"] = time.time()
        await self._pause_point("before_submit")
        try:
            info = await self.api.submit(lines, key)
        except ProviderError as e:
            self.caller.errors += 1
            self.caller.last_error, self.caller.last_error_at = e.message[:300], time.time()
            self.caller.breaker.on_failure(e)
            # A transport failure may have reached the provider: look before anything is sent again.
            found = None
            if e.retryable:
                try:
                    found = await self.caller(lambda: self.api.find(key, intent["t"] - 1, len(cids),
                                                                     set(self.ledger.batches)))
                except ProviderError:
                    found = None
            if found is None:
                self._write(ABANDONED, key=key, why=e.message[:200])
                for st in sts:
                    st.flight = None
                if e.retryable:
                    await asyncio.sleep(min(5.0, w.bcfg.batch_poll_s))
                return
            info = found
        await self._pause_point("submitted")
        for st, seq in self._mine(cids):
            st.latest = seq
        self._record(intent, info)
        log.info("worker %d: submitted batch %s (%d requests) to %s", w.worker_id, info.id, len(cids), self.api.api)

    # -- polling and reading results ---------------------------------------------------------------
    async def poll(self) -> None:
        now = time.monotonic()
        for bid, b in list(self.flying.items()):
            if now < self.next_poll.get(bid, 0.0):
                continue
            self.next_poll[bid] = now + self.w.bcfg.batch_poll_s
            await self._pause_point("polling")
            try:
                info = await self.caller(lambda bid=bid: self.api.retrieve(bid))
            except ProviderError as e:  # polled again later; the breaker gives the backend up if it stays so
                log.warning("worker %d: poll of batch %s failed: %s", self.w.worker_id, bid, e)
                if e.kind == FAIL_NOT_FOUND:
                    await self._lost(b)
                continue
            if info.state != b.state or info.counts != b.counts or info.status != b.status:
                self._write(STATE, id=bid, state=info.state, status=info.status, counts=info.counts)
            if info.state == ENDED:
                try:
                    await self._ingest(self.ledger.batches[bid])
                except ProviderError as e:
                    log.warning("worker %d: results of batch %s unreadable now: %s", self.w.worker_id, bid, e)
                    self.flying[bid] = b

    async def _ingest(self, b: BatchView) -> None:
        mine = [(st, seq) for st, seq in self._mine(b.custom_ids) if not st.ended]
        self.flying.pop(b.id, None)
        if not mine:
            if not b.ingested:
                self._write(INGESTED, id=b.id, counts=b.counts, malformed=0, cost_usd=0.0)
            return
        results, bad = await self.caller(lambda: self.api.results(b.id))
        by = {r.custom_id: r for r in results}
        if bad:
            log.warning("worker %d: batch %s: %d result lines could not be read (their items are resubmitted)",
                        self.w.worker_id, b.id, bad)
        cost = 0.0
        first = True
        for st, seq in mine:
            final = seq == st.latest
            before = st.cost
            r = by.get(custom_id(st.item.id, seq))
            verdict = await self.judge.apply(st, r, b.id, final)
            cost += st.cost - before
            if final:
                st.flight = None
                if verdict in (RETRY, RESUBMIT) and self.w.bcfg.batch_retries == "online":
                    st.online = True
            if first:
                first = False
                await self._pause_point("ingesting")
        if not b.ingested:
            self._write(INGESTED, id=b.id, counts=b.counts, malformed=bad, cost_usd=round(cost, 8))

    async def _lost(self, b: BatchView) -> None:
        """The provider no longer knows the batch (deleted; a restarted simulator): nothing of it will
        come back, so its requests are resubmitted under new custom_ids."""
        self.flying.pop(b.id, None)
        if b.ingested:
            return  # read before: only the history it held is lost
        self._write(STATE, id=b.id, state=ENDED, status="lost", counts=b.counts)
        for st, seq in self._mine(b.custom_ids):
            if seq == st.latest and not st.ended:
                st.flight = None
                await self.judge.apply(st, None, b.id)
        self._write(INGESTED, id=b.id, counts=b.counts, malformed=0, cost_usd=0.0)

    async def cancel_in_flight(self) -> None:
        for bid in list(self.flying):
            try:
                await self.caller(lambda bid=bid: self.api.cancel(bid))
                self._write(CANCEL, id=bid)
            except (ProviderError, BackendDown) as e:
                log.warning("worker %d: cancel of batch %s failed: %s", self.w.worker_id, bid, e)

    # -- mixed mode: retries online ----------------------------------------------------------------
    def _start_online(self) -> None:
        if self.w.stopping() or self.w.control["paused"]:
            return
        limit = self.w.bcfg.concurrency
        for st in self.states.values():
            if len(self.online_tasks) >= limit:
                return
            if st.ready and st.online:
                st.flight = "online"
                t = asyncio.create_task(self._online(st))
                self.online_tasks.add(t)
                t.add_done_callback(self.online_tasks.discard)

    async def _online(self, st: ItemState) -> None:
        w = self.w
        try:
            while not st.ended:
                try:
                    comp = await w.client.call(self.judge.request(st), stopping=w.stopping)
                except ProviderError as e:
                    st.ended = True
                    w.left_pending += 1
                    log.warning("item %s left pending: %s", st.item.id, e)
                    return
                await self.judge.completion(st, comp, None)
        except CallStopped:
            pass  # pending: counted when the loop ends
        except BackendDown as e:
            w.fatal = w.fatal or f"backend {w.backend_name} down: {e.reason}"
        finally:
            st.flight = None

    # -- the loop ----------------------------------------------------------------------------------
    def _finished(self) -> bool:
        return not self.flying and not self.online_tasks and not any(s.ready for s in self.states.values())

    async def run(self) -> None:
        w = self.w
        try:
            await self.restore()
            while True:
                self._sync_counts()
                if w.stopping() and not w.budget_hit:
                    break
                if (not self.flying and w.budget.reached(self.ledger.poll().committed_usd())
                        and not self._others_in_flight()):
                    w.budget_hit = True
                if not w.budget_hit:
                    await self.submit_ready()
                    self._start_online()
                await self.poll()
                if self._finished() or (w.budget_hit and not self.flying and not self.online_tasks):
                    break
                await asyncio.sleep(min(0.2, w.bcfg.batch_poll_s))
            if read_control(w.paths.control)["cancel_batches"] and self.flying:
                await self.cancel_in_flight()
            if self.flying:
                log.info("worker %d: %d batches left in flight (%s); the next run polls them",
                         w.worker_id, len(self.flying), ", ".join(self.flying))
        except BackendDown as e:
            key = f" (API key refused: check {w.bcfg.api_key_env})" if e.kind == FAIL_AUTH else ""
            w.fatal = f"backend {w.backend_name} down{key}: {e.reason}"
        except CallStopped:
            pass
        except DiskFullError as e:
            w.fatal = w.fatal or str(e)  # the items stay pending: what was not written is read again
        finally:
            for t in list(self.online_tasks):
                t.cancel()
            w.left_pending += sum(1 for s in self.states.values() if not s.ended)
            w.active = 0
            w.queue.clear()
            try:
                self.out.close()
            except DiskFullError as e:
                w.fatal = w.fatal or str(e)
            await self.api.p.aclose()  # type: ignore[attr-defined]
