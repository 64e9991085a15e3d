"""Benchmark of tail + stats: catching up on a large dataset, and following a fast writer.

    python bench/tail.py [--records 500000] [--follow-rate 2000] [--follow-s 5]

(1) Catch-up: StatsAggregator over a dataset of realistic accepted poetry records (~1.5-3 KB, with
    attempt_log and rubric) against a bare `for line in f: orjson.loads(line)` over the same file,
    measured in the same run; then the peak memory growth (tracemalloc) for 100k vs the full file.
(2) Follow: a writer process appends records at a fixed rate while the aggregator polls every 50 ms;
    the latency from write to appearing in the snapshot is reported as p50/p95.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

from watcher.monitor.stats import StatsAggregator
from watcher.run.records import Accepted, Attempt, Usage, encode_line, item_id, utc_now

FORMS = ["Sonnet", "Villanelle", "Haiku", "Limerick", "Ghazal", "Sestina", "Pantoum", "Tanka"]
MODELS = ["claude-haiku-4-5", "moonshotai/kimi-k2", "openai/gpt-4o-mini"]
WORDS = ("harbor light salt wind morning river stone ember quiet lantern orchard hollow winter "
         "silver thread mirror meadow tide ash willow sparrow distant").split()


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def make_record(i: int, rng: random.Random, ts: str | None = None) -> Accepted:
    form = FORMS[i % len(FORMS)]
    n_att = rng.choice((1, 1, 1, 2, 2, 3))
    log = []
    for k in range(n_att):
        last = k == n_att - 1
        log.append(Attempt(model=rng.choice(MODELS), finish_reason="stop" if last or rng.random() < .6 else "length",
                           finish_reason_raw="end_turn", score=round(rng.random(), 3),
                           failure=None if last else rng.choice(("below_min_score", "truncated", "timeout")),
                           latency_s=round(rng.uniform(0.5, 9), 3)))
    rubric = [{"name": f"constraint_{j}", "weight": 1.0, "score": round(rng.random(), 2), "passed": rng.random() < .8,
               "detail": _text(rng, 6)} for j in range(rng.randint(3, 7))]
    poem = "\n".join(_text(rng, rng.randint(5, 9)) for _ in range(rng.randint(6, 14)))
    return Accepted(
        id=item_id("poetry", f"{form}:{i}", 0), job="poetry", prompt=f"Write a {form} about {_text(rng, 3)}.",
        synth_trace="PLAN: " + _text(rng, rng.randint(40, 90)), natural_trace=_text(rng, rng.randint(20, 60)),
        score=round(rng.uniform(0.6, 1.0), 3), passed=True, rubric=rubric, attempts=n_att, model=log[-1].model,
        backend="sim", finish_reason="stop", finish_reason_raw="end_turn",
        usage=Usage(input_tokens=rng.randint(300, 900), output_tokens=rng.randint(150, 600)),
        cost_usd=round(rng.uniform(0.0005, 0.004), 6), latency_s=1.2, worker=i % 4,
        timestamp=ts or utc_now(), form=form, poem=poem, attempt_log=log)


def write_dataset(path: Path, n: int) -> int:
    rng = random.Random(1)
    pool = [encode_line(make_record(i, rng)) for i in range(2000)]
    with open(path, "wb") as f:
        for i in range(n):
            # Same shapes, distinct ids: re-use the encoded bodies and swap in a fresh id.
            line = pool[i % len(pool)]
            f.write(b'{"id":"' + item_id("poetry", str(i), 0).encode() + line[23:])
    return path.stat().st_size


def make_agg(run_dir: Path, dataset: Path, feed_size: int = 200) -> StatsAggregator:
    return StatsAggregator(run_dir, run="bench", job="poetry", group_label="form",
                           targets={f: 10**6 for f in FORMS}, min_score=0.8, dataset_path=dataset,
                           rejects_path=run_dir / "rejects.jsonl", feed_size=feed_size)


def bare(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for line in f:
            orjson.loads(line)
    return time.perf_counter() - t0


def catch_up(run_dir: Path, path: Path) -> tuple[float, StatsAggregator]:
    agg = make_agg(run_dir, path)
    t0 = time.perf_counter()
    agg.poll()
    agg.snapshot()
    return time.perf_counter() - t0, agg


def peak_growth(run_dir: Path, path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    agg = make_agg(run_dir, path)
    agg.poll()
    agg.snapshot()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del agg
    return peak


def bench_catch_up(tmp: Path, n: int) -> None:
    small, big = tmp / "small.jsonl", tmp / "dataset.jsonl"
    write_dataset(small, min(100_000, n))
    size = write_dataset(big, n)
    print(f"catch-up: {n:,} records, {size / 1e6:.0f} MB ({size / n:.0f} B/record)")
    bare(big)  # warm the page cache
    tb = min(bare(big) for _ in range(2))
    ta, agg = min((catch_up(tmp, big) for _ in range(2)), key=lambda r: r[0])
    snap = agg.snapshot()
    assert snap.accepted == n and snap.malformed_lines == 0, (snap.accepted, snap.malformed_lines)
    print(f"  bare orjson.loads loop   {tb:7.2f} s  ({n / tb:,.0f} lines/s)")
    print(f"  StatsAggregator catch-up {ta:7.2f} s  ({n / ta:,.0f} lines/s)")
    print(f"  ratio aggregator/bare    {ta / tb:7.2f}  (target <= 2)")
    del agg, snap
    gc.collect()
    p_small, p_big = peak_growth(tmp, small), peak_growth(tmp, big)
    n_small = min(100_000, n)
    print(f"  peak traced memory: {n_small:,} records {p_small / 1e6:.1f} MB, {n:,} records {p_big / 1e6:.1f} MB "
          f"(file {size / 1e6:.0f} MB; growth {(p_big - p_small) / max(1, n - n_small):.1f} B per extra record)")


def _writer(path: str, rate: float, seconds: float, start_evt) -> None:
    from watcher.run.files import JsonlAppender

    rng = random.Random(2)
    pool = [make_record(i, rng) for i in range(500)]
    start_evt.wait()
    n_total = int(rate * seconds)
    t0 = time.time()
    with JsonlAppender(Path(path), fsync_interval=1.0) as app:
        for i in range(n_total):
            due = t0 + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            rec = pool[i % len(pool)]
            rec.id = f"{i:016x}"
            rec.timestamp = repr(time.time())  # write time (epoch) for the latency measurement
            app.append(encode_line(rec))


def bench_follow(tmp: Path, rate: float, seconds: float) -> None:
    path = tmp / "follow.jsonl"
    agg = make_agg(tmp, path, feed_size=5000)  # the latency probe reads ids from the feed
    ctx = mp.get_context("spawn")
    evt = ctx.Event()
    proc = ctx.Process(target=_writer, args=(str(path), rate, seconds, evt))
    proc.start()
    time.sleep(1.0)  # let the child import before the clock starts
    evt.set()
    latencies: list[float] = []
    seen: set[str] = set()
    polls, poll_time = 0, 0.0
    deadline = time.time() + seconds + 10
    n_total = int(rate * seconds)
    while len(seen) < n_total and time.time() < deadline:
        t0 = time.perf_counter()
        agg.poll()
        snap = agg.snapshot()
        poll_time += time.perf_counter() - t0
        polls += 1
        t_seen = time.time()
        for it in snap.feed:
            if it.id not in seen:
                seen.add(it.id)
                latencies.append(t_seen - float(it.timestamp))
        time.sleep(0.05)
    proc.join(5)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 2 else [float("nan")] * 99
    print(f"follow: writer at {rate:,.0f} records/s for {seconds:.0f} s, aggregator polling every 50 ms")
    print(f"  records seen {len(seen):,}/{n_total:,} (accepted {agg.snapshot().accepted:,}), "
          f"{polls} polls, mean poll+snapshot {poll_time / max(1, polls) * 1e3:.1f} ms")
    print(f"  write->snapshot latency p50 {q[49] * 1e3:.0f} ms, p95 {q[94] * 1e3:.0f} ms, "
          f"max {latencies[-1] * 1e3:.0f} ms  (target p95 <= 500 ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--follow-rate", type=float, default=2000.0)
    ap.add_argument("--follow-s", type=float, default=5.0)
    ap.add_argument("--skip-catch-up", action="store_true")
    a = ap.parse_args()
    print(f"python {sys.version.split()[0]}, pid {os.getpid()}")
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as d:
        tmp = Path(d)
        if not a.skip_catch_up:
            bench_catch_up(tmp, a.records)
        bench_follow(tmp, a.follow_rate, a.follow_s)


if __name__ == "__main__":
    main()
