"""StatsAggregator: exact aggregates from accepted/rejected files, heartbeats, control and events."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from watcher.monitor.idset import IdSet
from watcher.monitor.snapshot import SCORE_BINS
from watcher.monitor.stats import StatsAggregator, parse_ts
from watcher.monitor.tail import read_record
from watcher.run.files import atomic_write_json
from watcher.run.records import Accepted, Attempt, Heartbeat, Rejected, Usage, encode_line

T0 = 1_700_000_000.0


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(round(t % 1 * 1e6)):06d}Z"


def acc(i: int | str, form: str = "Sonnet", score: float = 0.9, *, t: float = T0, log: list[Attempt] | None = None,
        model: str = "m1", tin: int = 10, tout: int = 5, cost: float = 0.01) -> Accepted:
    log = log if log is not None else [Attempt(model=model, finish_reason="stop")]
    return Accepted(id=str(i), job="poetry", prompt="p", synth_trace="s", natural_trace="n", score=score, passed=True,
                    rubric=[{"name": "x", "score": 1.0}], attempts=max(1, len(log)), model=model, backend="sim",
                    finish_reason="stop", finish_reason_raw="end_turn", usage=Usage(input_tokens=tin, output_tokens=tout),
                    cost_usd=cost, latency_s=1.0, worker=0, timestamp=iso(t), form=form, poem="a poem", attempt_log=log)


def rej(i: int | str, form: str = "Sonnet", *, reason: str = "below_min_score", t: float = T0,
        log: list[Attempt] | None = None, tin: int = 7, tout: int = 3, cost: float = 0.02) -> Rejected:
    log = log if log is not None else [Attempt(model="m2", finish_reason="stop", failure=reason)]
    return Rejected(id=str(i), job="poetry", prompt="p", reason=reason, best_score=0.5, finish_reason="stop",
                    attempts=len(log), model="m2", backend="sim", usage=Usage(input_tokens=tin, output_tokens=tout),
                    cost_usd=cost, worker=1, timestamp=iso(t), detail="line 3 off meter", form=form, attempt_log=log)


class Run:
    def __init__(self, d: Path, targets: dict[str, int] | None = None, **kw) -> None:
        self.dir = d
        self.ds = d / "dataset.jsonl"
        self.rj = d / "rejects.jsonl"
        (d / "workers").mkdir(parents=True, exist_ok=True)
        self.agg = StatsAggregator(d, run="r", job="poetry", group_label="form",
                                   targets=targets or {"Sonnet": 10, "Haiku": 10}, min_score=0.8,
                                   dataset_path=self.ds, rejects_path=self.rj, **kw)

    def write(self, *recs, raw: bytes = b"") -> None:
        for r in recs:
            path = self.ds if isinstance(r, Accepted) else self.rj
            with open(path, "ab") as f:
                f.write(encode_line(r))
        if raw:
            with open(self.ds, "ab") as f:
                f.write(raw)

    def snap(self, now: float | None = None):
        self.agg.poll(now)
        return self.agg.snapshot(now)

    def hb(self, wid: int, **kw) -> None:
        fields = {"worker_id": wid, "pid": 0, "backend": "sim", "model": "m1", "state": "running",
                  "updated_at": time.time(), "started_at": T0, **kw}
        atomic_write_json(self.dir / "workers" / f"{wid}.json", __import__("msgspec").to_builtins(Heartbeat(**fields)))


@pytest.fixture
def run(tmp_path) -> Run:
    return Run(tmp_path)


def test_counts_histogram_pass_rate_attempts(run):
    fail = Attempt(model="m1", finish_reason="length", failure="truncated")
    ok = Attempt(model="m1", finish_reason="stop")
    run.write(acc(1, score=0.95), acc(2, score=1.0), acc(3, score=0.05, log=[fail, fail, ok]),
              acc(4, "Haiku", score=0.5), rej(5), rej(6, "Haiku"), rej(7, "Haiku"))
    s = run.snap()
    assert (s.accepted, s.rejected, s.total_target) == (4, 3, 20)
    g = {x.name: x for x in s.groups}
    assert g["Sonnet"].done == 3 and g["Sonnet"].rejected == 1 and g["Sonnet"].target == 10
    assert g["Sonnet"].histogram == (1, 0, 0, 0, 0, 0, 0, 0, 0, 2)  # 1.0 lands in the last bin
    assert g["Haiku"].histogram == (0, 0, 0, 0, 0, 1, 0, 0, 0, 0)
    assert g["Sonnet"].mean_score == pytest.approx((0.95 + 1.0 + 0.05) / 3)
    assert g["Sonnet"].pass_rate == pytest.approx(3 / 4)
    assert g["Haiku"].pass_rate == pytest.approx(1 / 3)
    assert g["Sonnet"].attempts_per_accepted == pytest.approx(5 / 3)
    assert s.attempts == 5 + 1 + 3
    assert s.progress == pytest.approx(7 / 20)


def test_failures_finish_reasons_tokens_cost(run):
    log = [Attempt(model="m1", finish_reason="length", failure="truncated"),
           Attempt(model="m2", finish_reason="error", failure="timeout"),
           Attempt(model="m2", finish_reason="stop")]
    run.write(acc(1, log=log, tin=100, tout=50, cost=0.5), acc(2, log=[], model="m3"),
              rej(3, log=[Attempt(model="m1", finish_reason="stop", failure="below_min_score")] * 2, tin=1, tout=2, cost=0.25))
    run.hb(0, rate_limit_waits=4, errors=3, retries=5)
    s = run.snap()
    assert s.failures == {"truncated": 1, "timeout": 1, "below_min_score": 2, "rate_limit": 4}
    # One vocabulary: errors are failed calls and retries repeated calls, as the workers count them.
    assert (s.errors, s.retries) == (3, 5)
    assert s.rate_limit_waits == 4
    # attempt_log counted per attempt; an empty log falls back to the record's own model/finish_reason
    assert s.finish_reasons == {"m1": {"length": 1, "stop": 2}, "m2": {"error": 1, "stop": 1}, "m3": {"stop": 1}}
    assert (s.tokens_in, s.tokens_out) == (100 + 10 + 1, 50 + 5 + 2)
    assert s.cost_usd == pytest.approx(0.5 + 0.01 + 0.25)
    sonnet = next(g for g in s.groups if g.name == "Sonnet")
    assert sonnet.tokens_in == 111 and sonnet.cost_usd == pytest.approx(0.76)
    assert s.projected_cost_usd == pytest.approx(0.76 / (3 / 20))


def test_malformed_lines_are_counted_and_skipped(run):
    good = encode_line(acc(1))
    cut = encode_line(acc(2))[:40]
    run.write(raw=cut + b"\n" + good)  # a line cut in half, then a good line
    run.write(raw=b"{not json}\n[1, 2, 3]\n" + b'{"id": 5, "score": 0.5}\n' + b'{"id": "6", "score": "high"}\n')
    run.write(raw=b"\n")  # blank lines are ignored, not malformed
    run.write(raw=encode_line(acc(3))[:55] + encode_line(acc(4)))  # a dead writer's fragment glued to a record
    s = run.snap()
    assert s.malformed_lines == 6
    assert s.accepted == 2  # "1" and the salvaged "4"
    assert {f.id for f in s.feed} == {"1", "4"}
    item = next(f for f in s.feed if f.id == "4")
    assert read_record(item.path, item.offset)["id"] == "4"


def test_duplicate_ids_count_once_and_reject_then_accept(run):
    run.write(acc(1), acc(1), rej(2), rej(2))
    s = run.snap()
    assert s.accepted == 1 and s.rejected == 1 and run.agg.duplicates == 1
    assert s.cost_usd == pytest.approx(2 * 0.01 + 2 * 0.02)  # the spend was real
    run.write(acc(2))  # a resume retried the reject and it passed
    s = run.snap()
    assert s.accepted == 2 and s.rejected == 0
    assert next(g for g in s.groups if g.name == "Sonnet").pass_rate == 1.0
    run.write(rej(1))  # a reject for an accepted id changes nothing
    assert run.snap().rejected == 0


def test_rebuild_after_truncation_and_replacement(run):
    run.write(acc(1), acc(2), rej(3))
    assert run.snap().accepted == 2
    run.ds.write_bytes(encode_line(acc(9, "Haiku")))  # rewritten smaller
    s = run.snap()
    assert (s.accepted, s.rejected) == (1, 1) and run.agg.rebuilds == 1
    assert {g.name: g.done for g in s.groups} == {"Sonnet": 0, "Haiku": 1}
    new = run.dir / "new.jsonl"
    new.write_bytes(b"".join(encode_line(acc(i)) for i in range(10, 20)))
    os.replace(new, run.ds)
    s = run.snap()
    assert (s.accepted, s.rejected) == (10, 1) and run.agg.rebuilds == 2


def test_incremental_polls_match_one_catch_up(tmp_path):
    recs = [acc(i, "Sonnet" if i % 3 else "Haiku", score=(i % 10) / 10) for i in range(60)]
    recs += [rej(100 + i) for i in range(7)]
    a = Run(tmp_path / "a", chunk_size=97)
    b = Run(tmp_path / "b")
    for i, r in enumerate(recs):
        a.write(r)
        if i % 5 == 0:
            a.snap()
    b.write(*recs)
    sa, sb = a.snap(), b.snap()
    assert (sa.groups, sa.failures, sa.finish_reasons, sa.tokens_in) == (sb.groups, sb.failures, sb.finish_reasons,
                                                                         sb.tokens_in)
    assert [f.id for f in sa.feed] == [f.id for f in sb.feed]


def test_feed_is_bounded_and_points_at_records(tmp_path):
    r = Run(tmp_path, feed_size=5)
    r.write(*[acc(i) for i in range(8)], rej(50))
    s = r.snap()
    assert len(s.feed) == 5 and s.feed[-1].kind == "rejected" and s.feed[-1].reason == "below_min_score"
    assert [f.index for f in s.feed] == [5, 6, 7, 8, 8]
    for f in s.feed:
        rec = read_record(f.path, f.offset)
        assert rec is not None and rec["id"] == f.id
    assert read_record(r.ds, 3) is None  # not a line start
    assert read_record(tmp_path / "nope.jsonl", 0) is None


def test_rate_and_eta_from_record_times(tmp_path):
    r = Run(tmp_path, targets={"Sonnet": 100}, window_s=300.0)
    # A finished run caught up later: 60 accepted over 10 minutes, 1 every 10 s.
    r.write(*[acc(i, t=T0 + 10 * i) for i in range(60)])
    s = r.snap(now=T0 + 86_400)  # a day later, no live workers: the rate comes from the record times
    assert s.rate_per_min == pytest.approx(6.0, rel=0.05)
    assert s.eta_s == pytest.approx(40 / 6.0 * 60, rel=0.05)
    r.write(*[acc(100 + i) for i in range(40)])
    s = r.snap()
    assert s.eta_s == 0.0


def test_rate_live_uses_now(tmp_path):
    r = Run(tmp_path, targets={"Sonnet": 1000}, window_s=60.0)
    now = time.time()
    r.hb(0, pid=os.getpid(), updated_at=now)
    r.write(*[acc(i, t=now - 30 + i) for i in range(30)])
    s = r.snap(now)
    assert s.rate_per_min == pytest.approx(60.0, rel=0.1)  # 30 in the last 30 s
    s = r.agg.snapshot(now + 120)  # nothing new for two minutes while workers live: the rate decays
    assert s.rate_per_min == 0.0 and s.eta_s is None


def test_state_from_control_and_heartbeats(tmp_path):
    r = Run(tmp_path)
    me = os.getpid()
    assert r.snap().state == "starting"
    r.hb(0, pid=me, state="running", in_flight=2)
    r.hb(1, pid=me, state="running", in_flight=1)
    assert r.snap().state == "running"
    atomic_write_json(tmp_path / "control.json", {"paused": True, "stop": False})
    r.hb(0, pid=me, state="paused", in_flight=0)
    r.hb(1, pid=me, state="pausing", in_flight=1)
    assert r.snap().state == "pausing"
    r.hb(1, pid=me, state="paused", in_flight=0)
    assert r.snap().state == "paused"
    atomic_write_json(tmp_path / "control.json", {"paused": False, "stop": True})
    assert r.snap().state == "stopping"
    dead = 2**22 + 12345  # beyond pid_max: never alive
    stale = time.time() - 60
    r.hb(0, pid=dead, state="stopped", updated_at=stale)
    r.hb(1, pid=dead, state="running", updated_at=stale)
    s = r.snap()
    assert s.state == "stopped" and {w.id: w.state for w in s.workers} == {0: "stopped", 1: "dead"}
    assert not any(w.alive for w in s.workers)
    r.hb(0, pid=dead, state="done", updated_at=stale)
    r.hb(1, pid=dead, state="done", updated_at=stale)
    assert r.snap().state == "done"
    r.hb(1, pid=dead, state="failed", updated_at=stale, last_error="auth: bad key")
    s = r.snap()
    assert s.state == "failed" and s.workers[1].last_error == "auth: bad key"


def test_events_restarts_failures_and_messages(tmp_path):
    r = Run(tmp_path)
    dead = 2**22 + 12345
    r.hb(0, pid=dead, state="running", updated_at=time.time() - 60, started_at=T0)
    evs = [{"t": T0, "event": "start", "round": 0}, {"t": T0 + 1, "event": "spawn", "worker": 0, "pid": dead},
           {"t": T0 + 5, "event": "exit", "worker": 0, "code": 1, "signal": None},
           {"t": T0 + 5, "event": "restart", "worker": 0, "attempt": 1, "delay_s": 0.5, "code": 1},
           {"t": T0 + 9, "event": "exit", "worker": 1, "code": 3, "signal": None},
           {"t": T0 + 9, "event": "failed", "worker": 1, "why": "crash-looping", "log_tail": "Traceback..."}]
    (tmp_path / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in evs) + b"garbage\n")
    s = r.snap()
    w = {x.id: x for x in s.workers}
    assert w[0].restarts == 1 and w[0].state == "restarting"
    assert w[1].state == "failed" and w[1].log_tail == "Traceback..." and w[1].last_error == "crash-looping"
    assert s.started_at == T0
    assert any("worker 1 failed: crash-looping" in m for m in s.messages)
    assert any("worker 0 restarting" in m for m in s.messages)


def test_heartbeat_waits_survive_a_restart(tmp_path):
    r = Run(tmp_path)
    r.hb(0, rate_limit_waits=5, started_at=T0)
    assert r.snap().rate_limit_waits == 5
    r.hb(0, rate_limit_waits=2, started_at=T0 + 100)  # a new process of worker 0
    s = r.snap()
    assert s.rate_limit_waits == 7 and s.failures["rate_limit"] == 7


def test_a_resume_counts_only_its_own_processes(tmp_path):
    r = Run(tmp_path)
    r.hb(0, errors=9, retries=4, rate_limit_waits=3, started_at=T0, last_error="timeout earlier")
    # The same command again: a new session starts, then its worker 0 replaces the heartbeat.
    (tmp_path / "events.jsonl").write_bytes(orjson.dumps({"t": T0 + 50, "event": "start", "round": 1}) + b"\n")
    s = r.snap()
    assert (s.errors, s.retries, s.rate_limit_waits) == (0, 0, 0)  # the old process is not this run's
    assert s.workers[0].last_error == "timeout earlier"  # still the latest thing known
    r.hb(0, errors=1, retries=2, rate_limit_waits=0, started_at=T0 + 51)
    s = r.snap()
    assert (s.errors, s.retries) == (1, 2)
    r.hb(0, errors=5, retries=0, started_at=T0 + 90)  # a restart within the session still adds up
    assert r.snap().errors == 6


def test_missing_files_are_waiting(tmp_path):
    r = Run(tmp_path / "not-yet")
    s = r.snap()
    assert (s.accepted, s.rejected, s.malformed_lines, s.workers, s.feed) == (0, 0, 0, (), ())
    r.write(acc(1))
    assert r.snap().accepted == 1


def test_parse_ts():
    assert parse_ts("2023-11-14T22:13:20.500000Z") == pytest.approx(T0 + 0.5)
    assert parse_ts("2023-11-14T22:13:20+00:00") == pytest.approx(T0)
    assert parse_ts("2023-11-14T22:13:20") == pytest.approx(T0)
    assert parse_ts("yesterday") is None


def test_poll_budget_catches_up_in_steps(tmp_path):
    r = Run(tmp_path, chunk_size=4096)
    r.write(*[acc(i) for i in range(200)])
    polls = 0
    while True:
        r.agg.poll(max_bytes=8192)
        polls += 1
        if r.agg.caught_up:
            break
    assert polls > 3 and r.agg.snapshot().accepted == 200


def test_id_set_grows_and_stays_exact():
    s = IdSet(4)
    ids = [f"{i:016x}" for i in range(5000)]
    assert all(s.add(i) for i in ids)
    assert not any(s.add(i) for i in ids)
    assert len(s) == 5000 and ids[123] in s and "nope" not in s


def test_paused_run_freezes_elapsed_rate_and_eta(tmp_path):
    r = Run(tmp_path, targets={"Sonnet": 1000}, window_s=300.0)
    base = time.time()
    r.hb(0, pid=os.getpid(), updated_at=base, state="paused")
    atomic_write_json(tmp_path / "control.json", {"paused": True, "stop": False})
    events = tmp_path / "events.jsonl"
    events.write_bytes(orjson.dumps({"t": base - 100, "event": "start", "round": 0}) + b"\n"
                       + orjson.dumps({"t": base - 40, "event": "pause"}) + b"\n")
    r.write(*[acc(i, t=base - 100 + i) for i in range(60)])  # 1/s for the 60 s before the pause
    s1 = r.snap(base)
    assert s1.state == "paused"
    assert s1.elapsed_s == pytest.approx(60.0) and s1.rate_per_min == pytest.approx(60.0, rel=0.05)
    s2 = r.snap(base + 120)  # two more minutes paused: nothing moves
    assert (s2.elapsed_s, s2.rate_per_min, s2.eta_s) == pytest.approx((s1.elapsed_s, s1.rate_per_min, s1.eta_s))
    with events.open("ab") as f:
        f.write(orjson.dumps({"t": base + 120, "event": "resume"}) + b"\n")
    atomic_write_json(tmp_path / "control.json", {"paused": False, "stop": False})
    r.hb(0, pid=os.getpid(), updated_at=base + 130, state="running")
    s3 = r.snap(base + 130)
    # 10 s of running time after the resume: the window is 70 s of running time, not 230 s of wall time.
    assert s3.elapsed_s == pytest.approx(70.0)
    assert s3.rate_per_min == pytest.approx(60 / 70 * 60, rel=0.05)


def test_attempt_scores_count_every_scored_attempt_accepted_or_not(run):
    low = Attempt(model="m1", finish_reason="stop", score=0.30, failure="below_min_score")
    err = Attempt(model="m1", finish_reason="error", failure="timeout")  # a failed call: no score
    run.write(acc(1, score=0.9, log=[low, err, Attempt(model="m1", finish_reason="stop", score=0.9)]),
              rej(2, log=[low, Attempt(model="m2", finish_reason="stop", score=0.62, failure="below_min_score")]),
              acc(3, "Haiku", score=1.0, log=[]))  # no attempt log: its own score counts
    g = {x.name: x for x in run.snap().groups}
    sonnet = g["Sonnet"].attempt_scores
    assert len(sonnet) == SCORE_BINS and sum(sonnet) == 4
    assert sonnet[int(0.30 * SCORE_BINS)] == 2 and sonnet[int(0.62 * SCORE_BINS)] == 1
    assert sonnet[int(0.9 * SCORE_BINS)] == 1
    assert g["Haiku"].attempt_scores[-1] == 1  # 1.0 lands in the last bin
    assert g["Sonnet"].histogram[9] == 1  # the accepted-only histogram is unchanged


def test_accepted_series_is_the_rate_over_time(tmp_path):
    r = Run(tmp_path, targets={"Sonnet": 1000}, window_s=300.0)
    base = float(int(time.time()))  # whole seconds: the window counts in 1-second buckets
    r.hb(0, pid=os.getpid(), updated_at=base, state="running")
    (tmp_path / "events.jsonl").write_bytes(orjson.dumps({"t": base - 60, "event": "start", "round": 0}) + b"\n")
    r.write(*[acc(i, t=base - 60 + i / 2) for i in range(60)])  # 2/s in the first 30 s, then nothing
    s = r.snap(base)
    assert len(s.accepted_series) == 6 and sum(s.accepted_series) == 60  # 60 s of running time, 10 s steps
    assert s.accepted_series[:3] == (20, 20, 20) and s.accepted_series[3:] == (0, 0, 0)
