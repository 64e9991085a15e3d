"""Incremental tailing of append-only JSONL files by byte offset.

Each byte of a file is read once: a `FileTailer` keeps the offset it has read up to and reads only
`[offset, size)` on the next poll, in chunks, so memory depends on the chunk size and not on the file.
Only complete lines (ending in `\\n`) are handed out; a partial last line is held until its newline
arrives. Truncation (size below our offset) and replacement (a new inode at the path) are reported as
`reset`: the consumer rebuilds from scratch from the lines of the new file, which start at offset 0.
A missing file is "waiting", never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass(slots=True)
class TailBatch:
    """Complete new lines of one file: `data` is a run of whole lines starting at byte `start`."""

    data: bytes = b""
    start: int = 0
    reset: bool = False  # truncated or replaced: drop what was built from earlier lines
    waiting: bool = False  # the file does not exist (yet)
    more: bool = False  # the poll stopped at its byte budget; more data is already available

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """(offset of the line in the file, line without its newline), in file order."""
        off = self.start
        for line in self.data.split(b"\n")[:-1]:  # data ends with "\n": the last piece is empty
            yield off, line
            off += len(line) + 1

    @property
    def lines(self) -> list[bytes]:
        return self.data.split(b"\n")[:-1]

    def __len__(self) -> int:
        return self.data.count(b"\n")

    def __bool__(self) -> bool:
        return bool(self.data) or self.reset


@dataclass(slots=True)
class _Open:
    fd: int
    dev: int
    ino: int


class FileTailer:
    """Follows one append-only file; `poll()` returns the complete lines appended since the last call."""

    def __init__(self, path: Path | str, chunk_size: int = 1 << 20, max_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.chunk_size = max(1, int(chunk_size))
        # One poll hands out about this much at most (then `more` is set), so a huge backlog is consumed
        # in bounded batches and memory stays flat whatever the file size. By default one chunk.
        self.max_bytes = max_bytes if max_bytes is not None else self.chunk_size
        self.offset = 0  # bytes of the file consumed (complete lines + the held partial line)
        self.bytes_read = 0  # new bytes read from the file, for tests and benchmarks
        self.bytes_verified = 0  # held partial-line bytes re-checked after the file grew (rare)
        self.resets = 0
        self._pending = b""  # the partial last line: bytes after the last newline
        self._open: _Open | None = None
        self._opened_once = False

    # -- state ----------------------------------------------------------------------------------
    @property
    def waiting(self) -> bool:
        return self._open is None

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    @property
    def line_offset(self) -> int:
        """Offset just after the last complete line handed out."""
        return self.offset - len(self._pending)

    def close(self) -> None:
        if self._open is not None:
            os.close(self._open.fd)
            self._open = None

    def __del__(self) -> None:  # fds must not leak when a tailer is dropped
        try:
            self.close()
        except Exception:
            pass

    # -- polling --------------------------------------------------------------------------------
    def _reopen(self) -> bool:
        """Open the file at the path; True when it replaces one we had open (or one we had read)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return False
        st = os.fstat(fd)
        replaced = self._open is not None or (self._opened_once and self.offset > 0)
        self.close()
        self._open = _Open(fd, st.st_dev, st.st_ino)
        self._opened_once = True
        return replaced

    def _restart(self) -> None:
        self.offset = 0
        self._pending = b""
        self.resets += 1

    def poll(self) -> TailBatch:
        reset = False
        try:
            st = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            # Gone (maybe about to be replaced): wait; a new inode later is seen as a replacement.
            return TailBatch(start=self.line_offset, waiting=True)
        if self._open is None or (st.st_ino, st.st_dev) != (self._open.ino, self._open.dev):
            if self._reopen():
                reset = True
                self._restart()
            if self._open is None:
                return TailBatch(start=self.line_offset, waiting=True)
            st = os.fstat(self._open.fd)
        fd = self._open.fd
        size = st.st_size
        if size < self.offset:
            start_partial = self.offset - len(self._pending)
            if self._pending and size >= start_partial:
                # A writer cut a dead writer's partial last line (see runfiles.JsonlAppender): drop
                # the held fragment and go on from its start; nothing handed out is affected.
                self.offset, self._pending = start_partial, b""
            else:
                reset = True
                self._restart()
        elif size > self.offset and self._pending:
            # The held fragment may have been cut and replaced by a fresh line since we read it.
            start_partial = self.offset - len(self._pending)
            now = os.pread(fd, len(self._pending), start_partial)
            self.bytes_verified += len(now)
            if now != self._pending:
                self.offset, self._pending = start_partial, b""
        elif size > self.offset > 0:
            # Rewritten in place and grown past our offset between two polls (same inode, bigger):
            # the size can't tell, but the byte before our offset is then rarely still a newline.
            self.bytes_verified += 1
            if os.pread(fd, 1, self.offset - 1) != b"\n":
                reset = True
                self._restart()
        if size <= self.offset:
            return TailBatch(start=self.line_offset, reset=reset)

        start = self.line_offset
        parts: list[bytes] = [self._pending] if self._pending else []
        got = 0  # bytes of complete lines collected so far (past the budget we stop)
        buffered = len(self._pending)
        last_nl_part = -1
        while self.offset < size:
            n = min(self.chunk_size, size - self.offset)
            chunk = os.pread(fd, n, self.offset)
            if not chunk:  # truncated under us; the next poll sees the smaller size
                break
            self.offset += len(chunk)
            self.bytes_read += len(chunk)
            parts.append(chunk)
            buffered += len(chunk)
            if b"\n" in chunk:
                last_nl_part = len(parts) - 1
                got = buffered
                if got >= self.max_bytes:
                    break
        if last_nl_part < 0:
            self._pending = b"".join(parts)
            return TailBatch(start=start, reset=reset)
        tail = parts[last_nl_part]
        cut = tail.rfind(b"\n") + 1
        parts[last_nl_part] = tail[:cut]
        rest = [tail[cut:], *parts[last_nl_part + 1:]]
        self._pending = b"".join(rest)
        data = parts[0] if len(parts[: last_nl_part + 1]) == 1 else b"".join(parts[: last_nl_part + 1])
        return TailBatch(data=data, start=start, reset=reset, more=self.offset < size)

    def iter_batches(self) -> Iterator[TailBatch]:
        """Poll until caught up: yields the batches of everything available now (at least one)."""
        while True:
            b = self.poll()
            yield b
            if not b.more:
                return


@dataclass(slots=True)
class MultiTailer:
    """Several tailers by name; `poll()` gives each file's batch (files not yet there are waiting)."""

    paths: Mapping[str, Path | str]
    chunk_size: int = 1 << 20
    tailers: dict[str, FileTailer] = field(init=False)

    def __post_init__(self) -> None:
        self.tailers = {name: FileTailer(p, self.chunk_size) for name, p in self.paths.items()}

    def __getitem__(self, name: str) -> FileTailer:
        return self.tailers[name]

    def poll(self) -> dict[str, TailBatch]:
        return {name: t.poll() for name, t in self.tailers.items()}

    def close(self) -> None:
        for t in self.tailers.values():
            t.close()


def read_record(path: str | Path, offset: int, max_bytes: int = 64 << 20) -> dict[str, Any] | None:
    """The full record whose line starts at `offset` in `path` (detail screen); None if unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            line = f.readline(max_bytes)
    except OSError:
        return None
    if not line.endswith(b"\n"):  # a partial line is never trusted
        return None
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return rec if isinstance(rec, dict) else None
