"""Benchmark of the TUI under load: keypress-to-screen latency and idle CPU.

    python bench/tui.py [--rate 2000] [--samples 20] [--idle-s 10] [--writer process|thread]
                        [--filter TERM] [--sort "score ↓"]

A writer appends real accepted/rejected records (watcher.run.records, encoded with encode_line) to a temp
run dir at `--rate` records/s; the app runs headless (`run_test`, 120x40) on a control whose snapshot()
is the real `StatsAggregator` (poll + snapshot) over those files, at the app's 4 Hz.

(1) Latency: a key event is posted the way the terminal driver posts it (`?`, then `escape`), and the
    time until the screen shows it (the help screen is active and a full frame rendered from the
    compositor contains its text; then the main screen again) is measured, `--samples` times each,
    with random gaps so presses land anywhere relative to the 4 Hz snapshot ticks.
(2) Idle CPU: the writer stops; after catch-up, process CPU time (all threads) over `--idle-s`
    seconds divided by wall time.
The default writer is a separate process, as real workers are; `--writer thread` puts it in the
app's process (GIL contention included: a pessimistic variant).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from textual import events

from watcher.gate.verdict import GateVerdict
from watcher.monitor.snapshot import Snapshot
from watcher.monitor.stats import StatsAggregator
from watcher.run.records import Accepted, Attempt, Rejected, Usage, encode_line, item_id, utc_now
from watcher.train.state import TrainingState
from watcher.tui.app import WatcherApp
from watcher.tui.screens.help import HelpScreen
from watcher.tui.screens.main import MainScreen
from watcher.tui.widgets.feed import SORTS, FeedView

FORMS = ["Sonnet", "Villanelle", "Haiku", "Limerick", "Ghazal", "Sestina", "Pantoum", "Tanka"]
MODELS = ["claude-haiku-4-5", "moonshotai/kimi-k2"]
POEM = "\n".join(["the harbor keeps its lanterns low and bright"] * 14)


def _line(i: int, rng: random.Random) -> bytes:
    form = FORMS[i % len(FORMS)]
    model = MODELS[i % 2]
    log = [Attempt(model=model, finish_reason="stop" if k else "length", failure=None if k else "truncated")
           for k in range(1 + i % 2)]
    usage = Usage(input_tokens=600, output_tokens=400)
    if i % 10 == 7:
        rec: Accepted | Rejected = Rejected(
            id=item_id("poetry", f"{form}:{i}", 0), job="poetry", prompt=f"Write a {form}.",
            reason="below_min_score", best_score=0.61, finish_reason="stop", attempts=4, model=model,
            backend="sim", usage=usage, cost_usd=0.002, worker=i % 4, timestamp=utc_now(), form=form,
            detail="refrain 2 missing", best_text=POEM, attempt_log=log)
    else:
        rec = Accepted(
            id=item_id("poetry", f"{form}:{i}", 0), job="poetry", prompt=f"Write a {form} about harbors.",
            synth_trace="<think>\n" + "├─ constraint ●\n" * 12 + "</think>", natural_trace="<think>plan</think>",
            score=round(rng.uniform(0.8, 1.0), 3), passed=True,
            rubric=[{"criterion": f"c{j}", "expected": "x", "score": 1.0} for j in range(6)], attempts=len(log),
            model=model, backend="sim", finish_reason="stop", finish_reason_raw="end_turn", usage=usage,
            cost_usd=0.003, latency_s=1.0, worker=i % 4, timestamp=utc_now(), form=form, poem=POEM,
            attempt_log=log)
    return encode_line(rec)


def writer(run_dir: str, rate: float, stop: Any) -> None:
    """Append records at `rate`/s in 10 ms batches, one write per record (as workers do)."""
    rng = random.Random(7)
    ds, rj = Path(run_dir) / "dataset.jsonl", Path(run_dir) / "rejects.jsonl"
    i, t0 = 0, time.perf_counter()
    with open(ds, "ab") as fa, open(rj, "ab") as fr:
        while not stop.is_set():
            due = int((time.perf_counter() - t0) * rate)
            while i < due:
                line = _line(i, rng)
                (fr if b'"status":"rejected"' in line else fa).write(line)
                i += 1
            fa.flush()
            fr.flush()
            time.sleep(0.01)


class BenchControl:
    """RunControl over a real StatsAggregator; commands are no-ops."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.agg = StatsAggregator(run_dir, run="bench", job="poetry", group_label="form",
                                   targets={f: 10**6 for f in FORMS}, min_score=0.8,
                                   dataset_path=run_dir / "dataset.jsonl", rejects_path=run_dir / "rejects.jsonl")
        self.polls = 0

    def snapshot(self) -> Snapshot:
        self.polls += 1
        self.agg.poll()
        return self.agg.snapshot()

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def add_worker(self, backend: str | None = None) -> None: ...
    def remove_worker(self, backend: str | None = None) -> None: ...
    def stop(self, graceful: bool = True) -> None: ...
    def detach(self) -> None: ...
    def worker_log(self, worker_id: int, lines: int = 200) -> str: return ""
    def read_record(self, path: str, offset: int) -> dict[str, Any] | None: return None
    def run_gate(self) -> dict[str, Any]: return {}
    def gate_verdict(self) -> GateVerdict: return GateVerdict(passed=None)
    def start_training(self) -> None: ...
    def stop_training(self) -> None: ...
    def training_state(self) -> TrainingState | None: return None


