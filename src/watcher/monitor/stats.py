"""Incremental run statistics: every output file is tailed and each byte is decoded once.

`StatsAggregator.poll()` reads what is new in the dataset, the rejects file, the heartbeats, the
control/supervisor state files and the event log; `snapshot()` turns the running aggregates into an
immutable `watcher.monitor.snapshot.Snapshot` in O(groups + workers + feed). Records are decoded into a small
`msgspec.Struct` holding only the fields the stats use, which is much cheaper than parsing them whole;
a line that does not decode is counted in `malformed_lines` and skipped.

Counting rules (the numbers a user sees):
- accepted: distinct accepted ids (the same id twice counts once; its spend is still counted).
- rejected: distinct rejected ids not accepted since (a resume retries earlier rounds' rejects).
- pass rate = accepted / (accepted + rejected); attempts/accepted over distinct accepted records.
- tokens, cost, attempts, failures and finish_reasons count every record line: all spend is real.
- errors: failed attempts other than `below_min_score` (a quality miss, not an error).
"""

from __future__ import annotations

import math
import os
import time
from array import array
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson

from watcher.monitor.snapshot import HIST_BINS, FeedItem, GroupStats, Snapshot, WorkerStats
from watcher.monitor.tail import FileTailer, TailBatch
from watcher.run.files import pid_alive
from watcher.run.records import FAIL_BELOW_MIN, FAIL_RATE_LIMITED, Heartbeat, decode_heartbeat

STALE_HEARTBEAT_S = 5.0
TERMINAL_STATES = ("done", "stopped", "failed")
_MAX_MESSAGES = 50


# -- the decoded subset of a record ---------------------------------------------------------------
class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0


class _Att(msgspec.Struct):
    model: str = ""
    finish_reason: str = ""
    failure: str | None = None


class _Rec(msgspec.Struct):
    """Fields of Accepted/Rejected that stats need; everything else is skipped by the decoder."""

    id: str
    status: str = ""
    form: str | None = None
    category: str | None = None
    variant: str | None = None
    score: float | None = None
    best_score: float | None = None
    attempts: int = 1
    model: str = ""
    finish_reason: str = ""
    usage: _Usage | None = None
    cost_usd: float | None = 0.0
    timestamp: str = ""
    reason: str | None = None
    detail: str | None = None
    attempt_log: list[_Att] = []


_decode = msgspec.json.Decoder(_Rec).decode
_DecodeError = msgspec.DecodeError  # ValidationError is a subclass


class _IdSet:
    """Set of ids kept as 64-bit hashes in one open-addressing array (about 16 bytes per id).

    A Python set of strings costs ~100 bytes per id; this keeps catch-up memory near flat. Hashes
    are per-process (str hash), which is fine for an in-memory set; a 64-bit collision over a million
    ids has a probability around 1e-8.
    """

    __slots__ = ("_table", "_mask", "_n")

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._table = array("Q", [0]) * capacity
        self._mask = capacity - 1
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def _probe(self, key: str) -> tuple[int, int, bool]:
        """(hash, slot, present): the key's slot, or the empty slot where it would go."""
        h = (hash(key) & 0xFFFFFFFFFFFFFFFF) or 1  # 0 marks an empty slot
        t, m = self._table, self._mask
        i = h & m
        while True:
            v = t[i]
            if v == h:
                return h, i, True
            if v == 0:
                return h, i, False
            i = (i + 1) & m

    def add(self, key: str) -> bool:
        """Insert; False when already present."""
        h, i, present = self._probe(key)
        if present:
            return False
        self._table[i] = h
        self._n += 1
        if self._n * 2 > self._mask:
            self._grow()
        return True

    def __contains__(self, key: str) -> bool:
        return self._probe(key)[2]

    def _grow(self) -> None:
        old = self._table
        cap = len(old) * 2
        t = array("Q", [0]) * cap  # no temporary bytes object: peak stays old + new
        m = cap - 1
        for h in old:
            if h:
                i = h & m
                while t[i]:
                    i = (i + 1) & m
                t[i] = h
        self._table, self._mask = t, m


