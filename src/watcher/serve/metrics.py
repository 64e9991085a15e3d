"""Prometheus exposition of a run: the same Snapshot the TUI, headless and `status` render.

Only figures the Snapshot (plus the gate report and training state files) really has are exposed;
a metric whose figure is unknown (e.g. ETA before the first item) is left out rather than faked.
Counters read from files keep their value across serve restarts, so `_total` series never reset
unless the run's files do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from watcher.generate.supervisor import open_run_stats
from watcher.monitor.snapshot import Snapshot
from watcher.run.files import read_json
from watcher.run.paths import RunPaths
from watcher.train.state import TrainingState, read_training_state

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Every state a worker or a run can report (snapshot.py), so a state with no member reads 0, not absent.
WORKER_STATES = ("starting", "running", "pausing", "paused", "stopping", "done", "failed", "dead", "restarting")
RUN_STATES = ("starting", "running", "pausing", "paused", "done", "failed", "stopped", "detached")
TRAIN_STATUSES = ("running", "stopped", "done", "failed")


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def snapshot_metrics(s: Snapshot) -> list[Metric]:
    """The run's counts as metric families; every series carries the `run` label."""
    run = [s.run]
    g_labels = ["run", "group"]
    target = _gauge("watcher_items_target", "Items the run plans per group", g_labels)
    accepted = _gauge("watcher_items_accepted", "Items accepted into the dataset per group", g_labels)
    rejected = _gauge("watcher_items_rejected", "Items that ended rejected per group", g_labels)
    pending = _gauge("watcher_items_pending", "Items not yet ended per group", g_labels)
    mean = _gauge("watcher_group_mean_score", "Mean verifier score of accepted items per group", g_labels)
    for g in s.groups:
        key = [s.run, g.name]
        target.add_metric(key, g.target)
        accepted.add_metric(key, g.done)
        rejected.add_metric(key, g.rejected)
        pending.add_metric(key, max(0, g.target - g.done - g.rejected))
        if g.mean_score is not None:
            mean.add_metric(key, g.mean_score)
    out: list[Metric] = [target, accepted, rejected, pending, mean]

    info = GaugeMetricFamily("watcher_run_info", "The run's job and what its groups are", labels=["run", "job", "group_label"])
    info.add_metric([s.run, s.job, s.group_label], 1)
    state = _gauge("watcher_run_state", "1 for the run's current state", ["run", "state"])
    for st in dict.fromkeys((*RUN_STATES, s.state)):
        state.add_metric([s.run, st], 1 if st == s.state else 0)
    started = _gauge("watcher_run_start_time_seconds", "When the run started (Unix time)", ["run"])
    started.add_metric(run, s.started_at)
    out += [info, state, started]

    attempts = CounterMetricFamily("watcher_attempts", "Generation attempts (calls) made", labels=["run"])
    attempts.add_metric(run, s.attempts)
    errors = CounterMetricFamily("watcher_errors", "Failed attempts (every failure class but below_min_score)", labels=["run"])
    errors.add_metric(run, s.errors)
    failures = CounterMetricFamily("watcher_failures", "Failed attempts by failure class", labels=["run", "reason"])
    for reason, n in sorted(s.failures.items()):
        failures.add_metric([s.run, reason], n)
    finish = CounterMetricFamily("watcher_finish_reasons", "Attempts by model and normalised finish_reason",
                                 labels=["run", "model", "reason"])
    for model, counts in sorted(s.finish_reasons.items()):
        for reason, n in sorted(counts.items()):
            finish.add_metric([s.run, model, reason], n)
    waits = CounterMetricFamily("watcher_rate_limit_waits", "Waits on a provider's rate limit", labels=["run"])
    waits.add_metric(run, s.rate_limit_waits)
    malformed = CounterMetricFamily("watcher_malformed_lines", "Unreadable lines skipped in the run's files", labels=["run"])
    malformed.add_metric(run, s.malformed_lines)
    out += [attempts, errors, failures, finish, waits, malformed]

    tokens = CounterMetricFamily("watcher_tokens", "Tokens used by kind", labels=["run", "kind"])
    tokens.add_metric([s.run, "input"], s.tokens_in)
    tokens.add_metric([s.run, "output"], s.tokens_out)
    spent = CounterMetricFamily("watcher_cost_spent_usd", "Money spent so far (USD)", labels=["run"])
    spent.add_metric(run, s.cost_usd)
    out += [tokens, spent]
    if s.projected_cost_usd is not None:
        proj = _gauge("watcher_cost_projected_usd", "Projected cost of the whole run at the current cost per item", ["run"])
        proj.add_metric(run, s.projected_cost_usd)
        out.append(proj)

    rate = _gauge("watcher_accept_rate_per_minute", "Items accepted per minute over the sliding window", ["run"])
    rate.add_metric(run, s.rate_per_min)
    out.append(rate)
    if s.eta_s is not None:
        eta = _gauge("watcher_eta_seconds", "Estimated seconds until every item has ended", ["run"])
        eta.add_metric(run, s.eta_s)
        out.append(eta)

    workers = _gauge("watcher_workers", "Workers by state", ["run", "state"])
    counts = dict.fromkeys(WORKER_STATES, 0)
    for w in s.workers:
        counts[w.state] = counts.get(w.state, 0) + 1
    for st, n in counts.items():
        workers.add_metric([s.run, st], n)
    in_flight = _gauge("watcher_worker_in_flight", "Calls in flight per worker", ["run", "worker", "backend", "model"])
    for w in s.workers:
        in_flight.add_metric([s.run, str(w.id), w.backend, w.model], w.in_flight)
    out += [workers, in_flight]
    if s.workers:
        # A backend is up unless one of its workers' breakers gave it up (down); open = probing.
        up = _gauge("watcher_backend_up", "1 while the backend is not given up on (breaker not down)",
                    ["run", "backend"])
        probing = _gauge("watcher_backend_probing", "1 while the backend's breaker is open (probing)",
                         ["run", "backend"])
        states: dict[str, set[str]] = {}
        for w in s.workers:
            states.setdefault(w.backend, set()).add(w.breaker)
        for backend, st in sorted(states.items()):
            up.add_metric([s.run, backend], 0 if "down" in st else 1)
            probing.add_metric([s.run, backend], 1 if "open" in st else 0)
        out += [up, probing]
    return out


