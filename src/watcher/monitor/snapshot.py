"""The immutable stats snapshot: what headless output, `watcher status` and the TUI all render.

`stats.StatsAggregator.snapshot()` produces it; renderers never look at records themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HIST_BINS = 10
# Scores of every attempt, per group: fine bins that renderers merge to the width they have
# (40 = 0.025 apart, so 10, 20 or 40 columns and a min_score on a 0.05 step all line up).
SCORE_BINS = 40
RATE_STEP_S = 10.0  # Snapshot.accepted_series: accepted per this many seconds of running time


@dataclass(frozen=True, slots=True)
class GroupStats:
    """One form (poetry), category (agentic) or variant (aba)."""

    name: str
    done: int  # accepted
    target: int
    rejected: int
    mean_score: float | None
    histogram: tuple[int, ...]  # HIST_BINS counts of accepted scores over [0, 1]
    pass_rate: float | None  # accepted / (accepted + rejected)
    attempts_per_accepted: float | None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    # SCORE_BINS counts over [0, 1] of every scored attempt, accepted or not (a failed call has no score)
    attempt_scores: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkerStats:
    id: int
    pid: int
    backend: str
    model: str
    state: str  # starting | running | pausing | paused | stopping | done | failed | dead | restarting
    alive: bool
    in_flight: int
    concurrency: int
    done: int
    rejected: int
    errors: int
    rate_limit_waits: int
    rate_limited_until: float | None
    last_error: str | None
    last_error_at: float | None
    updated_at: float
    restarts: int = 0
    log_tail: str | None = None
    retries: int = 0  # repeated calls
    pending: int = 0  # items of its share not yet ended
    breaker: str = "closed"  # closed | open (probing) | down (given up)
    down_since: float | None = None
    down_reason: str | None = None
    next_probe_at: float | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    kind: str  # "accepted" | "rejected"
    index: int  # running count of accepted items at the time (N in [N/total])
    total: int
    group: str
    score: float | None
    model: str
    attempts: int
    id: str
    reason: str | None = None  # rejected: the FAIL_* word
    detail: str | None = None  # rejected: one line of why
    path: str = ""  # file holding the full record, for the detail screen
    offset: int = 0  # byte offset of the record's line in that file
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    run: str
    job: str
    group_label: str  # "form" | "category" | "variant"
    state: str  # starting | running | pausing | paused | done | failed | stopped | detached
    started_at: float
    now: float
    total_target: int
    accepted: int
    rejected: int
    errors: int  # failed calls (no usable answer: transport or protocol), from the workers' heartbeats
    attempts: int
    rate_per_min: float  # accepted per minute over the sliding window
    eta_s: float | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    projected_cost_usd: float | None
    groups: tuple[GroupStats, ...]
    finish_reasons: dict[str, dict[str, int]]  # model -> normalised finish_reason -> count (all attempts)
    failures: dict[str, int]  # FAIL_* word -> count (all attempts, plus rate-limit waits)
    workers: tuple[WorkerStats, ...]
    feed: tuple[FeedItem, ...]  # newest last, bounded
    malformed_lines: int = 0
    rate_limit_waits: int = 0
    retries: int = 0  # repeated calls
    cost_unknown_calls: int = 0  # calls whose response had no usage: cost_usd leaves them out
    min_score: float | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)  # supervisor notices (restarts, failures)
    max_cost_usd: float | None = None  # the run's spend ceiling (the supervisor fills it), None = none
    paused_s: float = 0.0  # time paused between started_at and now: elapsed is running time
    # accepted per RATE_STEP_S of running time over the rate window, oldest first, the last ending now
    # (or where the pause or the end of the run froze the rate)
    accepted_series: tuple[int, ...] = ()

    @property
    def elapsed_s(self) -> float:
        return max(0.0, self.now - self.started_at - self.paused_s)

    @property
    def progress(self) -> float:
        return (self.accepted + self.rejected) / self.total_target if self.total_target else 0.0
