"""Spawns, watches, restarts, pauses and stops workers; creates and resumes run directories.

The supervisor is a plain object driven by its owner's clock (the TUI's 4 Hz timer or the headless
loop call `snapshot()`, which ticks it). Workers run in their own sessions, so they outlive a
supervisor that dies or detaches; `Supervisor.attach` adopts them again from supervisor.json.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from watcher.config import RunConfig, config_to_dict, dump_config, load_config
from watcher.errors import EXIT_DISK_FULL, EXIT_FATAL, ConfigError
from watcher.gate.verdict import GateVerdict, read_gate_verdict
from watcher.generate.budget import record_prices
from watcher.generate.jobs import make_job
from watcher.monitor.notify import RunAlerts
from watcher.monitor.snapshot import Snapshot
from watcher.run.files import (
    append_event,
    atomic_write_json,
    atomic_write_text,
    clean_stale_temps,
    disk_full,
    pid_alive,
    read_control,
    read_json,
)
from watcher.run.lock import RunLock
from watcher.run.paths import RunPaths, check_output_name, check_run_name
from watcher.run.records import read_heartbeat
from watcher.train.state import TrainingState

# Fields that decide which items exist and where they go: changing them on resume would mix jobs.
IDENTITY_FIELDS = ("job", "seed", "output", "poetry.forms", "poetry.topics_file", "poetry.tones_file",
                   "agentic.categories", "aba.prompts_file", "aba.variants")


@dataclass
class WorkerProc:
    id: int
    backend: str
    popen: subprocess.Popen | None = None
    pid: int = 0
    state: str = "starting"  # running | exited | failed | restarting | removed
    restarts: int = 0  # restarts in a row (reset once a run lasts long enough)
    started: float = 0.0
    restart_at: float | None = None
    exit_code: int | None = None


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in IDENTITY_FIELDS:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_difference(old: RunConfig, new: RunConfig) -> tuple[list[str], list[str]]:
    """(incompatible differences, harmless ones) between a run's stored config and a new one."""
    a, b = _flatten(config_to_dict(old)), _flatten(config_to_dict(new))
    bad, ok = [], []
    # The simulator gets a new port each start, so a simulated backend's base_url is not a change.
    sim_urls = {f"backends.{n}.base_url" for n, bc in new.backends.items() if bc.simulated}
    for k in sorted(set(a) | set(b)):
        if a.get(k) == b.get(k) or k in sim_urls:
            continue
        line = f"{k}: {a.get(k)!r} -> {b.get(k)!r}"
        (bad if any(k == f or k.startswith(f + ".") for f in IDENTITY_FIELDS) else ok).append(line)
    return bad, ok


def run_dir_for(cfg: RunConfig, run_name: str, runs_root: Path | None = None) -> Path:
    """Where run `run_name` lives; the name and the dataset name are checked to stay inside it."""
    check_run_name(run_name)
    check_output_name(cfg.output)
    run_dir = (runs_root or Path(cfg.runs_dir)) / run_name
    if (run_dir / cfg.output).is_dir():
        raise ConfigError(f"output {cfg.output} is a directory in {run_dir}; fix: pass another --output file name")
    return run_dir


def prepare_run(cfg: RunConfig, run_name: str, runs_root: Path | None = None) -> tuple[Path, bool, list[str]]:
    """Create the run directory or check a resume against it. Returns (dir, resumed, changes)."""
    run_dir = run_dir_for(cfg, run_name, runs_root)
    paths = RunPaths(run_dir, cfg.output)
    changes: list[str] = []
    resumed = paths.config.exists()
    if resumed:
        old = load_config(paths.config)[0]
        bad, changes = config_difference(old, cfg)
        if bad:
            raise ConfigError(
                f"run {run_name} was made with a different job; resuming it with this config would mix data:\n  "
                + "\n  ".join(bad) + "\nfix: use the original settings, or start a new run with --run NEW_NAME"
            )
    for d in (run_dir, paths.workers, paths.logs):
        d.mkdir(parents=True, exist_ok=True)
    text = dump_config(cfg)
    if not resumed or paths.config.read_text() != text:
        atomic_write_text(paths.config, text)  # a full disk or a kill leaves the old config whole
    record_prices(paths, cfg)
    return run_dir, resumed, changes


