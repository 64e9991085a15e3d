"""A RunControl with fixed, deterministic data and a fixed clock, for TUI tests (and anyone else).

`FakeControl.calls` records every command as (name, args). Snapshots never read the wall clock:
`now` is `T0 + 2537` (elapsed 0:42:17) unless `advance()` moves it.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from watcher.gate.verdict import GateVerdict
from watcher.monitor.snapshot import SCORE_BINS, FeedItem, GroupStats, Snapshot, WorkerStats
from watcher.run.records import FAIL_BELOW_MIN, FAIL_EMPTY, FAIL_TIMEOUT, FAIL_TRUNCATED
from watcher.train.state import TrainingState

T0 = 1_763_700_000.0  # fixed start time
ELAPSED = 2537.0
DATASET = "/fake/run/dataset.jsonl"
REJECTS = "/fake/run/rejects.jsonl"

GROUPS = (
    GroupStats("Sonnet", 71, 100, 4, 0.91, (0, 0, 0, 0, 0, 0, 1, 3, 20, 47), 0.94, 1.3, 90_000, 40_000, 0.61),
    GroupStats("Villanelle", 44, 100, 18, 0.84, (0, 0, 0, 0, 0, 0, 0, 9, 20, 15), 0.71, 2.1, 120_000, 50_000,
               0.80),
    GroupStats("Haiku", 98, 100, 1, 0.97, (0, 0, 0, 0, 0, 0, 0, 0, 4, 94), 0.99, 1.0, 30_000, 10_000, 0.15),
    GroupStats("Limerick", 100, 100, 2, 0.93, (0, 0, 0, 0, 0, 0, 0, 2, 30, 68), 0.98, 1.1, 40_000, 15_000, 0.2),
    GroupStats("Ghazal", 60, 100, 6, 0.88, (0, 0, 0, 0, 0, 0, 0, 6, 34, 20), 0.91, 1.6, 80_000, 30_000, 0.41),
    GroupStats("Pantoum", 52, 100, 3, 0.86, (0, 0, 0, 0, 0, 0, 0, 12, 30, 10), 0.95, 1.8, 70_000, 28_000,
               0.38),
    GroupStats("Sestina", 187, 400, 3, 0.82, (0, 0, 0, 0, 0, 0, 0, 40, 120, 27), 0.98, 2.4, 600_000, 300_000,
               1.57),
)



def _attempt_scores(g: GroupStats, spread: int) -> tuple[int, ...]:
    """Every attempt's score in SCORE_BINS bins: the accepted ones spread over the histogram's top
    bins, the failed ones (rejected items' tries) lower, wider for a harder form."""
    bins = [0] * SCORE_BINS
    for k, n in enumerate(g.histogram):  # accepted, 10 coarse bins -> 4 fine bins each
        for j in range(4):
            bins[4 * k + j] += n // 4 + (1 if j < n % 4 else 0)
    for i in range(g.rejected * 3):  # about three tries per rejected item
        bins[31 - (i * 7) % (2 * spread)] += 1
    return tuple(bins)


GROUPS = tuple(replace(g, attempt_scores=_attempt_scores(g, spread))
               for g, spread in zip(GROUPS, (6, 12, 3, 5, 9, 8, 10), strict=True))
# accepted per 10 s over the last 5 min: the header's sparkline
ACCEPTED_SERIES = (1, 2, 2, 3, 2, 4, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 4, 3, 2, 3, 2, 3, 4, 5, 4, 3, 2, 2, 3, 2)

FINISH = {
    "claude-haiku-4-5": {"stop": 402, "length": 11, "content_filter": 0, "error": 3},
    "moonshotai/kimi-k2": {"stop": 310, "length": 24, "content_filter": 2, "tool_calls": 1, "error": 6},
}
FAILURES = {FAIL_BELOW_MIN: 21, FAIL_TRUNCATED: 11, FAIL_TIMEOUT: 3, FAIL_EMPTY: 2}


def make_workers(n: int = 2) -> tuple[WorkerStats, ...]:
    base = [
        WorkerStats(0, 4121, "claude", "claude-haiku-4-5", "running", True, 8, 8, 310, 17, 3, 12,
                    T0 + ELAPSED + 2.0, "429 Retry-After 2s", T0 + ELAPSED - 27, T0 + ELAPSED),
        WorkerStats(1, 4122, "openrouter", "moonshotai/kimi-k2", "running", True, 4, 6, 302, 20, 6, 0, None,
                    None, None, T0 + ELAPSED),
    ]
    for i in range(2, n):
        base.append(WorkerStats(i, 4121 + i, "claude", "claude-haiku-4-5", "starting", True, 0, 8, 0, 0, 0, 0,
                                None, None, None, T0 + ELAPSED))
    return tuple(base[:n])


def make_feed(n: int = 30) -> tuple[FeedItem, ...]:
    items = []
    forms = [g.name for g in GROUPS]
    index = 612 - sum(1 for i in range(n) if i % 7 != 3)  # the newest accepted item is [612/1000]
    for i in range(n):
        form = forms[i % len(forms)]
        if i % 7 == 3:
            items.append(FeedItem("rejected", index, 1000, form, 0.62, "moonshotai/kimi-k2", 5, f"r{i:04d}",
                                  reason="FAIL_BELOW_MIN_SCORE", detail="refrain 2 missing at line 12",
                                  path=REJECTS, offset=1000 * i, timestamp="2025-11-21T05:20:00Z"))
        else:
            index += 1
            model = "claude-haiku-4-5" if i % 2 else "moonshotai/kimi-k2"
            items.append(FeedItem("accepted", index, 1000, form, round(0.8 + (i % 5) * 0.04, 2), model,
                                  1 + i % 3, f"a{i:04d}", path=DATASET, offset=2000 * i,
                                  timestamp="2025-11-21T05:20:00Z"))
    return tuple(items)


POEM = """Shall I compare the harbor to the sea,
whose patient water keeps the boats asleep?"""
SYNTH = """<think>
Sonnet requirements:
├─ lines: 14 ●
└─ topic: harbors (wistful)

### 3. Verification
✓ line count: 100%
☑ rhyme scheme: 86%
</think>"""
NATURAL = "<think>I want the volta at line 9, where the harbor turns into memory.</think>"
RUBRIC = [
    {"criterion": "line count", "expected": "14", "actual": "14", "score": 1.0, "instruction": "Write 14 lines."},
    {"criterion": "rhyme scheme", "expected": "ABAB CDCD EFEF GG", "actual": "ABAB CDCD EFEF GH", "score": 0.86},
    {"criterion": "meter", "expected": "iambic pentameter", "actual": "mostly", "score": 0.0},
]


def accepted_record(item: FeedItem) -> dict[str, Any]:
    return {"id": item.id, "job": "poetry", "form": item.group, "prompt": f"Write a {item.group} about harbors.",
            "poem": POEM, "synth_trace": SYNTH, "natural_trace": NATURAL, "score": item.score, "passed": True,
            "rubric": RUBRIC, "attempts": item.attempts, "model": item.model, "backend": "claude",
            "finish_reason": "stop", "finish_reason_raw": "end_turn",
            "usage": {"input_tokens": 812, "output_tokens": 402}, "cost_usd": 0.0031, "latency_s": 4.2,
            "worker": 0, "timestamp": item.timestamp}


def rejected_record(item: FeedItem) -> dict[str, Any]:
    return {"id": item.id, "job": "poetry", "form": item.group, "reason": item.reason, "best_score": item.score,
            "best_poem": "A villanelle that lost its second refrain", "attempts": item.attempts,
            "finish_reason": "stop", "error": None, "model": item.model, "detail": item.detail}


def _check(name: str, count: int, description: str, examples: list[dict[str, Any]] | None = None,
           failed: bool = False, enabled: bool = True) -> dict[str, Any]:
    return {"name": name, "description": description, "count": count, "share": round(count / 649, 6),
            "examples": examples or [], "failed": failed, "enabled": enabled}


GATE_OFFSET = 10**7  # gate example records sit here in DATASET, past every feed item's offset
GATE_POEMS = {  # offset -> (id, form, score, poem)
    GATE_OFFSET + 0: ("a0012", "Sonnet", 0.62, "The harbor keeps its boats asleep at night,\nand low tide hums."),
    GATE_OFFSET + 1: ("a0040", "Villanelle", 0.71, "Do not go gently to the ferry's horn."),
    GATE_OFFSET + 2: ("a0231", "Limerick", 0.93, "A gull from the pier at St Ives\nhad ninety-nine wives."),
    GATE_OFFSET + 3: ("a0031", "Limerick", 0.95, "A gull from the pier at St Ives\nhad ninety-nine wives."),
}
# A failed gate as gate/run.py reports it: kept_share fails; exact duplicates drop 22% (no threshold).
GATE_REPORT: dict[str, Any] = {
    "run": "poetry-2026-11-21", "run_dir": "/fake/run", "dataset": DATASET, "job": "poetry",
    "passed": False, "total": 649, "kept": 455,
    "checks": [
        _check("partial_tail", 0, "last line without a newline"),
        _check("valid_json", 0, "line is not valid JSON"),
        _check("schema", 0, "required fields missing or of the wrong type for the job"),
        _check("finish_reason", 0, "finish_reason is not stop"),
        _check("nonempty", 0, "output is empty"),
        _check("min_score", 37, "score below the run's min_score", [
            {"line": 12, "id": "a0012", "excerpt": "The harbor keeps…", "why": "score 0.620 < 0.8",
             "offset": GATE_OFFSET + 0},
            {"line": 40, "id": "a0040", "excerpt": "Do not go gently…", "why": "score 0.710 < 0.8",
             "offset": GATE_OFFSET + 1}]),
        _check("traces", 0, "synth/natural trace missing or malformed"),
        _check("token_budget", 0, "skipped: no token limit for this job", enabled=False),
        _check("exact_duplicate", 143, "same output words as an earlier kept record", [
            {"line": 231, "id": "a0231", "excerpt": "A gull from the pier…", "why": "same text as line 31",
             "of_line": 31, "offset": GATE_OFFSET + 2, "of_offset": GATE_OFFSET + 3}]),
        _check("duplicate_id", 0, "same id as an earlier kept record"),
        _check("near_duplicate", 14, "5-gram Jaccard ≥ 0.8 vs an earlier kept record"),
        _check("balance", 1, "groups below target * (1 - balance_tolerance)", [
            {"line": 0, "id": None, "excerpt": "Limerick", "why": "Limerick: 16 kept, needs 80 of target 100"}],
               failed=True),
        _check("kept_share", 455, "share of records that survive every check (needs >= 80%)", failed=True),
    ],
    "balance": [{"group": "Sonnet", "target": 100, "kept": 90, "min": 80, "ok": True},
                {"group": "Limerick", "target": 100, "kept": 16, "min": 80, "ok": False}],
    "reasons": ["only 455/649 records (70.1%) survive; min_pass_share is 80%",
                "balance: Limerick 16 kept, needs 80"],
    "notes": [], "trace_style": "synth", "export_dir": "/fake/run/gate", "duration_s": 0.4, "diversity": {},
    "exported": {"train": 411, "valid": 22, "test": 22},
}


def gate_record(offset: int) -> dict[str, Any] | None:
    if offset not in GATE_POEMS:
        return None
    rid, form, score, poem = GATE_POEMS[offset]
    return {"id": rid, "job": "poetry", "form": form, "poem": poem, "score": score, "model": "claude-haiku-4-5",
            "attempts": 1, "finish_reason": "stop"}


TRAINING_STATE = TrainingState(
    status="running", stage="sonnets", stage_index=1, stages=("warmup", "sonnets", "all"),
    iteration=120, total_iters=300,
    train_loss=((10, 3.2), (20, 2.9), (40, 2.4), (60, 2.1), (80, 1.9), (100, 1.75), (120, 1.7)),
    val_loss=((50, 2.3), (100, 1.9)),
    stage_starts=((0, "warmup"), (100, "sonnets")),
    tokens_per_second=1834.0, peak_memory=1.42, eta_s=95.0,
    eval={"forms": {"Sonnet": {"before": {"mean_score": 0.61, "pass_rate": 0.2, "n": 20},
                               "after": {"mean_score": 0.83, "pass_rate": 0.55, "n": 20}}}},
    error=None,
)


class FakeControl:
    """Implements watcher.run.control.RunControl with fixed data; thread-safe enough for the app's
    control thread (the app calls it from one background thread)."""

    def __init__(self, *, state: str = "running", workers: int = 2, feed: int = 30,
                 gate_report: dict[str, Any] | None = None, gate_error: Exception | None = None,
                 training: TrainingState | None = None, messages: tuple[str, ...] = (),
                 run_dir: Path = Path("/fake/run"), verdict: GateVerdict | None = None) -> None:
        self.run_dir = run_dir
        self.state = state
        self.workers = make_workers(workers)
        self.feed = make_feed(feed)
        self.gate_report = GATE_REPORT if gate_report is None else gate_report
        self.gate_error = gate_error
        self.training = training  # immutable: shared as is
        self.messages = messages
        self.verdict = verdict if verdict is not None else GateVerdict(passed=True, kept=649, total=649)
        self.now = T0 + ELAPSED
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.snapshots = 0
        self._lock = threading.Lock()

    def _call(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, args))

    def called(self, name: str) -> int:
        return sum(1 for n, _ in self.calls if n == name)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def add_feed(self, items: tuple[FeedItem, ...]) -> None:
        self.feed = (self.feed + items)[-200:]

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        groups = GROUPS
        accepted = sum(g.done for g in groups)
        rejected = sum(g.rejected for g in groups)
        return Snapshot(
            run="poetry-2026-11-21", job="poetry", group_label="form", state=self.state, started_at=T0,
            now=self.now, total_target=sum(g.target for g in groups), accepted=accepted, rejected=rejected,
            errors=9, attempts=912, rate_per_min=14.2, eta_s=1570.0, tokens_in=1_930_000, tokens_out=812_000,
            cost_usd=4.12, projected_cost_usd=6.70, groups=groups, finish_reasons=FINISH, failures=FAILURES,
            workers=self.workers, feed=self.feed, rate_limit_waits=48, min_score=0.8, messages=self.messages,
            accepted_series=ACCEPTED_SERIES,
        )

    # -- commands ------------------------------------------------------------------------------
    def pause(self) -> None:
        self._call("pause")
        self.state = "paused"

    def resume(self) -> None:
        self._call("resume")
        self.state = "running"

    def add_worker(self, backend: str | None = None) -> None:
        self._call("add_worker", backend)
        self.workers = make_workers(len(self.workers) + 1)

    def remove_worker(self, backend: str | None = None) -> None:
        self._call("remove_worker", backend)
        self.workers = self.workers[:-1] if len(self.workers) > 1 else self.workers

    def stop(self, graceful: bool = True) -> None:
        self._call("stop", graceful)
        self.state = "stopped"

    def detach(self) -> None:
        self._call("detach")
        self.state = "detached"

    def worker_log(self, worker_id: int, lines: int = 200) -> str:
        self._call("worker_log", worker_id, lines)
        return "\n".join(f"worker {worker_id} log line {i}" for i in range(1, 6)) + \
            f"\nworker {worker_id}: 429 Retry-After 2s"

    def read_record(self, path: str, offset: int) -> dict[str, Any] | None:
        self._call("read_record", path, offset)
        for item in self.feed:
            if item.path == path and item.offset == offset:
                return accepted_record(item) if item.kind == "accepted" else rejected_record(item)
        return gate_record(offset) if path == DATASET else None

    def run_gate(self) -> dict[str, Any]:
        self._call("run_gate")
        if self.gate_error is not None:
            raise self.gate_error
        return copy.deepcopy(self.gate_report)

    def gate_verdict(self) -> GateVerdict:
        self._call("gate_verdict")
        return self.verdict

    def start_training(self) -> None:
        self._call("start_training")
        self.training = TRAINING_STATE

    def stop_training(self) -> None:
        self._call("stop_training")
        if self.training is not None:
            self.training = replace(self.training, status="stopped")

    def training_state(self) -> TrainingState | None:
        return self.training


def with_state(s: Snapshot, **kw: Any) -> Snapshot:
    return replace(s, **kw)
