"""Files of a run directory: atomic JSON state files and the locked JSONL appender.

Appends follow DESIGN.md: one write() of a whole line under an exclusive flock, a writer killed
mid-write leaves at most one partial last line, and the next writer cuts it off before appending.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

import orjson


def atomic_write_json(path: Path, data: Any) -> None:
    """Readers never see a half-written file: write a temp file beside it, then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError, IsADirectoryError):
        return default


def append_event(run_dir: Path, kind: str, **fields: Any) -> None:
    line = json.dumps({"t": time.time(), "event": kind, **fields}, default=str) + "\n"
    with JsonlAppender(run_dir / "events.jsonl", fsync_interval=0) as app:
        app.append(line.encode())


class JsonlAppender:
    """Appends whole lines to a shared JSONL file; safe across processes."""

    def __init__(self, path: Path, fsync_interval: float = 1.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self._dirty = False
        self.repaired_bytes = 0

    def _repair_tail(self) -> None:
        """Cut a partial last line (a writer died mid-write) so our line starts on a fresh one."""
        size = os.fstat(self.fd).st_size
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return
        pos = size
        while pos > 0:
            start = max(0, pos - 65536)
            chunk = os.pread(self.fd, pos - start, start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            pos = start
        else:
            keep = 0
        os.ftruncate(self.fd, keep)
        self.repaired_bytes += size - keep

    def append(self, line: bytes) -> None:
        assert line.endswith(b"\n")
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            self._repair_tail()
            view = memoryview(line)
            while view:  # one write() in practice; loop only guards against short writes
                n = os.write(self.fd, view)
                view = view[n:]
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self._dirty = True
        self.maybe_sync()

    def maybe_sync(self, force: bool = False) -> None:
        if self._dirty and (force or time.monotonic() - self._last_sync >= self.fsync_interval):
            os.fsync(self.fd)
            self._dirty = False
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self.fd >= 0:
            self.maybe_sync(force=True)
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_control(path: Path) -> dict[str, Any]:
    data = read_json(path, {}) or {}
    return {"paused": bool(data.get("paused")), "stop": bool(data.get("stop")),
            "stop_workers": list(data.get("stop_workers", []))}


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); look at its state so a dead worker is not shown alive.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b")")[-1].split()[0] != b"Z"
    except OSError:
        return True