class _Window:
    """Event counts in 1-second buckets over a sliding window: memory O(window), not O(rate)."""

    __slots__ = ("span", "_buckets", "_order", "n")

    def __init__(self, span: float) -> None:
        self.span = span
        self._buckets: dict[int, int] = {}
        self._order: deque[int] = deque()  # bucket seconds in arrival order (nearly sorted)
        self.n = 0

    def add(self, t: float) -> None:
        sec = int(t)
        b = self._buckets
        if sec in b:
            b[sec] += 1
        else:
            b[sec] = 1
            self._order.append(sec)
        self.n += 1

    def trim(self, end: float) -> None:
        lo = int(end - self.span)  # whole buckets: the window is exact to a second
        order, b = self._order, self._buckets
        while order and order[0] < lo:
            self.n -= b.pop(order.popleft())


class _Group:
    __slots__ = ("done", "rejected", "score_sum", "hist", "attempts", "tokens_in", "tokens_out", "cost")

    def __init__(self) -> None:
        self.done = 0
        self.rejected = 0
        self.score_sum = 0.0
        self.hist = [0] * HIST_BINS
        self.attempts = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0


class _Worker:
    __slots__ = ("hb", "key", "banked_waits", "alive")

    def __init__(self, hb: Heartbeat, key: tuple[int, int, int]) -> None:
        self.hb = hb
        self.key = key
        self.banked_waits = 0  # rate-limit waits of earlier processes of this worker id
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


# -- timestamps -----------------------------------------------------------------------------------
_ts_cache: dict[str, float] = {}


