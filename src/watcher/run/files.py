"""Files of a run directory: atomic JSON state files and the locked JSONL appender.

Appends follow DESIGN.md: one write() of a whole line under an exclusive flock, a writer killed
mid-write leaves at most one partial last line, and the next writer cuts it off before appending.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from watcher.errors import DiskFullError

TMP_SUFFIX = ".tmp"


def disk_full(path: Path | str, exc: OSError) -> DiskFullError:
    """The one-line error for ENOSPC: which file and how much room its filesystem has left."""
    try:
        free = shutil.disk_usage(Path(path).parent).free
        left = f"{free / 1024:.0f} KiB free" if free < 1 << 30 else f"{free / (1 << 30):.1f} GiB free"
    except OSError:
        left = "free space unknown"
    return DiskFullError(f"no space left on device writing {path} ({left}); "
                         "fix: make room and run the same command again (finished items are kept)")


def atomic_write_bytes(path: Path, data: bytes, fsync: bool = True) -> None:
    """Readers never see a half-written file, and a crash or a full disk leaves the old one whole:
    write a temp file beside it, fsync, rename. `clean_stale_temps` removes temps a kill left."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        if e.errno == errno.ENOSPC:
            raise disk_full(path, e) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, data: Any, fsync: bool = False) -> None:
    """Heartbeats and control files (rewritten several times a second) skip fsync; state files pass fsync=True."""
    atomic_write_bytes(path, orjson.dumps(data, option=orjson.OPT_INDENT_2), fsync=fsync)


def clean_stale_temps(*dirs: Path) -> int:
    """Remove `.NAME.PID.tmp` files whose writer (PID) is dead: what a kill mid-write leaves behind."""
    removed = 0
    for d in dirs:
        try:
            names = [p for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)]
        except OSError:
            continue
        for p in names:
            pid = p.name[: -len(TMP_SUFFIX)].rsplit(".", 1)[-1]
            if not pid.isdigit() or pid_alive(int(pid)):
                continue  # not ours to judge (another writer's naming), or its writer is still at work
            p.unlink(missing_ok=True)
            removed += 1
    return removed


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
    """Appends whole lines to a shared JSONL file; safe across processes.

    Before each append it checks that the path still names its open file: a file replaced under it
    (`sed -i`, an editor, `mv`) is reopened so nothing goes to a deleted inode; `on_change(what)` is
    told ("replaced" or "truncated") so the run's events say so.
    """

    def __init__(self, path: Path, fsync_interval: float = 1.0,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = -1
        self._open()
        self.fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self._dirty = False
        self.repaired_bytes = 0
        self.reopened = 0
        self.on_change = on_change

    def _open(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._end = os.fstat(self.fd).st_size  # where our last write ended: less later means truncated

    def _check_file(self) -> None:
        """Reopen when the path no longer names our file; note a truncation (O_APPEND copes with it)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        mine = os.fstat(self.fd)
        if st is None or (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev):
            if self._dirty:
                os.fsync(self.fd)
            os.close(self.fd)
            self._open()
            self.reopened += 1
            if self.on_change:
                self.on_change("replaced" if st is not None else "deleted")
        elif mine.st_size < self._end:
            self._end = mine.st_size
            if self.on_change:
                self.on_change("truncated")

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
        self._check_file()
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            self._repair_tail()
            start = os.fstat(self.fd).st_size
            view = memoryview(line)
            try:
                while view:  # one write() in practice; loop only guards against short writes
                    n = os.write(self.fd, view)
                    view = view[n:]
            except OSError as e:
                if view.nbytes != len(line):  # part of the line went out: cut it, the file stays parseable
                    os.ftruncate(self.fd, start)
                if e.errno == errno.ENOSPC:
                    raise disk_full(self.path, e) from None
                raise
            self._end = start + len(line)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        self._dirty = True
        self.maybe_sync()

    def maybe_sync(self, force: bool = False) -> None:
        if self._dirty and (force or time.monotonic() - self._last_sync >= self.fsync_interval):
            try:
                os.fsync(self.fd)
            except OSError as e:
                if e.errno == errno.ENOSPC:
                    raise disk_full(self.path, e) from None
                raise
            self._dirty = False
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self.fd >= 0:
            try:
                self.maybe_sync(force=True)
            finally:
                os.close(self.fd)
                self.fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_control(path: Path) -> dict[str, Any]:
    data = read_json(path, {}) or {}
    return {"paused": bool(data.get("paused")), "stop": bool(data.get("stop")),
            "stop_workers": list(data.get("stop_workers", [])),
            "cancel_batches": bool(data.get("cancel_batches"))}  # batch mode: cancel batches in flight on stop


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
