"""The spend ceiling (`max_cost_usd`, `--max-cost`) and the prices a run was made with.

Spent cost is the sum of `cost_usd` over the run's record lines on disk (dataset + rejects), never a
counter in some process's memory: a resume, an attach or a crash can neither reset nor double-count
it, and every worker of the run sees the same figure. Each worker keeps its own `SpentTally` and
reads only the bytes appended since its last look (one stat and a short read per item it takes),
rather than a supervisor-written state file: that file would lag by a supervisor tick, and would
stop moving when the run is detached or its supervisor dies, while the records are always current.

Committed cost (batches submitted but not yet priced, run/batches.py) joins `spent` where a batch
is about to be submitted (generate/batch_loop.py): online workers pass nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import msgspec

from watcher.config import RunConfig
from watcher.generate.estimate import estimate
from watcher.generate.jobs import make_job
from watcher.generate.jobs.base import WorkItem
from watcher.generate.plan import build_plan, load_resume_state
from watcher.run.batches import BatchLedger
from watcher.run.files import atomic_write_json, read_json
from watcher.run.paths import RunPaths
from watcher.run.records import read_heartbeat


class _Cost(msgspec.Struct):
    cost_usd: float | None = 0.0


_decode = msgspec.json.Decoder(_Cost).decode


class SpentTally:
    """Incremental sum of `cost_usd` over the complete lines of some JSONL files."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.offset = dict.fromkeys(files, 0)
        self.sums = dict.fromkeys(files, 0.0)

    def poll(self) -> float:
        for p in self.files:
            try:
                size = p.stat().st_size
            except FileNotFoundError:
                size = 0
            if size < self.offset[p]:  # replaced or truncated: count it again from the start
                self.offset[p], self.sums[p] = 0, 0.0
            if size == self.offset[p]:
                continue
            with p.open("rb") as f:
                f.seek(self.offset[p])
                data = f.read(size - self.offset[p])
            end = data.rfind(b"\n") + 1  # a partial last line is not a record yet
            for line in data[:end].splitlines():
                try:
                    self.sums[p] += _decode(line).cost_usd or 0.0
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
            self.offset[p] += end
        return sum(self.sums.values())


def spent_tally(paths: RunPaths) -> SpentTally:
    return SpentTally([paths.dataset, paths.rejects])


def usd(v: float) -> str:
    return f"${v:.2f}" if v >= 1 else f"${v:.4f}"


def budget_message(spent: float, ceiling: float) -> str:
    """The one line a run that stopped at its ceiling ends with."""
    return f"budget reached: {usd(spent)} of {usd(ceiling)}; raise it with --max-cost to continue"


@dataclass
class Budget:
    """What a worker consults before it takes a new item."""

    tally: SpentTally
    ceiling: float  # 0 = no ceiling

    @classmethod
    def for_run(cls, paths: RunPaths, cfg: RunConfig) -> Budget:
        return cls(spent_tally(paths), cfg.max_cost_usd)

    def spent(self, committed: float = 0.0) -> float:
        return self.tally.poll() + committed

    def reached(self, committed: float = 0.0) -> bool:
        return self.ceiling > 0 and self.spent(committed) >= self.ceiling


def pending_items(paths: RunPaths, cfg: RunConfig, current_round: int) -> list[WorkItem]:
    state = load_resume_state(paths.dataset, paths.rejects, current_round)
    return state.pending(build_plan(cfg, make_job(cfg)), cfg.resume_retries)


def pending_count(paths: RunPaths, cfg: RunConfig, current_round: int) -> int:
    return len(pending_items(paths, cfg, current_round))


def budget_stop_message(paths: RunPaths, cfg: RunConfig) -> str | None:
    """The budget line when the ceiling is reached and items are left; None otherwise."""
    budget = Budget.for_run(paths, cfg)
    if not budget.ceiling:
        return None
    layout = read_json(paths.layout, {}) or {}
    left = {it.backend for it in pending_items(paths, cfg, int(layout.get("round", 0)))}
    if not left:
        return None  # the last item took it to the ceiling: the run is simply done
    committed = BatchLedger(paths.batches).poll().committed_usd()
    if budget.reached(committed):
        return budget_message(budget.spent(), budget.ceiling)
    # Batch mode stops short of the ceiling: the workers say so, with the bound of the request that
    # did not fit (its input and max_tokens out at the batch price), since only they priced it.
    beats = [read_heartbeat(paths.heartbeat(int(wid))) for wid in layout.get("workers", {}) if str(wid).isdigit()]
    hit = [hb for hb in beats if hb is not None and hb.budget_hit]
    if not hit:
        return None
    bounds = [hb.budget_next_usd for hb in hit if hb.budget_next_usd]
    more = f" (one more batch request could cost up to {usd(min(bounds))})" if bounds else ""
    return budget_message(budget.spent(), budget.ceiling) + more


def projected_warning(paths: RunPaths, cfg: RunConfig) -> str | None:
    """A warning, before the workers start, when spent + the expected cost of the pending items
    passes the ceiling."""
    if not cfg.max_cost_usd:
        return None
    spent = spent_tally(paths).poll()
    if spent >= cfg.max_cost_usd:
        return f"warning: {budget_message(spent, cfg.max_cost_usd)}"
    est = estimate(cfg, make_job(cfg), run_dir=paths.dir)
    exp = est.expected_cost({n: b.batch for n, b in cfg.backends.items()})  # batch backends at the batch price
    if spent + exp <= cfg.max_cost_usd:
        return None
    return (f"warning: projected cost {usd(spent + exp)} (spent {usd(spent)} + expected {usd(exp)} for "
            f"{est.items} items) is above the ceiling {usd(cfg.max_cost_usd)}; the run will stop there")


def record_prices(paths: RunPaths, cfg: RunConfig, today: date | None = None) -> None:
    """Append the prices in use to the run's prices file, with the date, when they changed: each
    record's cost_usd was computed with the entry in force when it was written."""
    current = {n: {"model": b.model, "kind": b.kind, "price_in": b.price_in, "price_out": b.price_out,
                   "batch_price_share": b.batch_price_share} for n, b in cfg.backends.items()}
    data = read_json(paths.prices, {}) or {}
    history = list(data.get("history") or [])
    if history and json.dumps(history[-1].get("backends"), sort_keys=True) == json.dumps(current, sort_keys=True):
        return
    history.append({"date": (today or date.today()).isoformat(), "unit": "USD per million tokens",
                    "backends": current})
    os.makedirs(paths.dir, exist_ok=True)
    atomic_write_json(paths.prices, {"history": history})
