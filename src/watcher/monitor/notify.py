"""Telling someone who is not at the terminal: a webhook and/or a local command per run event.

`[notify]` in the run config: `webhook_url` gets a POST of a small JSON object (run, event, counts,
cost_usd, message, time) and `command` runs through the shell with the same facts in WATCHER_*
environment variables (for notify-send, mail, anything). Events: done, failed, backend_down,
budget_reached, gate_failed. At most one message per event kind per `min_interval_s` (kept in the
run's notify.json, so a restart or an attach does not repeat it); done/failed/budget_reached once
per run round. Delivery runs in a thread, so a slow receiver never holds up supervision; a failed
delivery is logged (events.jsonl `notify_failed`, the logger), never raised. Nothing secret goes
out: no key, no token, and the webhook URL (which often embeds one) is never logged.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from watcher.config import NotifyConfig, RunConfig
from watcher.generate.budget import Budget, budget_message, pending_count, spent_tally
from watcher.run.files import append_event, atomic_write_json, read_json
from watcher.run.paths import RunPaths

if TYPE_CHECKING:
    from watcher.generate.supervisor import Supervisor

log = logging.getLogger("watcher.monitor.notify")

EVENTS = ("done", "failed", "backend_down", "budget_reached", "gate_failed")
ONCE_PER_ROUND = frozenset({"done", "failed", "budget_reached"})


class Notifier:
    """Sends one event to the configured channels, throttled per event kind."""

    def __init__(self, ncfg: NotifyConfig, paths: RunPaths, run: str) -> None:
        self.ncfg, self.paths, self.run = ncfg, paths, run
        self.threads: list[threading.Thread] = []

    @property
    def enabled(self) -> bool:
        return bool(self.ncfg.webhook_url or self.ncfg.command)

    def send(self, event: str, message: str, counts: dict[str, int], cost_usd: float, round_: int = 0) -> bool:
        """Queue the event for delivery; False when notifications are off or it was sent too recently."""
        if not self.enabled:
            return False
        state = read_json(self.paths.notify_state, {}) or {}
        last, rounds = state.setdefault("last", {}), state.setdefault("round", {})
        now = time.time()
        if event in ONCE_PER_ROUND and rounds.get(event) == round_:
            return False
        if now - float(last.get(event, 0)) < self.ncfg.min_interval_s:
            return False
        last[event], rounds[event] = now, round_
        atomic_write_json(self.paths.notify_state, state)
        payload = {"run": self.run, "event": event, "counts": counts, "cost_usd": round(cost_usd, 6),
                   "message": message, "time": now}
        t = threading.Thread(target=self._deliver, args=(payload,), name=f"notify-{event}")
        t.start()  # not a daemon: a message queued just before the process ends is still delivered
        self.threads.append(t)
        append_event(self.paths.dir, "notify", what=event)
        return True

    def wait(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _deliver(self, payload: dict[str, Any]) -> None:
        if self.ncfg.webhook_url:
            try:
                req = urllib.request.Request(self.ncfg.webhook_url, data=json.dumps(payload).encode(),
                                             headers={"Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(req, timeout=self.ncfg.timeout_s) as resp:
                    resp.read()
            except Exception as e:  # any failure of the receiver is logged, never fatal
                self._failed(payload["event"], "webhook", e)
        if self.ncfg.command:
            env = {**os.environ, "WATCHER_RUN": self.run, "WATCHER_EVENT": payload["event"],
                   "WATCHER_MESSAGE": payload["message"], "WATCHER_COST_USD": f"{payload['cost_usd']:.6f}",
                   **{f"WATCHER_{k.upper()}": str(v) for k, v in payload["counts"].items()}}
            try:
                proc = subprocess.run(self.ncfg.command, shell=True, env=env, stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=max(self.ncfg.timeout_s, 30.0))
                if proc.returncode != 0:
                    raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.decode(errors='replace')[-200:]}")
            except Exception as e:
                self._failed(payload["event"], "command", e)

    def _failed(self, event: str, channel: str, exc: BaseException) -> None:
        why = f"{type(exc).__name__}: {exc}"[:300]
        log.warning("notification %s via %s failed: %s", event, channel, why)
        try:
            append_event(self.paths.dir, "notify_failed", what=event, channel=channel, error=why)
        except OSError:
            pass


class RunAlerts:
    """Watches the supervisor's state transitions and sends the events they mean."""

    def __init__(self, cfg: RunConfig, paths: RunPaths) -> None:
        self.cfg, self.paths = cfg, paths
        self.notifier = Notifier(cfg.notify, paths, paths.dir.name)
        self.budget = Budget.for_run(paths, cfg) if cfg.max_cost_usd else None
        self.budget_sent = False
        self.end_sent = False

    def _send(self, sup: Supervisor, event: str, message: str) -> None:
        try:
            snap = sup.stats.snapshot()
            counts = {"accepted": snap.accepted, "rejected": snap.rejected, "target": snap.total_target,
                      "errors": snap.errors}
            self.notifier.send(event, message, counts, snap.cost_usd, sup.round)
        except Exception as e:  # a notification never stops supervision (a full disk, a bad state file)
            log.warning("notification %s not sent: %s", event, e)

    def tick(self, sup: Supervisor) -> None:
        if not self.notifier.enabled or sup.detached:
            return
        if self.budget is not None and not self.budget_sent and self.budget.reached():
            self.budget_sent = True
            sup.stats.poll()
            self._send(sup, "budget_reached", f"run {sup.run_dir.name}: "
                       + budget_message(self.budget.spent(), self.budget.ceiling))
        ended = not sup.relayout and sup.workers and all(w.state in ("exited", "failed") for w in sup.workers.values())
        if ended and not self.end_sent:
            self.end_sent = True
            sup.stats.poll()
            failed = [w for w in sup.workers.values() if w.state == "failed"]
            if failed:
                self._send(sup, "failed", f"run {sup.run_dir.name}: {len(failed)} worker(s) failed; items are "
                           "left pending; the same command resumes")
            elif pending_count(self.paths, self.cfg, sup.round) == 0:
                snap = sup.stats.snapshot()
                self._send(sup, "done", f"run {sup.run_dir.name} done: {snap.accepted} accepted, "
                           f"{snap.rejected} rejected, ${snap.cost_usd:.4f}")

    def worker_failed(self, sup: Supervisor, backend: str, why: str) -> None:
        if not self.notifier.enabled:
            return
        mates = [w for w in sup.workers.values() if w.backend == backend]
        if mates and all(w.state == "failed" for w in mates):
            sup.stats.poll()
            self._send(sup, "backend_down", f"run {sup.run_dir.name}: backend {backend} is down "
                       f"(every worker failed; last: {why[:200]})")

    def gate_failed(self, sup: Supervisor, summary: str) -> None:
        if self.notifier.enabled:
            self._send(sup, "gate_failed", gate_failed_message(sup.run_dir.name, summary))


def gate_failed_message(run: str, summary: str) -> str:
    return f"run {run}: gate failed: {summary[:200]}"


def notify_gate_failed(cfg: RunConfig, paths: RunPaths, summary: str, kept: int, total: int,
                       wait_s: float = 10.0) -> bool:
    """`watcher gate` outside a supervisor: send gate_failed (throttled like the others) and wait
    for the delivery, since the command ends right after. The spent cost comes from the records."""
    notifier = Notifier(cfg.notify, paths, paths.dir.name)
    if not notifier.enabled:
        return False
    try:
        sent = notifier.send("gate_failed", gate_failed_message(paths.dir.name, summary),
                             {"kept": kept, "total": total}, spent_tally(paths).poll())
    except OSError as e:  # a notification never fails the command (a full disk, a read-only run)
        log.warning("notification gate_failed not sent: %s", e)
        return False
    notifier.wait(wait_s)
    return sent