async def _until(cond: Any, timeout: float = 5.0) -> None:
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("screen never showed the change")
        await asyncio.sleep(0.002)


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def pcts(xs: list[float]) -> str:
    return (f"p50 {1000 * statistics.median(xs):6.1f} ms  p95 {1000 * p95(xs):6.1f} ms  "
            f"max {1000 * max(xs):6.1f} ms")


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="watcher-bench-tui-") as tmp:
        run_dir = Path(tmp)
        control = BenchControl(run_dir)
        if args.writer == "thread":
            stop: Any = threading.Event()
            proc: Any = threading.Thread(target=writer, args=(tmp, args.rate, stop), daemon=True)
        else:
            stop = mp.Event()
            proc = mp.Process(target=writer, args=(tmp, args.rate, stop), daemon=True)
        app = WatcherApp(control)
        rng = random.Random(1)
        async with app.run_test(size=(120, 40)) as pilot:
            await asyncio.sleep(1.0)
            if args.filter or args.sort:  # the feed as a user reading it filtered/sorted sees it
                feed = app.query_one(FeedView)
                feed.set_view(query=args.filter or None, sort=args.sort)
            # Baseline in the same run: the same presses with nothing arriving (this machine's own speed).
            base_open, base_close = await presses(app, args.samples, rng)
            proc.start()
            await asyncio.sleep(2.0)  # warm up: a few ticks with records arriving
            acc0, t0, cpu0 = control.agg.accepted + control.agg.rejected, time.perf_counter(), time.process_time()
            opens, closes = await presses(app, args.samples, rng)
            wall = time.perf_counter() - t0
            load_cpu = (time.process_time() - cpu0) / wall
            done = control.agg.accepted + control.agg.rejected - acc0
            stop.set()
            proc.join(5)
            await asyncio.sleep(1.0)  # catch up with the last writes
            polls0, cpu0, t0 = control.polls, time.process_time(), time.perf_counter()
            await asyncio.sleep(args.idle_s)
            idle = (time.process_time() - cpu0) / (time.perf_counter() - t0)
            polls = control.polls - polls0
            await pilot.pause()
        both, base = opens + closes, base_open + base_close
        print(f"writer: {args.writer}, target {args.rate:.0f} records/s; the app saw {done / wall:.0f} records/s "
              f"during the latency test ({done} records in {wall:.1f} s), feed size "
              f"{len(control.agg.snapshot().feed)}")
        print(f"baseline, nothing arriving ({2 * args.samples} samples): {pcts(base)}")
        print(f"open help  (?)      : {pcts(opens)}")
        print(f"close help (escape) : {pcts(closes)}")
        print(f"under load, all {len(both)}   : {pcts(both)}   (target: p95 <= 100 ms)")
        print(f"ratio to baseline   : p50 x{statistics.median(both) / statistics.median(base):.2f}  "
              f"p95 x{p95(both) / p95(base):.2f}")
        print(f"CPU under load      : {100 * load_cpu:5.1f}% of a core (app + aggregator"
              f"{' + writer' if args.writer == 'thread' else ''})")
        print(f"idle CPU            : {100 * idle:5.2f}% of a core over {args.idle_s:.0f} s, {polls} snapshot polls "
              f"(aim: < 3%)")
        return 0 if p95(both) <= 0.25 and idle < 0.03 else 1


async def presses(app: WatcherApp, samples: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Post `?` then `escape` as the driver would; time until a rendered frame shows each change."""
    opens: list[float] = []
    closes: list[float] = []
    for _ in range(samples):
        await asyncio.sleep(rng.uniform(0.05, 0.3))  # land anywhere relative to the 4 Hz ticks
        t = time.perf_counter()
        app.post_message(events.Key("question_mark", "?"))
        await _until(lambda: isinstance(app.screen, HelpScreen) and "quality gate" in app.screen_text())
        opens.append(time.perf_counter() - t)
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        t = time.perf_counter()
        app.post_message(events.Key("escape", None))
        await _until(lambda: isinstance(app.screen, MainScreen) and "forms" in app.screen_text())
        closes.append(time.perf_counter() - t)
    return opens, closes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--idle-s", type=float, default=10.0)
    ap.add_argument("--writer", choices=("process", "thread"), default="process")
    ap.add_argument("--filter", default="", help="a feed filter kept active during the test (e.g. sonnet)")
    ap.add_argument("--sort", choices=SORTS, default=None, help="a feed sort kept active during the test")
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
