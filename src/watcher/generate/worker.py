"""One generation worker process: `watcher worker --run-dir DIR --worker-id K`.

It owns one shard of one backend's items (layout.json), keeps N items in flight, verifies each
completion, retries with the failing rubric items as feedback, and appends accepted and rejected
records. It writes a heartbeat at least every second and honours control.json (pause, stop).

Exit codes: 0 its share is done or it was told to stop; 4 a fatal problem no restart can fix
(missing or refused API key, bad config) — the supervisor marks it failed instead of restarting.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

from watcher.config import RunConfig, get_api_key, job_judge, load_config
from watcher.errors import EXIT_DISK_FULL, EXIT_FAILED, EXIT_FATAL, ConfigError, DiskFullError
from watcher.generate.batch_loop import BatchLoop
from watcher.generate.budget import Budget
from watcher.generate.completion import ItemProgress, add_usage, take_completion
from watcher.generate.jobs import WorkItem, make_job
from watcher.generate.jobs.base import Evaluation
from watcher.generate.judge_cache import JudgeCache
from watcher.generate.plan import build_plan, load_resume_state, shard
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.generate.watchdog import watch_owner
from watcher.providers.base import Completion, ProviderError
from watcher.providers.breaker import BackendDown, CallStopped
from watcher.run.files import JsonlAppender, append_event, atomic_write_json, read_control, read_json
from watcher.run.lock import SlotLock
from watcher.run.paths import RunPaths
from watcher.run.records import (
    FAIL_AUTH,
    FAIL_BAD_REQUEST,
    FAIL_BELOW_MIN,
    Accepted,
    Attempt,
    Heartbeat,
    Rejected,
    Usage,
    encode_line,
    utc_now,
)

log = logging.getLogger("watcher.generate.worker")


class Worker:
    def __init__(self, run_dir: Path, worker_id: int) -> None:
        self.worker_id = worker_id
        cfg_path = run_dir / "config.toml"
        self.cfg: RunConfig = load_config(cfg_path)[0]
        self.paths = RunPaths(run_dir, self.cfg.output)
        layout = read_json(self.paths.layout, {}) or {}
        me = (layout.get("workers") or {}).get(str(worker_id))
        if not me:
            raise ConfigError(f"{self.paths.layout}: no entry for worker {worker_id}")
        self.backend_name: str = me["backend"]
        self.round: int = int(layout.get("round", 0))
        self.bcfg = self.cfg.backends[self.backend_name]
        self.job = make_job(self.cfg)
        mine = shard(build_plan(self.cfg, self.job), self.backend_name, int(me["shard"]), int(me["shards"]))
        state = load_resume_state(self.paths.dataset, self.paths.rejects, self.round, self.cfg.job)
        self.share = len(mine)
        self.queue: deque[WorkItem] = deque(state.pending(mine, self.cfg.resume_retries))
        self.done = sum(1 for it in mine if it.id in state.accepted)
        self.rejected = 0
        self.errors = 0
        self.active = 0
        self.state = "starting"
        self.fatal: str | None = None
        self.hard_stop = False
        self.left_pending = 0  # items this process gave up on for transport reasons: pending for resume
        self.requeued: dict[str, int] = {}  # item id -> times put back after a deterministic failure
        self.stop_seen_at: float | None = None
        self.runners: list[asyncio.Task] = []
        self.started_at = time.time()
        self.control = read_control(self.paths.control)
        rpm_share = 1.0 / max(1, int(me["shards"]))
        from watcher.providers.client import make_client

        self.client = make_client(self.backend_name, self.bcfg, get_api_key(self.backend_name, self.bcfg),
                                  rpm_share=rpm_share)
        # poetry, agentic: an optional LLM judge on another backend blends its 0-1 score into the
        # verifier's; its replies are cached in the run dir, so a resume does not pay for them twice.
        self.judge_call = None
        self.judge_cache: JudgeCache | None = None
        judge = job_judge(self.cfg)
        if judge is not None and hasattr(self.job, "judge"):
            jb = self.cfg.backends[judge.backend]
            self.judge_cache = JudgeCache(self.paths.judge_cache)
            self.judge_call = self.judge_cache.wrap(make_client(judge.backend, jb, get_api_key(judge.backend, jb),
                                                                rpm_share=rpm_share).call)
        # Backends with native reasoning give the natural trace themselves; others are asked for <think>.
        native = self.bcfg.thinking_budget > 0 or bool(self.bcfg.reasoning_effort)
        self.ask_think = self.cfg.request_thinking and not native
        self.dataset = JsonlAppender(self.paths.dataset, on_change=self._file_changed(self.paths.dataset))
        self.rejects = JsonlAppender(self.paths.rejects, on_change=self._file_changed(self.paths.rejects))
        self.record_backend = "sim" if self.bcfg.simulated else self.backend_name
        self.budget = Budget.for_run(self.paths, self.cfg)  # the run's ceiling, shared through the records
        self.budget_hit = False
        self.budget_next_usd: float | None = None  # batch mode: the bound of the request that did not fit

    def _file_changed(self, path: Path):
        def note(what: str) -> None:
            log.warning("%s was %s under worker %d: appending to the file now at that path",
                        path, what, self.worker_id)
            append_event(self.paths.dir, "file_changed", worker=self.worker_id, file=path.name, change=what)
        return note

    # -- control and heartbeat -------------------------------------------------------------
    def stopping(self) -> bool:
        return (self.hard_stop or self.control["stop"] or self.fatal is not None or self.budget_hit
                or self.worker_id in self.control["stop_workers"])

    def current_state(self) -> str:
        if self.fatal:
            return "failed"
        if self.stopping():
            return "stopping" if self.active else "stopped"
        if self.control["paused"]:
            return "pausing" if self.active else "paused"
        if not self.queue and not self.active:
            return "done"
        return "running"

    def heartbeat(self) -> None:
        c = self.client
        hb = Heartbeat(
            worker_id=self.worker_id, pid=os.getpid(), backend=self.backend_name, model=self.bcfg.model,
            state=self.state, in_flight=self.active, concurrency=int(getattr(c, "concurrency", 0)),
            done=self.done, rejected=self.rejected, errors=int(getattr(c, "errors", 0)) + self.errors,
            rate_limit_waits=int(getattr(c, "rate_limit_waits", 0)),
            rate_limited_until=getattr(c, "rate_limited_until", None),
            last_error=self.fatal or getattr(c, "last_error", None),
            last_error_at=getattr(c, "last_error_at", None), share=self.share,
            retries=int(getattr(c, "retries", 0)), pending=len(self.queue) + self.active + self.left_pending,
            **_breaker_fields(getattr(c, "breaker", None)),
            budget_hit=self.budget_hit, budget_next_usd=self.budget_next_usd,
            started_at=self.started_at, updated_at=time.time(),
        )
        try:
            atomic_write_json(self.paths.heartbeat(self.worker_id), _struct_dict(hb))
        except DiskFullError as e:
            self.fatal = self.fatal or str(e)  # no room to report: stop rather than work unseen

    async def _housekeeping(self) -> None:
        last_hb = 0.0
        while True:
            self.control = read_control(self.paths.control)
            self.state = self.current_state()
            now = time.monotonic()
            if now - last_hb >= min(self.cfg.heartbeat_s, 1.0) / 2:
                self.heartbeat()
                last_hb = now
            self.dataset.maybe_sync()
            self.rejects.maybe_sync()
            self._enforce_grace()
            await asyncio.sleep(0.2)

    def _enforce_grace(self) -> None:
        """Stop means stop: in-flight calls get stop_grace_s, then are cancelled (their items stay pending)."""
        if not self.stopping() or self.hard_stop:
            return
        now = time.monotonic()
        if self.stop_seen_at is None:
            self.stop_seen_at = now
        elif now - self.stop_seen_at >= self.cfg.stop_grace_s and self.active:
            log.info("worker %d: stop grace of %gs over; cancelling %d in-flight items (left pending)",
                     self.worker_id, self.cfg.stop_grace_s, self.active)
            self.hard_stop = True
            for t in self.runners:
                t.cancel()

    # -- the item loop ----------------------------------------------------------------------
    async def _runner(self) -> None:
        while True:
            while self.control["paused"] and not self.stopping():
                await asyncio.sleep(0.1)
            if self.stopping() or not self.queue:
                return
            if self.budget.reached():  # spent cost hit the ceiling: take nothing new, in-flight calls finish
                self.budget_hit = True
                return
            item = self.queue.popleft()
            self.active += 1
            try:
                await self.process(item)
            except DiskFullError as e:
                self.fatal = self.fatal or str(e)  # the item stays pending: nothing of it was written
                self.queue.appendleft(item)
            finally:
                self.active -= 1

    async def process(self, item: WorkItem) -> None:
        p = ItemProgress(item)
        last_error = None
        model = self.bcfg.model
        transport_failed = False
        deadline = time.monotonic() + item_deadline_s(self.bcfg.item_deadline_s, self.cfg.max_attempts,
                                                      self.bcfg.timeout_s)
        for _n in range(self.cfg.max_attempts):
            if self.stopping():
                self.left_pending += 1
                return  # no new attempt after a stop: the item stays pending
            req = self.job.request(item, self.bcfg.max_tokens, self.bcfg.temperature, self.ask_think, p.history)
            if item.system and not req.system:
                req.system = item.system
            try:
                comp = await self.client.call(req, deadline=deadline, stopping=self.stopping)
            except CallStopped:
                self.left_pending += 1
                return
            except BackendDown as e:
                key = f" (API key refused: check {self.bcfg.api_key_env})" if e.kind == FAIL_AUTH else ""
                self.fatal = f"backend {self.backend_name} down{key}: {e.reason}"
                self.left_pending += 1
                return
            except ProviderError as e:
                if e.retryable and time.monotonic() < deadline:
                    # Its tries ran out on transient trouble: the next attempt may get through.
                    transport_failed = True
                    continue
                if self._call_failed(item, e):
                    return
                p.attempts.append(Attempt(model=model, finish_reason="error", failure=e.kind, error=str(e)[:300]))
                p.last_failure, last_error = e.kind, str(e)[:300]
                transport_failed = False
                break  # the provider refused this item alone: reject it with the reason
            transport_failed = False
            accepted = await take_completion(p, comp, self.job, model, self.judge_call)
            if accepted is not None:
                ev, reasoning = accepted
                self._accept(p, ev, reasoning, comp)
                return
        if self.hard_stop:
            return
        if transport_failed:  # transport trouble never rejects an item: it stays pending
            self.left_pending += 1
            log.warning("item %s left pending after %d attempts failed in transport", item.id, self.cfg.max_attempts)
            return
        self._reject(p, last_error)

    def _call_failed(self, item: WorkItem, e: ProviderError) -> bool:
        """A call of `item` failed for good. True: the item stays pending (transport trouble, or a
        failure that may be the backend's rather than the item's); False: reject it."""
        if e.kind == FAIL_BAD_REQUEST and self.client.breaker.successes > 0:
            return False  # other calls went through: this request itself is refused
        if e.retryable:
            self.left_pending += 1
            log.warning("item %s left pending: %s", item.id, e)
            return True
        # Deterministic: put it back once or twice; the breaker marks the backend down if every call fails.
        n = self.requeued.get(item.id, 0)
        if n < 2:
            self.requeued[item.id] = n + 1
            self.queue.append(item)
        else:
            self.left_pending += 1
            log.warning("item %s left pending: %s", item.id, e)
        return True

    def _accept(self, p: ItemProgress, ev: Evaluation, reasoning: str | None, comp: Completion,
                batch_id: str | None = None) -> None:
        item, attempts = p.item, p.attempts
        synth = build_synth_trace(ev.synth_heading or item.group, self.job.describe(item), ev.rubric,
                                  ev.score, p.trace_hist)
        rec = Accepted(
            id=item.id, job=item.job, prompt=item.prompt, system=item.system, synth_trace=synth,
            natural_trace=natural_trace(reasoning), score=ev.score, passed=True, rubric=ev.rubric,
            attempts=len(attempts), model=self.bcfg.model, backend=self.record_backend,
            finish_reason=comp.finish_reason, finish_reason_raw=comp.finish_reason_raw, usage=p.usage,
            cost_usd=round(p.cost, 8), latency_s=round(comp.latency_s, 3), worker=self.worker_id,
            timestamp=utc_now(), attempt_log=attempts,
            final_usage=_usage_of(comp), batch_id=batch_id, **ev.fields,
        )
        self.dataset.append(encode_line(rec))
        self.done += 1

    def _reject(self, p: ItemProgress, error: str | None = None, batch_id: str | None = None) -> None:
        item, best, attempts = p.item, p.best, p.attempts
        reason = FAIL_BELOW_MIN if best else p.last_failure
        detail = best[0].detail if best else (error or p.last_failure)
        final = best[1] if best else p.last_comp
        rec = Rejected(
            id=item.id, job=item.job, prompt=item.prompt, reason=reason,
            best_score=best[0].score if best else None,
            finish_reason=final.finish_reason if final else "error",
            attempts=len(attempts), model=self.bcfg.model, backend=self.record_backend, usage=p.usage,
            cost_usd=round(p.cost, 8), worker=self.worker_id, timestamp=utc_now(), error=error,
            detail=detail, best_text=best[0].text if best else None, attempt_log=attempts,
            round=self.round, batch_id=batch_id, **{self.job.group_label: item.group},
        )
        self.rejects.append(encode_line(rec))
        self.rejected += 1

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        runners = self.runners

        def on_term() -> None:
            self.hard_stop = True
            for t in runners:
                t.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_term)
        loop.add_signal_handler(signal.SIGINT, on_term)
        self.state = self.current_state()
        self.heartbeat()
        log.info("worker %d: backend %s model %s, %d of %d items to do", self.worker_id, self.backend_name,
                 self.bcfg.model, len(self.queue), self.share)
        if hasattr(self.job, "warm_up"):
            # Before the first call, not inside it: a verifier's first use can take a second (the
            # poetry one loads its pronouncing dictionary), which would stall every call in flight.
            self.job.warm_up()
        house = asyncio.create_task(self._housekeeping())

        def orphaned(why: str) -> None:
            log.warning("worker %d: stopping: %s (in-flight items stay pending)", self.worker_id, why)
            on_term()

        sims = [b.base_url for b in (self.bcfg,) if b.simulated and b.base_url]
        watchdog = asyncio.create_task(watch_owner(self.paths, sims, orphaned))
        if self.bcfg.batch:  # the provider's batch API instead of calls one at a time (batch_loop.py)
            runners.append(asyncio.create_task(BatchLoop(self, get_api_key(self.backend_name, self.bcfg)).run()))
        else:
            runners.extend(asyncio.create_task(self._runner()) for _ in range(self.bcfg.concurrency))
        crash = await _first_crash(runners)
        house.cancel()
        watchdog.cancel()
        for app in (self.dataset, self.rejects, *([self.judge_cache] if self.judge_cache is not None else [])):
            try:
                app.close()
            except DiskFullError as e:
                self.fatal = self.fatal or str(e)
        self.state = self.current_state() if not self.hard_stop else "stopped"
        if self.state == "running":  # told nothing, queue empty: done
            self.state = "done"
        if crash is not None:
            # Not "done": the traceback goes to the worker log and the supervisor restarts us.
            log.error("worker %d crashed", self.worker_id, exc_info=crash)
            self.state = "crashed"
            self.heartbeat()
            return EXIT_FAILED
        self.heartbeat()
        if self.fatal:
            log.error("%s", self.fatal)
            return EXIT_DISK_FULL if self.fatal.startswith("no space left") else EXIT_FATAL
        log.info("worker %d: %s (done %d, rejected %d)", self.worker_id, self.state, self.done, self.rejected)
        return 0


def item_deadline_s(configured: float, max_attempts: int, timeout_s: float) -> float:
    """The per-item deadline: the configured one, else room for each attempt to time out about three
    times (at least a minute). An unreachable backend is the breaker's business, not this one's."""
    return configured or max(60.0, 3 * max_attempts * timeout_s)


def _usage_of(comp: Completion) -> Usage:
    u = Usage()
    add_usage(u, comp)
    return u


async def _first_crash(tasks: list[asyncio.Task]) -> BaseException | None:
    """Wait for every item runner; at the first unexpected exception cancel the rest and return it."""
    pending = set(tasks)
    while pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                for p in pending:
                    p.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                return t.exception()
    return None


def _breaker_fields(b: object) -> dict:
    if b is None:
        return {}
    return {"breaker": b.state, "down_since": b.down_since, "down_reason": b.reason,  # type: ignore[attr-defined]
            "next_probe_at": b.next_probe_wall()}  # type: ignore[attr-defined]


def _struct_dict(obj: object) -> dict:
    import msgspec

    return msgspec.to_builtins(obj)


def run_worker_cli(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    slot = SlotLock(RunPaths(Path(args.run_dir)), int(args.worker_id))
    try:
        slot.acquire(int((read_json(RunPaths(Path(args.run_dir)).layout, {}) or {}).get("round", 0)))
        worker = Worker(Path(args.run_dir), int(args.worker_id))
    except ConfigError as e:
        log.error("%s", e)
        print(f"watcher worker: {e}", file=sys.stderr)
        return EXIT_FATAL
    return asyncio.run(worker.run())
