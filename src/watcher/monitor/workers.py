"""What each worker and the run are doing: the event log, the heartbeats and the state files.

`WorkerTracker.poll()` tails the supervisor's event log (spawns, exits, restarts, failures and
notices), re-reads the control and supervisor state files when their stat changes, and re-reads only
the heartbeats that changed; `worker_stats()` merges heartbeats with events into one `WorkerStats`
per worker, and `run_state()` derives the run's state from them and the control file.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgspec
import orjson

from watcher.monitor.rate import Pauses
from watcher.monitor.snapshot import WorkerStats
from watcher.monitor.tail import FileTailer
from watcher.run.files import pid_alive
from watcher.run.paths import RunPaths
from watcher.run.records import TERMINAL_STATES, Heartbeat, decode_heartbeat

STALE_HEARTBEAT_S = 5.0
_MAX_MESSAGES = 50


class _Worker:
    __slots__ = ("hb", "key", "banked_waits", "banked_errors", "banked_retries", "alive")

    def __init__(self, hb: Heartbeat, key: tuple[int, int, int]) -> None:
        self.hb = hb
        self.key = key
        self.banked_waits = 0  # rate-limit waits of earlier processes of this worker id
        self.banked_errors = 0  # failed calls of earlier processes
        self.banked_retries = 0
        self.alive = False


class _EvWorker:
    __slots__ = ("pid", "backend", "restarts", "restart_t", "failed_t", "failed_why", "log_tail", "last")

    def __init__(self) -> None:
        self.pid = 0
        self.backend = ""
        self.restarts = 0
        self.restart_t = 0.0
        self.failed_t = 0.0
        self.failed_why: str | None = None
        self.log_tail: str | None = None
        self.last = ""  # kind of the latest event about this worker


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read_json_file(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


class WorkerTracker:
    """The workers' side of a run directory; the records' side is `monitor.stats.StatsAggregator`."""

    def __init__(self, run_dir: Path, chunk_size: int = 1 << 20) -> None:
        self.paths = RunPaths(Path(run_dir))
        self._events = FileTailer(self.paths.events, chunk_size)
        self._workers: dict[int, _Worker] = {}
        self._control: dict[str, Any] = {}
        self._control_key: tuple[int, int, int] | None = None
        self._supervisor: dict[str, Any] = {}
        self._supervisor_key: tuple[int, int, int] | None = None
        self._sup_alive = False
        self._clear_events()

    def _clear_events(self) -> None:
        self._ev: dict[int, _EvWorker] = {}
        self._messages: deque[str] = deque(maxlen=_MAX_MESSAGES)
        self.session_start: float | None = None
        self.pauses = Pauses()

    @property
    def messages(self) -> tuple[str, ...]:
        return tuple(self._messages)

    @property
    def supervisor_started_at(self) -> Any:
        """`started_at` of supervisor.json as written (checked by the caller), None when absent."""
        return self._supervisor.get("started_at")

    def poll(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self._poll_events()
        self._poll_state(now)

    def _poll_events(self) -> None:
        for b in self._events.iter_batches():
            if b.reset:
                self._clear_events()
            for _, line in b:
                try:
                    ev = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(ev, dict):
                    self._apply_event(ev)

    def _apply_event(self, ev: dict[str, Any]) -> None:
        kind = str(ev.get("event", ""))
        t = ev.get("t") if isinstance(ev.get("t"), int | float) else 0.0
        stamp = time.strftime("%H:%M:%S", time.localtime(t)) if t else "--:--:--"
        wid = ev.get("worker")
        w: _EvWorker | None = None
        if isinstance(wid, int):
            w = self._ev.get(wid)
            if w is None:
                w = self._ev[wid] = _EvWorker()
            w.last = kind
        if kind == "pause":
            self.pauses.pause(t)
        elif kind in ("resume", "start"):  # a new round starts unpaused
            self.pauses.resume(t)
        if kind == "start":
            self.session_start = t or self.session_start
            self._messages.append(f"{stamp} run started (round {ev.get('round', '?')})")
        elif kind == "spawn" and w is not None:
            w.pid = int(ev.get("pid") or 0)
            w.backend = str(ev.get("backend") or "")
        elif kind == "exit" and w is not None:
            code = ev.get("code")
            if code not in (0, None):
                sig = ev.get("signal")
                how = f"signal {sig}" if sig else f"code {code}"
                self._messages.append(f"{stamp} worker {wid} exited ({how})")
        elif kind == "restart" and w is not None:
            w.restarts += 1
            w.restart_t = t
            self._messages.append(f"{stamp} worker {wid} restarting in {ev.get('delay_s', '?')}s "
                                  f"(restart {ev.get('attempt', w.restarts)})")
        elif kind == "failed" and w is not None:
            w.failed_t = t
            w.failed_why = str(ev.get("why") or "failed")
            tail = ev.get("log_tail")
            w.log_tail = tail if isinstance(tail, str) else None
            self._messages.append(f"{stamp} worker {wid} failed: {w.failed_why}")
        elif kind in ("pause", "resume", "stop", "attach", "detach", "gate", "train", "relayout"):
            extra = ""
            if kind == "stop":
                extra = " (graceful)" if ev.get("graceful", True) else " (now)"
            elif kind == "gate":
                extra = ": passed" if ev.get("passed") else ": failed"
            elif kind == "relayout":
                extra = f" {ev.get('backend')} -> {ev.get('workers')} workers"
            self._messages.append(f"{stamp} {kind}{extra}")

    def _poll_state(self, now: float) -> None:
        key = _stat_key(self.paths.control)
        if key != self._control_key:
            self._control_key = key
            data = _read_json_file(self.paths.control) if key else {}
            if isinstance(data, dict):
                self._control = data
        key = _stat_key(self.paths.supervisor)
        if key != self._supervisor_key:
            self._supervisor_key = key
            data = _read_json_file(self.paths.supervisor) if key else {}
            if isinstance(data, dict):
                self._supervisor = data
        pid = self._supervisor.get("pid")
        self._sup_alive = isinstance(pid, int) and pid_alive(pid)
        self._poll_heartbeats(now)

    def _poll_heartbeats(self, now: float) -> None:
        seen: set[int] = set()
        try:
            entries = list(os.scandir(self.paths.workers))
        except OSError:
            entries = []
        for e in entries:
            name = e.name
            if name.startswith(".") or not name.endswith(".json"):
                continue  # atomic-write temp files
            try:
                st = e.stat()
            except OSError:
                continue
            key = (st.st_mtime_ns, st.st_size, st.st_ino)
            try:
                wid = int(name[:-5])
            except ValueError:
                continue
            seen.add(wid)
            w = self._workers.get(wid)
            if w is not None and w.key == key:
                continue
            try:
                with open(e.path, "rb") as f:
                    hb = decode_heartbeat(f.read())
            except (OSError, msgspec.DecodeError):
                continue  # keep the previous heartbeat
            if w is None:
                self._workers[wid] = _Worker(hb, key)
            else:
                if (hb.started_at != w.hb.started_at or hb.pid != w.hb.pid) and self._this_session(w.hb):
                    w.banked_waits += w.hb.rate_limit_waits  # a new process counts from zero
                    w.banked_errors += w.hb.errors
                    w.banked_retries += w.hb.retries
                w.hb, w.key = hb, key
        for wid in list(self._workers):
            if wid not in seen:
                del self._workers[wid]
        for w in self._workers.values():
            hb = w.hb
            pid_ok = pid_alive(hb.pid)
            if hb.state in TERMINAL_STATES:
                w.alive = pid_ok
            else:  # dead only when the heartbeat is stale and the process is gone
                w.alive = pid_ok or now - hb.updated_at <= STALE_HEARTBEAT_S
    def _this_session(self, hb: Heartbeat) -> bool:
        """The heartbeat's process started in the current run session (since the last `start`
        event); True when no start is known."""
        return self.session_start is None or hb.started_at >= self.session_start

    def worker_stats(self) -> list[WorkerStats]:
        out: list[WorkerStats] = []
        sup_ids = {int(k) for k in (self._supervisor.get("workers") or {}) if str(k).isdigit()}
        for wid in sorted(set(self._workers) | set(self._ev) | sup_ids):
            w = self._workers.get(wid)
            ev = self._ev.get(wid)
            if w is None:
                # No heartbeat (crashed before its first one, or removed): show it only when the
                # supervisor says it is restarting or failed.
                if ev is None or ev.last not in ("restart", "failed", "exit"):
                    self._add_unreported(out, wid)
                    continue
                if ev.last == "exit" and not ev.restarts:
                    continue
                state = "failed" if ev.last == "failed" else "restarting" if ev.last == "restart" else "dead"
                out.append(WorkerStats(
                    id=wid, pid=ev.pid, backend=ev.backend, model="", state=state, alive=False, in_flight=0,
                    concurrency=0, done=0, rejected=0, errors=0, rate_limit_waits=0, rate_limited_until=None,
                    last_error=ev.failed_why, last_error_at=ev.failed_t or None, updated_at=0.0,
                    restarts=ev.restarts, log_tail=ev.log_tail))
                continue
            hb = w.hb
            state = hb.state
            if not w.alive:
                if ev is not None and ev.failed_t and ev.failed_t >= hb.started_at:
                    state = "failed"
                elif ev is not None and ev.last == "restart" and ev.restart_t >= hb.started_at:
                    state = "restarting"
                elif state not in TERMINAL_STATES:
                    state = "dead"
            last_error, last_error_at = hb.last_error, hb.last_error_at
            if state == "failed" and ev is not None and ev.failed_why:
                last_error, last_error_at = ev.failed_why, ev.failed_t
            # Counts are this run process's: a heartbeat left by an earlier `watcher` process (before
            # the resume replaced it) contributes nothing.
            own = self._this_session(hb)
            out.append(WorkerStats(
                id=wid, pid=hb.pid, backend=hb.backend, model=hb.model, state=state, alive=w.alive,
                in_flight=hb.in_flight if w.alive else 0, concurrency=hb.concurrency, done=hb.done,
                rejected=hb.rejected, errors=w.banked_errors + (hb.errors if own else 0),
                rate_limit_waits=w.banked_waits + (hb.rate_limit_waits if own else 0),
                rate_limited_until=hb.rate_limited_until, last_error=last_error, last_error_at=last_error_at,
                updated_at=hb.updated_at, restarts=ev.restarts if ev else 0,
                log_tail=ev.log_tail if ev and state == "failed" else None,
                retries=w.banked_retries + (hb.retries if own else 0),
                pending=hb.pending, breaker=hb.breaker, down_since=hb.down_since, down_reason=hb.down_reason,
                next_probe_at=hb.next_probe_at))
        return out

    def _add_unreported(self, out: list[WorkerStats], wid: int) -> None:
        """A worker the supervisor spawned that has not written its first heartbeat yet (it is
        still importing its SDK): show it as starting rather than not at all."""
        info = (self._supervisor.get("workers") or {}).get(str(wid))
        if not isinstance(info, dict) or not pid_alive(int(info.get("pid") or 0)):
            return
        out.append(WorkerStats(
            id=wid, pid=int(info["pid"]), backend=str(info.get("backend", "")), model="", state="starting",
            alive=True, in_flight=0, concurrency=0, done=0, rejected=0, errors=0, rate_limit_waits=0,
            rate_limited_until=None, last_error=None, last_error_at=None, updated_at=0.0))

    def run_state(self, workers: list[WorkerStats], *, accepted: int, rejected: int, total_target: int) -> str:
        paused = bool(self._control.get("paused"))
        stop = bool(self._control.get("stop"))
        # A worker that reported done/stopped is finished even while its process is still exiting.
        alive = [w for w in workers if w.alive and w.state not in TERMINAL_STATES]
        finished_all = total_target > 0 and accepted + rejected >= total_target
        if alive:
            if stop:
                return "stopping"
            if paused:
                quiet = all(w.in_flight == 0 and w.state in ("paused", "stopped", "done") for w in alive)
                return "paused" if quiet else "pausing"
            if all(w.state == "starting" for w in alive):
                return "starting"
            return "running"
        if not workers:
            if finished_all:
                return "done"
            if self._sup_alive and not stop:
                return "starting"
            return "stopped" if (accepted or rejected or stop) else "starting"
        if all(w.state == "done" for w in workers) or (
                finished_all and not any(w.state in ("failed", "restarting") for w in workers)):
            return "done"
        if self._sup_alive and not stop and any(w.state == "restarting" for w in workers):
            return "running"
        if any(w.state == "failed" for w in workers):
            return "failed"
        return "stopped"
