"""Incremental run statistics: every output file is tailed and each byte is decoded once.

`StatsAggregator.poll()` reads what is new in the dataset and the rejects file, then has its
`monitor.workers.WorkerTracker` read the event log, heartbeats and state files; `snapshot()` turns the
running aggregates into an immutable `watcher.monitor.snapshot.Snapshot` in O(groups + workers + feed).
Records are decoded into `run.records.StatsRecord`, holding only the fields the stats use, which is
much cheaper than parsing them whole; a line that does not decode is counted in `malformed_lines`
and skipped.

Counting rules (the numbers a user sees):
- accepted: distinct accepted ids (the same id twice counts once; its spend is still counted).
- rejected: distinct rejected ids not accepted since (a resume retries earlier rounds' rejects).
- pass rate = accepted / (accepted + rejected); attempts/accepted over distinct accepted records.
- tokens, cost, attempts, failures and finish_reasons count every record line: all spend is real.
- errors: failed attempts other than `below_min_score` (a quality miss, not an error).
"""

from __future__ import annotations

import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from watcher.monitor.idset import IdSet
from watcher.monitor.rate import Window, rate_and_eta
from watcher.monitor.snapshot import HIST_BINS, RATE_STEP_S, SCORE_BINS, FeedItem, GroupStats, Snapshot
from watcher.monitor.tail import FileTailer, TailBatch
from watcher.monitor.workers import WorkerTracker
from watcher.run.records import FAIL_RATE_LIMITED, StatsRecord, decode_stats_record, group_of

_decode = decode_stats_record
_DecodeError = msgspec.DecodeError  # ValidationError is a subclass


