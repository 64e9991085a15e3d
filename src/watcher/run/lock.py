"""Who owns a run and each worker slot: `flock`s the kernel releases when the holder dies.

`RunLock` is the supervisor's lock on `run.lock` for its whole life (a kill -9 never leaves a stale
lock); the pid written into the file only names the owner in the refusal. `SlotLock` is a worker's
lock on `workers/<id>.lock` with the round it serves, so a restart race cannot make two worker-0s.
`owner_gone` is a worker's watchdog: its supervisor died without detaching it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from watcher.errors import RunBusyError
from watcher.run.files import pid_alive, read_json
from watcher.run.paths import RunPaths


class _FileLock:
    """An exclusive, non-blocking flock on `path`; the file's text names the holder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def try_acquire(self, note: str | None) -> bool:
        """Lock and write `note` (None: a probe that leaves the holder's note as it is)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        self.fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock
            self.fd = -1


class RunLock(_FileLock):
    """The run's owner: held by the supervisor (a run, a resume, or an attach that adopted it)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(RunPaths(run_dir).lock)
        self.run_dir = run_dir

    def acquire(self, command: str) -> None:
        """Take the lock or refuse with one line naming the owner and what to do instead."""
        if not self.try_acquire(f"{os.getpid()} {command}"):
            raise RunBusyError(self.busy_message())

    def owner_pid(self) -> int | None:
        head = self.holder().split(" ", 1)[0]
        return int(head) if head.isdigit() else None

    def busy_message(self) -> str:
        pid = self.owner_pid()
        who = f"pid {pid}" if pid else "another process"
        return (f"run {self.run_dir.name} is owned by {who} (its supervisor holds {self.path.name}); "
                f"fix: watch it with `watcher attach --run-dir {self.run_dir}`, or stop that process first")

    def held_by_other(self) -> bool:
        """Whether a live process holds the lock (we do not keep it: a probe)."""
        if self.fd >= 0:
            return False
        if self.try_acquire(None):
            self.release()
            return False
        return True


class SlotLock(_FileLock):
    """A worker's slot (worker id); the file says which pid and round hold it."""

    def __init__(self, paths: RunPaths, worker_id: int) -> None:
        super().__init__(paths.slot_lock(worker_id))
        self.worker_id = worker_id

    def acquire(self, round_: int) -> None:
        if not self.try_acquire(f"{os.getpid()} round {round_}"):
            raise RunBusyError(f"worker {self.worker_id} is already running ({self.holder() or 'pid unknown'}); "
                               "this copy exits so no item is generated twice")


def owner_gone(paths: RunPaths) -> bool:
    """True when the run's supervisor died without detaching its workers: they should stop.

    Workers started by hand (no supervisor.json) or detached on purpose carry on.
    """
    info = read_json(paths.supervisor, None)
    if not isinstance(info, dict) or info.get("detached") or not info.get("pid"):
        return False
    return not pid_alive(int(info["pid"]))


def endpoint_down(base_url: str | None, timeout: float = 0.5) -> bool:
    """A loopback endpoint (the demo's simulator) refuses connections: nobody listens any more."""
    u = urlparse(base_url or "")
    if not u.port or u.hostname not in ("127.0.0.1", "localhost", "::1"):
        return False
    try:
        with socket.create_connection((u.hostname, u.port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def live_workers(paths: RunPaths) -> list[int]:
    """Pids of the run's workers still alive (detached, or orphans not yet stopped by their watchdog)."""
    info = read_json(paths.supervisor, {}) or {}
    pids = [int(e.get("pid") or 0) for e in (info.get("workers") or {}).values()]
    return [p for p in pids if p != os.getpid() and pid_alive(p)]


def acquire_run(run_dir: Path, command: str) -> RunLock:
    """Own the run for a start or resume: refused while a supervisor or live workers have it."""
    lock = RunLock(run_dir)
    lock.acquire(command)
    pids = live_workers(RunPaths(run_dir))
    if pids:
        lock.release()
        raise RunBusyError(
            f"run {run_dir.name} still has workers running (pids {', '.join(map(str, pids))}); "
            f"fix: watch them with `watcher attach --run-dir {run_dir}`, or wait: orphaned workers stop within seconds")
    return lock