def open_run_stats(run_dir: Path, cfg: RunConfig | None = None, feed_size: int = 200):
    """A stats aggregator for any run directory, live or finished."""
    from watcher.monitor.stats import StatsAggregator

    cfg = cfg or load_config(run_dir / "config.toml")[0]
    job = make_job(cfg)
    paths = RunPaths(run_dir, cfg.output)
    return StatsAggregator(
        run_dir, run=run_dir.name, job=cfg.job, group_label=job.group_label, targets=job.targets(),
        min_score=cfg.min_score if cfg.job == "poetry" else None,
        dataset_path=paths.dataset, rejects_path=paths.rejects, feed_size=feed_size,
    )


class Supervisor:
    """Implements watcher.run.control.RunControl for a run directory."""

    def __init__(self, run_dir: Path, cfg: RunConfig | None = None, *, env: dict[str, str] | None = None,
                 feed_size: int = 200, lock: RunLock | None = None) -> None:
        self.run_dir = run_dir
        self.cfg = cfg or load_config(run_dir / "config.toml")[0]
        self.paths = RunPaths(run_dir, self.cfg.output)
        self.job = make_job(self.cfg)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.workers: dict[int, WorkerProc] = {}
        self.round = 0
        self.stopping = False
        self.detached = False
        self.relayout: set[str] = set()
        self.desired: dict[str, int] = {}
        self.train_proc: subprocess.Popen | None = None
        self.stats = open_run_stats(run_dir, self.cfg, feed_size)
        self.lock = lock  # run.lock, held for our lifetime (None: a read-only attach beside the owner)
        self.read_only = False  # attach beside a live owner: watch, never restart or write state
        self.fail_reason: str | None = None  # one line for the user when workers failed for a known cause
        self.alerts = RunAlerts(self.cfg, self.paths)  # notifications on the transitions below

    # -- starting -----------------------------------------------------------------------------
    def start(self) -> None:
        clean_stale_temps(self.run_dir, self.paths.workers, self.paths.train, self.paths.gate)
        layout = read_json(self.paths.layout, {}) or {}
        self.round = int(layout.get("round", -1)) + 1
        self.desired = {b: self.cfg.backends[b].workers for b in self.cfg.active_backends()}
        self._write_layout()
        atomic_write_json(self.paths.control, {"paused": False, "stop": False, "stop_workers": [],
                                               "cancel_batches": False})
        append_event(self.run_dir, "start", round=self.round, workers=len(self.workers))
        for w in self.workers.values():
            self._spawn(w)
        self._write_supervisor()

    def _write_layout(self) -> None:
        entries: dict[str, dict[str, Any]] = {}
        next_id = 0
        keep = {w.id: w for w in self.workers.values() if w.state != "removed"}
        for b, n in self.desired.items():
            ids = sorted(w.id for w in keep.values() if w.backend == b)[:n]
            while len(ids) < n:
                while next_id in keep or any(int(k) == next_id for k in entries) or next_id in ids:
                    next_id += 1
                ids.append(next_id)
            for k, wid in enumerate(ids):
                entries[str(wid)] = {"backend": b, "shard": k, "shards": n}
        for wid, w in list(self.workers.items()):
            if str(wid) not in entries:
                w.state = "removed"
                self.paths.heartbeat(wid).unlink(missing_ok=True)
                del self.workers[wid]
        for k, e in entries.items():
            if int(k) not in self.workers:
                self.workers[int(k)] = WorkerProc(id=int(k), backend=e["backend"])
        atomic_write_json(self.paths.layout, {"round": self.round, "workers": entries}, fsync=True)

    def _spawn(self, w: WorkerProc) -> None:
        log = self.paths.log(w.id).open("ab")
        w.popen = subprocess.Popen(
            [sys.executable, "-m", "watcher.cli.main", "worker", "--run-dir", str(self.run_dir), "--worker-id", str(w.id)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=self.env,
        )
        log.close()
        w.pid, w.state, w.started, w.restart_at, w.exit_code = w.popen.pid, "running", time.time(), None, None
        append_event(self.run_dir, "spawn", worker=w.id, pid=w.pid, backend=w.backend)

    def _write_supervisor(self) -> None:
        atomic_write_json(self.paths.supervisor, {
            "pid": None if self.detached else os.getpid(), "detached": self.detached,
            "started_at": time.time(), "round": self.round,
            "workers": {str(w.id): {"pid": w.pid, "backend": w.backend} for w in self.workers.values()},
        }, fsync=True)

    @classmethod
    def attach(cls, run_dir: Path, env: dict[str, str] | None = None, feed_size: int = 200) -> Supervisor:
        """Adopt the workers of a run whose supervisor is gone or detached. While another supervisor
        holds run.lock, only watch: never restart a worker or rewrite the run's state."""
        lock = RunLock(run_dir)
        owned = lock.try_acquire(f"{os.getpid()} watcher attach")
        sup = cls(run_dir, env=env, feed_size=feed_size, lock=lock if owned else None)
        sup.read_only = not owned
        info = read_json(sup.paths.supervisor, {}) or {}
        layout = read_json(sup.paths.layout, {}) or {}
        sup.round = int(layout.get("round", 0))
        for k, e in (layout.get("workers") or {}).items():
            wid = int(k)
            pid = int(((info.get("workers") or {}).get(k) or {}).get("pid") or 0)
            w = WorkerProc(id=wid, backend=e["backend"], pid=pid, started=time.time())
            w.state = "running" if pid_alive(pid) else "exited"
            if w.state == "exited":
                hb = read_json(sup.paths.heartbeat(wid), {}) or {}
                w.exit_code = 0 if hb.get("state") in ("done", "stopped") else EXIT_FATAL if hb.get("state") == "failed" else 1
            sup.workers[wid] = w
        sup.desired = {}
        for w in sup.workers.values():
            sup.desired[w.backend] = sup.desired.get(w.backend, 0) + 1
        sup.stopping = read_control(sup.paths.control)["stop"]
        if sup.read_only:
            append_event(run_dir, "attach_read_only", pid=os.getpid(), owner=lock.owner_pid())
            return sup
        sup._write_supervisor()
        append_event(run_dir, "attach", pid=os.getpid())
        # Adopted workers that died mid-run get restarted like our own.
        for w in sup.workers.values():
            if w.state == "exited" and w.exit_code not in (0, EXIT_FATAL) and not sup.stopping:
                sup._schedule_restart(w, time.time())
        return sup

    # -- watching -----------------------------------------------------------------------------
    def _exit_code(self, w: WorkerProc) -> int | None:
        if w.popen is not None:
            return w.popen.poll()
        if pid_alive(w.pid):
            return None
        hb = read_json(self.paths.heartbeat(w.id), {}) or {}
        return 0 if hb.get("state") in ("done", "stopped") else EXIT_FATAL if hb.get("state") == "failed" else 1

    def _refresh_read_only(self) -> None:
        """Follow the owner's restarts: its supervisor.json names the live pids."""
        info = read_json(self.paths.supervisor, {}) or {}
        for k, e in (info.get("workers") or {}).items():
            w = self.workers.get(int(k))
            if w is not None and e.get("pid"):
                w.pid = int(e["pid"])
        owner_live = RunLock(self.run_dir).held_by_other()
        for w in self.workers.values():
            alive = pid_alive(w.pid)
            w.state = "running" if alive or (owner_live and w.state == "running") else "exited"

    def tick(self) -> None:
        if self.detached:
            return
        if self.read_only:
            self._refresh_read_only()
            return
        now = time.time()
        for w in list(self.workers.values()):
            if w.state == "running":
                code = self._exit_code(w)
                if code is None:
                    continue
                w.exit_code = code
                append_event(self.run_dir, "exit", worker=w.id, pid=w.pid, code=code,
                             signal=-code if code < 0 else None)
                if code == 0 or self.stopping or w.backend in self.relayout:
                    w.state = "exited"
                elif code == EXIT_FATAL:
                    self._fail(w, self._fatal_reason(w))
                elif code == EXIT_DISK_FULL:
                    # The worker could not say why in its own files (they are on the full disk).
                    self.fail_reason = str(disk_full(self.paths.dataset, OSError(28, "ENOSPC")))
                    self._fail(w, self.fail_reason)
                else:
                    self._schedule_restart(w, now)
            elif w.state == "restarting" and w.restart_at is not None and now >= w.restart_at:
                if self.stopping:
                    w.state = "exited"
                else:
                    self._spawn(w)
                    self._write_supervisor()
        for b in list(self.relayout):
            if all(w.state != "running" for w in self.workers.values() if w.backend == b):
                self._finish_relayout(b)
        self.alerts.tick(self)

    def _schedule_restart(self, w: WorkerProc, now: float) -> None:
        if now - w.started > 30:
            w.restarts = 0  # it ran a good while: this is not a crash loop
        w.restarts += 1
        if w.restarts > self.cfg.restart_limit:
            self._fail(w, f"crash-looping: {w.restarts - 1} restarts in a row")
            return
        delay = min(30.0, 0.5 * 2 ** (w.restarts - 1))
        w.state, w.restart_at = "restarting", now + delay
        append_event(self.run_dir, "restart", worker=w.id, attempt=w.restarts, delay_s=delay, code=w.exit_code)

    def _fatal_reason(self, w: WorkerProc) -> str:
        """Why a worker exited fatally, in its own words: its heartbeat's last error (the worker
        writes its fatal reason there) when that heartbeat is this process's, else "fatal error"."""
        hb = read_heartbeat(self.paths.heartbeat(w.id))
        return (hb.last_error or "fatal error") if hb is not None and hb.pid == w.pid else "fatal error"

    def _fail(self, w: WorkerProc, why: str) -> None:
        w.state = "failed"
        append_event(self.run_dir, "failed", worker=w.id, why=why, code=w.exit_code,
                     log_tail=self.worker_log(w.id, 15))
        self.alerts.worker_failed(self, w.backend, why)

    def finished(self) -> bool:
        """Every worker has exited for good (done, stopped or failed) and nothing waits to restart."""
        self.tick()
        if self.read_only and self.stopping:
            return True  # Ctrl-C on a read-only attach ends the watching, not the run
        return not self.relayout and all(w.state in ("exited", "failed") for w in self.workers.values())

    def failed(self) -> bool:
        return any(w.state == "failed" for w in self.workers.values())

    def snapshot(self) -> Snapshot:
        self.tick()
        self.stats.poll()
        return replace(self.stats.snapshot(), max_cost_usd=self.cfg.max_cost_usd or None)

    # -- commands (RunControl) ------------------------------------------------------------------
    def _set_control(self, **kw: Any) -> None:
        if self.read_only:
            return  # the owner decides; a read-only attach only watches
        c = read_control(self.paths.control)
        c.update(kw)
        atomic_write_json(self.paths.control, c)

    def pause(self) -> None:
        self._set_control(paused=True)
        append_event(self.run_dir, "pause")

    def resume(self) -> None:
        self._set_control(paused=False)
        append_event(self.run_dir, "resume")

    def begin_stop(self, graceful: bool = True) -> None:
        """Tell the workers to stop taking items (in-flight calls finish); returns at once."""
        if self.read_only:
            self.stopping = True  # only our watching ends: the owner's workers carry on
            return
        self.stopping = True
        self._set_control(stop=True)
        append_event(self.run_dir, "stop", graceful=graceful)

    def cancel_batches(self) -> None:
        """Batch mode: workers cancel their batches in flight when they stop (the TUI's stop asks)."""
        self._set_control(cancel_batches=True)
        append_event(self.run_dir, "cancel_batches")

    def stop(self, graceful: bool = True, grace_s: float = 30.0) -> None:
        """Stop the workers and wait: gracefully up to `grace_s`, then (or at once) kill them."""
        self.begin_stop(graceful)
        if self.read_only:
            return
        if not graceful:
            self._signal_all(signal.SIGTERM)
            grace_s = 3.0
        deadline = time.time() + grace_s
        while time.time() < deadline and not self.finished():
            time.sleep(0.1)
        if not self.finished():
            self._signal_all(signal.SIGKILL)
            time.sleep(0.2)
            self.tick()

    def terminate_workers(self) -> None:
        """SIGTERM every live worker: they stop at once, in-flight items left pending (a disk-full exit)."""
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: int) -> None:
        if self.read_only:
            return
        for w in self.workers.values():
            if w.state == "running" and pid_alive(w.pid):
                try:
                    os.kill(w.pid, sig)
                except ProcessLookupError:
                    pass

    def detach(self) -> None:
        if self.read_only:
            return
        self.detached = True
        self._write_supervisor()
        append_event(self.run_dir, "detach")

    def _pick_backend(self, adding: bool) -> str | None:
        """Add to the backend with the fewest workers; remove from the one with the most (keep ≥ 1)."""
        cands = [b for b in self.desired if adding or self.desired[b] > 1]
        if not cands:
            return None
        return min(cands, key=self.desired.__getitem__) if adding else max(cands, key=self.desired.__getitem__)

    def _change_workers(self, delta: int, backend: str | None = None) -> None:
        if backend is not None and backend not in self.desired:
            raise ConfigError(f"no backend {backend!r} in this run (backends: {', '.join(self.desired)})")
        b = backend if backend is not None else self._pick_backend(adding=delta > 0)
        if b is None or b in self.relayout:
            return
        self.desired[b] = max(1, min(64, self.desired[b] + delta))
        self.relayout.add(b)
        # Workers re-shard only together, so no item is ever owned by two workers at once.
        self._set_control(stop_workers=[w.id for w in self.workers.values() if w.backend == b])
        append_event(self.run_dir, "relayout", backend=b, workers=self.desired[b])

    def add_worker(self, backend: str | None = None) -> None:
        self._change_workers(+1, backend)

    def remove_worker(self, backend: str | None = None) -> None:
        self._change_workers(-1, backend)

    def _finish_relayout(self, b: str) -> None:
        self.relayout.discard(b)
        self._write_layout()
        self._set_control(stop_workers=[])
        for w in self.workers.values():
            if w.backend == b and not self.stopping:
                w.restarts = 0
                self._spawn(w)
        self._write_supervisor()

    def worker_log(self, worker_id: int, lines: int = 200) -> str:
        p = self.paths.log(worker_id)
        try:
            with p.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 256 * lines))
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])

    def read_record(self, path: str, offset: int) -> dict[str, Any] | None:
        from watcher.monitor.tail import read_record

        return read_record(path, offset)

    def run_gate(self) -> dict[str, Any]:
        from watcher.gate.run import run_gate

        report = run_gate(self.run_dir, self.cfg)
        append_event(self.run_dir, "gate", passed=report.passed)
        if not report.passed:
            self.alerts.gate_failed(self, "; ".join(report.reasons) or "see gate/report.json")
        return report.to_dict()

    def start_training(self) -> None:
        from watcher.train.process import ensure_gate_export, start_training

        if self.train_proc is None or self.train_proc.poll() is not None:
            ensure_gate_export(self.run_dir)
            self.train_proc = start_training(self.run_dir)
            append_event(self.run_dir, "train", pid=self.train_proc.pid)

    def stop_training(self) -> None:
        from watcher.train.process import stop_training

        stop_training(self.run_dir)

    def gate_verdict(self) -> GateVerdict:
        return read_gate_verdict(self.run_dir)

    def training_state(self) -> TrainingState | None:
        from watcher.train.state import read_training_state

        return read_training_state(self.run_dir)