def parse_ts(s: str) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (naive means UTC); None when it does not parse."""
    # records.utc_now() writes "YYYY-MM-DDTHH:MM:SS.ffffffZ": cache the whole-second part.
    if len(s) > 20 and s[19] == "." and s[-1] == "Z":
        head = s[:19]
        base = _ts_cache.get(head)
        if base is None:
            try:
                base = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
            except ValueError:
                return None
            if len(_ts_cache) > 4096:
                _ts_cache.clear()
            _ts_cache[head] = base
        try:
            return base + float("0" + s[19:-1])
        except ValueError:
            return None
    try:
        dt = datetime.fromisoformat(s)
    except (ValueError, TypeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


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


# Feed entries are kept as plain tuples (cheap during catch-up) and become FeedItems in snapshot().
_FeedRow = tuple[str, int, str, "float | None", str, int, str, "str | None", "str | None", int, int, str]


class StatsAggregator:
    def __init__(self, run_dir: Path, *, run: str, job: str, group_label: str, targets: dict[str, int],
                 min_score: float | None, dataset_path: Path, rejects_path: Path, window_s: float = 300.0,
                 feed_size: int = 200, chunk_size: int = 1 << 20) -> None:
        self.run_dir = Path(run_dir)
        self.run, self.job, self.group_label = run, job, group_label
        self.targets = dict(targets)
        self.total_target = sum(self.targets.values())
        self.min_score = min_score
        self.dataset_path, self.rejects_path = Path(dataset_path), Path(rejects_path)
        self.window_s = float(window_s)
        self.feed_size = feed_size
        self.chunk_size = chunk_size
        self._paths = (str(self.dataset_path), str(self.rejects_path))
        self._created = time.time()
        self.caught_up = False  # the last poll read everything that was there
        self.rebuilds = 0
        self._events = FileTailer(self.run_dir / "events.jsonl", chunk_size)
        self._workers: dict[int, _Worker] = {}
        self._control: dict[str, Any] = {}
        self._control_key: tuple[int, int, int] | None = None
        self._supervisor: dict[str, Any] = {}
        self._supervisor_key: tuple[int, int, int] | None = None
        self._sup_alive = False
        self._clear_events()
        self._clear_records()
        self._state = "starting"
        self._any_alive = False

    # -- resetting ------------------------------------------------------------------------------
    def _clear_records(self) -> None:
        for t in getattr(self, "_tailers", ()):
            t.close()
        self._tailers = (FileTailer(self.dataset_path, self.chunk_size),
                         FileTailer(self.rejects_path, self.chunk_size))
        self._acc_ids = _IdSet()
        self._rej_open: dict[str, str] = {}  # rejected ids not accepted since -> group
        self._groups: dict[str, _Group] = {name: _Group() for name in self.targets}
        self.accepted = 0
        self.rejected = 0
        self.attempts = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.malformed_lines = 0
        self.duplicates = 0
        self.lines = 0
        self._fr: dict[tuple[str, str], int] = {}  # (model, finish_reason) -> attempts
        self._fail: dict[str, int] = {}  # FAIL_* word -> failed attempts
        self._acc_times = _Window(self.window_s)  # acceptances within the window
        self._done_times = _Window(self.window_s)  # acceptances and rejections within the window
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._feed: deque[_FeedRow] = deque(maxlen=self.feed_size)

    def _clear_events(self) -> None:
        self._ev: dict[int, _EvWorker] = {}
        self._messages: deque[str] = deque(maxlen=_MAX_MESSAGES)
        self._session_start: float | None = None

    # -- polling --------------------------------------------------------------------------------
    def poll(self, now: float | None = None, *, max_bytes: int | None = None) -> None:
        """Read what is new. `max_bytes` bounds the record bytes read by this call (None: catch up)."""
        now = time.time() if now is None else now
        self._poll_records(now, max_bytes)
        self._poll_events()
        self._poll_state(now)

    def _poll_records(self, now: float, max_bytes: int | None) -> None:
        budget = max_bytes if max_bytes is not None else -1  # -1: no limit
        caught_up = True
        for _ in range(3):  # a reset restarts both files; bounded in case the files keep changing
            restarted = False
            for kind in (0, 1):
                tailer = self._tailers[kind]
                while budget != 0:
                    b = tailer.poll()
                    if b.reset:
                        # Truncated or replaced: everything counted may be gone; re-read both files.
                        self._clear_records()
                        self.rebuilds += 1
                        restarted = True
                        break
                    if b.data:
                        self._consume(kind, b, now)
                        if budget > 0:
                            budget = max(0, budget - len(b.data))
                    if not b.more:
                        break
                else:
                    caught_up = False
                if restarted:
                    break
            if not restarted:
                break
        self.caught_up = caught_up
        self._trim(self._last_t if self._last_t is not None else now)

    def _consume(self, kind: int, b: TailBatch, now: float) -> None:
        """Aggregate one batch of complete lines. The hot loop of a catch-up: keep it lean."""
        accepted = kind == 0
        path_idx = kind
        decode = _decode
        groups = self._groups
        fr, fail = self._fr, self._fail
        acc_ids = self._acc_ids
        acc_add, done_add = self._acc_times.add, self._done_times.add
        feed_append = self._feed.append
        hist_top = HIST_BINS - 1
        off = b.start
        late = now + 5.0  # record times beyond this are clock skew: use the time we saw the line
        first_t, last_t = self._first_t, self._last_t
        for line in b.data.split(b"\n"):
            n = len(line) + 1
            line_off = off
            off += n
            if n == 1:
                continue  # blank line (or the empty piece after the final newline)
            self.lines += 1
            try:
                rec = decode(line)
            except _DecodeError:
                rec = self._salvage(line)
                self.malformed_lines += 1
                if rec is None:
                    continue
                line_off += line.rfind(b'{"id"')
            if accepted and rec.score is None:
                self.malformed_lines += 1
                continue
            gname = rec.form or rec.category or rec.variant or "?"
            g = groups.get(gname)
            if g is None:
                g = groups[gname] = _Group()
            # spend: every line
            u = rec.usage
            if u is not None:
                g.tokens_in += u.input_tokens
                g.tokens_out += u.output_tokens
                self.tokens_in += u.input_tokens
                self.tokens_out += u.output_tokens
            c = rec.cost_usd or 0.0
            g.cost += c
            self.cost += c
            self.attempts += rec.attempts
            log = rec.attempt_log
            if log:
                for a in log:
                    k = (a.model, a.finish_reason)
                    fr[k] = fr.get(k, 0) + 1
                    w = a.failure
                    if w:
                        fail[w] = fail.get(w, 0) + 1
            else:
                k = (rec.model, rec.finish_reason)
                fr[k] = fr.get(k, 0) + 1
            ts = parse_ts(rec.timestamp) if rec.timestamp else None
            t = ts if ts is not None and ts <= late else now
            if first_t is None or t < first_t:
                first_t = t
            if last_t is None or t > last_t:
                last_t = t
            if accepted:
                if not acc_ids.add(rec.id):
                    self.duplicates += 1
                    continue
                s = rec.score
                g.done += 1
                g.score_sum += s
                g.attempts += rec.attempts
                i = int(s * HIST_BINS)
                g.hist[0 if i < 0 else hist_top if i > hist_top else i] += 1
                self.accepted += 1
                was = self._rej_open.pop(rec.id, None)
                if was is not None:
                    groups[was].rejected -= 1
                    self.rejected -= 1
                acc_add(t)
                done_add(t)
                feed_append(("accepted", self.accepted, gname, s, rec.model, rec.attempts, rec.id, None, None,
                             path_idx, line_off, rec.timestamp))
            else:
                if rec.id not in acc_ids and rec.id not in self._rej_open:
                    self._rej_open[rec.id] = gname
                    g.rejected += 1
                    self.rejected += 1
                done_add(t)
                feed_append(("rejected", self.accepted, gname, rec.best_score if rec.score is None else rec.score,
                             rec.model, rec.attempts, rec.id, rec.reason, rec.detail, path_idx, line_off,
                             rec.timestamp))
        self._first_t, self._last_t = first_t, last_t
        if last_t is not None:
            self._trim(last_t)  # keep the windows bounded during a long catch-up

    @staticmethod
    def _salvage(line: bytes) -> _Rec | None:
        """A dead writer's partial line glued to the next record: recover the record after it."""
        i = line.rfind(b'{"id"')
        if i <= 0:
            return None
        try:
            return _decode(line[i:])
        except _DecodeError:
            return None

    def _trim(self, end: float) -> None:
        self._acc_times.trim(end)
        self._done_times.trim(end)

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
        if kind == "start":
            self._session_start = t or self._session_start
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
        key = _stat_key(self.run_dir / "control.json")
        if key != self._control_key:
            self._control_key = key
            data = _read_json_file(self.run_dir / "control.json") if key else {}
            if isinstance(data, dict):
                self._control = data
        key = _stat_key(self.run_dir / "supervisor.json")
        if key != self._supervisor_key:
            self._supervisor_key = key
            data = _read_json_file(self.run_dir / "supervisor.json") if key else {}
            if isinstance(data, dict):
                self._supervisor = data
        pid = self._supervisor.get("pid")
        self._sup_alive = isinstance(pid, int) and pid_alive(pid)
        self._poll_heartbeats(now)

    def _poll_heartbeats(self, now: float) -> None:
        seen: set[int] = set()
        try:
            entries = list(os.scandir(self.run_dir / "workers"))
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
                if hb.started_at != w.hb.started_at or hb.pid != w.hb.pid:
                    w.banked_waits += w.hb.rate_limit_waits  # a new process counts from zero
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

    # -- snapshot -------------------------------------------------------------------------------
    def _worker_stats(self) -> list[WorkerStats]:
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
            out.append(WorkerStats(
                id=wid, pid=hb.pid, backend=hb.backend, model=hb.model, state=state, alive=w.alive,
                in_flight=hb.in_flight if w.alive else 0, concurrency=hb.concurrency, done=hb.done,
                rejected=hb.rejected, errors=hb.errors, rate_limit_waits=w.banked_waits + hb.rate_limit_waits,
                rate_limited_until=hb.rate_limited_until, last_error=last_error, last_error_at=last_error_at,
                updated_at=hb.updated_at, restarts=ev.restarts if ev else 0,
                log_tail=ev.log_tail if ev and state == "failed" else None))
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

    def _run_state(self, workers: list[WorkerStats]) -> str:
        paused = bool(self._control.get("paused"))
        stop = bool(self._control.get("stop"))
        # A worker that reported done/stopped is finished even while its process is still exiting.
        alive = [w for w in workers if w.alive and w.state not in TERMINAL_STATES]
        finished_all = self.total_target > 0 and self.accepted + self.rejected >= self.total_target
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
            return "stopped" if (self.accepted or self.rejected or stop) else "starting"
        if all(w.state == "done" for w in workers) or (
                finished_all and not any(w.state in ("failed", "restarting") for w in workers)):
            return "done"
        if self._sup_alive and not stop and any(w.state == "restarting" for w in workers):
            return "running"
        if any(w.state == "failed" for w in workers):
            return "failed"
        return "stopped"

    def snapshot(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        workers = self._worker_stats()
        state = self._run_state(workers)
        live = any(w.alive for w in workers)
        # Live run: the window ends now. Finished or stopped: it ends at the last record, so the
        # rate is what the run achieved rather than decaying to zero while nobody writes.
        end = now if live or self._last_t is None else self._last_t
        self._trim(end)
        origin_candidates = [t for t in (self._first_t, self._session_start, self._supervisor.get("started_at"))
                             if isinstance(t, int | float) and t > 0]
        origin = min(origin_candidates) if origin_candidates else self._created
        span = min(self.window_s, max(1.0, end - origin))
        n_acc, n_done = self._acc_times.n, self._done_times.n  # trimmed to the window ending at `end`
        rate_per_min = n_acc / span * 60.0
        done_rate_s = n_done / span
        remaining = max(0, self.total_target - self.accepted - self.rejected)
        if remaining == 0:
            eta = 0.0 if self.total_target else None
        else:
            eta = remaining / done_rate_s if done_rate_s > 0 else None
        progress = (self.accepted + self.rejected) / self.total_target if self.total_target else 0.0
        projected = self.cost / progress if progress > 0 else None

        groups = []
        for name, g in self._groups.items():
            seen = g.done + g.rejected
            groups.append(GroupStats(
                name=name, done=g.done, target=self.targets.get(name, 0), rejected=g.rejected,
                mean_score=g.score_sum / g.done if g.done else None, histogram=tuple(g.hist),
                pass_rate=g.done / seen if seen else None,
                attempts_per_accepted=g.attempts / g.done if g.done else None,
                tokens_in=g.tokens_in, tokens_out=g.tokens_out, cost_usd=g.cost))

        finish: dict[str, dict[str, int]] = {}
        for (model, reason), n in self._fr.items():
            d = finish.setdefault(model or "?", {})
            d[reason or "other"] = d.get(reason or "other", 0) + n
        waits = sum(w.rate_limit_waits for w in workers)
        failures = dict(self._fail)
        if waits:
            failures[FAIL_RATE_LIMITED] = failures.get(FAIL_RATE_LIMITED, 0) + waits
        errors = sum(n for word, n in self._fail.items() if word != FAIL_BELOW_MIN)

        paths = self._paths
        total = self.total_target
        feed = tuple(FeedItem(kind=r[0], index=r[1], total=total, group=r[2], score=r[3], model=r[4],
                              attempts=r[5], id=r[6], reason=r[7], detail=r[8], path=paths[r[9]],
                              offset=r[10], timestamp=r[11]) for r in self._feed)
        started = self._session_start or self._supervisor.get("started_at") or self._first_t or self._created
        return Snapshot(
            run=self.run, job=self.job, group_label=self.group_label, state=state,
            # A finished run's clock stops at its last record, so elapsed is how long the run took.
            started_at=float(started), now=now if live or state not in ("done", "failed", "stopped")
            else max(float(started), self._last_t or now), total_target=total, accepted=self.accepted,
            rejected=self.rejected, errors=errors, attempts=self.attempts,
            rate_per_min=rate_per_min if math.isfinite(rate_per_min) else 0.0, eta_s=eta,
            tokens_in=self.tokens_in, tokens_out=self.tokens_out, cost_usd=self.cost,
            projected_cost_usd=projected, groups=tuple(groups), finish_reasons=finish, failures=failures,
            workers=tuple(workers), feed=feed, malformed_lines=self.malformed_lines, rate_limit_waits=waits,
            min_score=self.min_score, messages=tuple(self._messages))