class _Group:
    __slots__ = ("done", "rejected", "score_sum", "hist", "attempts", "tokens_in", "tokens_out", "cost",
                 "scores")

    def __init__(self) -> None:
        self.done = 0
        self.rejected = 0
        self.score_sum = 0.0
        self.hist = [0] * HIST_BINS
        self.attempts = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.scores = [0] * SCORE_BINS  # every scored attempt, accepted or not


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
        self._tracker = WorkerTracker(self.run_dir, chunk_size)
        self._clear_records()

    # -- resetting ------------------------------------------------------------------------------
    def _clear_records(self) -> None:
        for t in getattr(self, "_tailers", ()):
            t.close()
        self._tailers = (FileTailer(self.dataset_path, self.chunk_size),
                         FileTailer(self.rejects_path, self.chunk_size))
        self._acc_ids = IdSet()
        self._rej_open: dict[str, str] = {}  # rejected ids not accepted since -> group
        self._groups: dict[str, _Group] = {name: _Group() for name in self.targets}
        self.accepted = 0
        self.rejected = 0
        self.attempts = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost = 0.0
        self.cost_unknown_calls = 0  # calls without usage in the response: their cost is not in `cost`
        self.malformed_lines = 0
        self.duplicates = 0
        self.lines = 0
        self._fr: dict[tuple[str, str], int] = {}  # (model, finish_reason) -> attempts
        self._fail: dict[str, int] = {}  # FAIL_* word -> failed attempts
        self._acc_times = Window(self.window_s)  # acceptances within the window
        self._done_times = Window(self.window_s)  # acceptances and rejections within the window
        self._first_t: float | None = None
        self._last_t: float | None = None
        self._feed: deque[_FeedRow] = deque(maxlen=self.feed_size)


    # -- polling --------------------------------------------------------------------------------
    def poll(self, now: float | None = None, *, max_bytes: int | None = None) -> None:
        """Read what is new. `max_bytes` bounds the record bytes read by this call (None: catch up)."""
        now = time.time() if now is None else now
        self._poll_records(now, max_bytes)
        self._tracker.poll(now)

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
        score_top = SCORE_BINS - 1
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
            gname = group_of(rec)
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
                self.cost_unknown_calls += u.unknown_calls
            c = rec.cost_usd or 0.0
            g.cost += c
            self.cost += c
            self.attempts += rec.attempts
            log = rec.attempt_log
            scores = g.scores
            if log:
                for a in log:
                    k = (a.model, a.finish_reason)
                    fr[k] = fr.get(k, 0) + 1
                    w = a.failure
                    if w:
                        fail[w] = fail.get(w, 0) + 1
                    sc = a.score
                    if sc is not None:
                        i = int(sc * SCORE_BINS)
                        scores[0 if i < 0 else score_top if i > score_top else i] += 1
            else:
                k = (rec.model, rec.finish_reason)
                fr[k] = fr.get(k, 0) + 1
                sc = rec.score if rec.score is not None else rec.best_score  # no log: its one known score
                if sc is not None:
                    i = int(sc * SCORE_BINS)
                    scores[0 if i < 0 else score_top if i > score_top else i] += 1
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
    def _salvage(line: bytes) -> StatsRecord | None:
        """A dead writer's partial line glued to the next record: recover the record after it."""
        i = line.rfind(b'{"id"')
        if i <= 0:
            return None
        try:
            return _decode(line[i:])
        except _DecodeError:
            return None

    def _trim(self, end: float) -> None:
        start = self._tracker.pauses.window_start(end, self.window_s)  # the window is of running time
        self._acc_times.trim(end, start)
        self._done_times.trim(end, start)


    def snapshot(self, now: float | None = None) -> Snapshot:
        now = time.time() if now is None else now
        tracker = self._tracker
        workers = tracker.worker_stats()
        state = tracker.run_state(workers, accepted=self.accepted, rejected=self.rejected,
                                  total_target=self.total_target)
        live = any(w.alive for w in workers)
        # Live run: the window ends now. Finished or stopped: it ends at the last record, so the
        # rate is what the run achieved rather than decaying to zero while nobody writes.
        end = now if live or self._last_t is None else self._last_t
        pauses = tracker.pauses
        if pauses.open_at is not None and live:
            end = min(end, pauses.open_at)  # paused: rate and ETA stand where the pause found them
        self._trim(end)
        origin_candidates = [t for t in (self._first_t, tracker.session_start, tracker.supervisor_started_at)
                             if isinstance(t, int | float) and t > 0]
        origin = min(origin_candidates) if origin_candidates else self._created
        span = min(self.window_s, max(1.0, end - origin - pauses.within(origin, end)))
        n_acc, n_done = self._acc_times.n, self._done_times.n  # trimmed to the window ending at `end`
        remaining = max(0, self.total_target - self.accepted - self.rejected)
        rate_per_min, eta = rate_and_eta(n_acc, n_done, span, remaining, self.total_target)
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
                tokens_in=g.tokens_in, tokens_out=g.tokens_out, cost_usd=g.cost, attempt_scores=tuple(g.scores)))

        finish: dict[str, dict[str, int]] = {}
        for (model, reason), n in self._fr.items():
            d = finish.setdefault(model or "?", {})
            d[reason or "other"] = d.get(reason or "other", 0) + n
        waits = sum(w.rate_limit_waits for w in workers)
        failures = dict(self._fail)
        if waits:
            failures[FAIL_RATE_LIMITED] = failures.get(FAIL_RATE_LIMITED, 0) + waits
        # One vocabulary (DESIGN.md "Outcomes"): errors are failed calls, retries repeated calls.
        errors = sum(w.errors for w in workers)
        retries = sum(w.retries for w in workers)

        paths = self._paths
        total = self.total_target
        feed = tuple(FeedItem(kind=r[0], index=r[1], total=total, group=r[2], score=r[3], model=r[4],
                              attempts=r[5], id=r[6], reason=r[7], detail=r[8], path=paths[r[9]],
                              offset=r[10], timestamp=r[11]) for r in self._feed)
        started = tracker.session_start or tracker.supervisor_started_at or self._first_t or self._created
        snap_now = now if live or state not in ("done", "failed", "stopped") else max(float(started),
                                                                                     self._last_t or now)
        return Snapshot(
            run=self.run, job=self.job, group_label=self.group_label, state=state,
            # A finished run's clock stops at its last record, so elapsed is how long the run took.
            started_at=float(started), now=snap_now, paused_s=pauses.within(float(started), snap_now),
            total_target=total, accepted=self.accepted,
            rejected=self.rejected, errors=errors, attempts=self.attempts,
            rate_per_min=rate_per_min, eta_s=eta,
            tokens_in=self.tokens_in, tokens_out=self.tokens_out, cost_usd=self.cost,
            projected_cost_usd=projected, groups=tuple(groups), finish_reasons=finish, failures=failures,
            workers=tuple(workers), feed=feed, malformed_lines=self.malformed_lines, rate_limit_waits=waits,
            retries=retries, cost_unknown_calls=self.cost_unknown_calls,
            min_score=self.min_score, messages=tracker.messages,
            accepted_series=self._acc_times.series(end, span, RATE_STEP_S, pauses))