def gate_metrics(run: str, report: dict[str, Any] | None) -> list[Metric]:
    """The last quality gate's verdict, from its report file; nothing before a gate has run."""
    if not report or "passed" not in report:
        return []
    passed = _gauge("watcher_gate_passed", "1 if the last quality gate passed, 0 if it failed", ["run"])
    passed.add_metric([run], 1 if report["passed"] else 0)
    out: list[Metric] = [passed]
    if isinstance(report.get("kept"), int):
        kept = _gauge("watcher_gate_kept_items", "Items the last gate kept for export", ["run"])
        kept.add_metric([run], report["kept"])
        out.append(kept)
    return out


def train_metrics(run: str, state: TrainingState | None) -> list[Metric]:
    """Training progress (train.state.read_training_state); nothing when the run was never trained."""
    if state is None:
        return []
    status = _gauge("watcher_train_status", "1 for the training's current status", ["run", "status"])
    for st in dict.fromkeys((*TRAIN_STATUSES, state.status)):
        status.add_metric([run, st], 1 if st == state.status else 0)
    step = _gauge("watcher_train_step", "Training iteration reached (over all stages)", ["run"])
    step.add_metric([run], state.iteration)
    out: list[Metric] = [status, step]
    if state.total_iters:
        total = _gauge("watcher_train_steps_target", "Training iterations planned (over all stages)", ["run"])
        total.add_metric([run], state.total_iters)
        out.append(total)
    for series, name, doc in ((state.train_loss, "watcher_train_loss", "Last reported training loss"),
                              (state.val_loss, "watcher_train_val_loss", "Last reported validation loss")):
        if series:
            loss = _gauge(name, doc, ["run"])
            loss.add_metric([run], float(series[-1][1]))
            out.append(loss)
    return out


class RunCollector(Collector):
    """Collects a run's metrics on every scrape: the snapshot from `snapshot()`, gate and training
    from their files. `snapshot` returns None before one exists (then nothing is exposed)."""

    def __init__(self, run_dir: Path, snapshot: Callable[[], Snapshot | None]) -> None:
        self.run_dir = Path(run_dir)
        self.paths = RunPaths(self.run_dir)
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot()
        if s is None:
            return
        yield from snapshot_metrics(s)
        yield from gate_metrics(s.run, read_json(self.paths.gate_report))
        yield from train_metrics(s.run, read_training_state(self.run_dir))


class RunMetrics:
    """`/metrics` text for one run directory, live or finished, read without owning the run."""

    def __init__(self, run_dir: Path, snapshot: Callable[[], Snapshot | None] | None = None) -> None:
        self._lock = threading.Lock()  # one scrape at a time: the aggregator is not thread-safe
        if snapshot is None:
            stats = open_run_stats(Path(run_dir), feed_size=1)

            def snapshot() -> Snapshot:
                stats.poll()
                return stats.snapshot()

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(RunCollector(run_dir, snapshot))

    def render(self) -> bytes:
        with self._lock:
            return generate_latest(self.registry)
