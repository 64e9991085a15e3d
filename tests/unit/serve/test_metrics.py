"""Prometheus exposition of a Snapshot, gate report and training state: names, labels and values."""

from __future__ import annotations

import httpx
import pytest
from helpers import free_port
from prometheus_client.parser import text_string_to_metric_families

from watcher.errors import ConfigError
from watcher.monitor.snapshot import GroupStats, Snapshot, WorkerStats
from watcher.serve.exporter import MetricsEndpoint, SnapshotTap
from watcher.serve.metrics import RunMetrics, gate_metrics, snapshot_metrics, train_metrics
from watcher.train.state import TrainingState


def group(name: str, done: int, target: int, rejected: int, mean: float | None) -> GroupStats:
    return GroupStats(name=name, done=done, target=target, rejected=rejected, mean_score=mean,
                      histogram=(0,) * 10, pass_rate=None, attempts_per_accepted=None)


def worker(wid: int, state: str, in_flight: int = 0) -> WorkerStats:
    return WorkerStats(id=wid, pid=100 + wid, backend="claude", model="claude-haiku-4-5", state=state, alive=True,
                       in_flight=in_flight, concurrency=4, done=1, rejected=0, errors=0, rate_limit_waits=0,
                       rate_limited_until=None, last_error=None, last_error_at=None, updated_at=0.0)


def snap(**kw) -> Snapshot:
    base = dict(
        run="r1", job="poetry", group_label="form", state="running", started_at=1000.0, now=1060.0,
        total_target=10, accepted=4, rejected=2, errors=3, attempts=11, rate_per_min=4.0, eta_s=60.0,
        tokens_in=1200, tokens_out=800, cost_usd=0.25, projected_cost_usd=0.42,
        groups=(group("Haiku", 3, 5, 1, 0.9), group("Limerick", 1, 5, 1, None)),
        finish_reasons={"claude-haiku-4-5": {"stop": 9, "length": 2}}, failures={"truncated": 2, "timeout": 1},
        workers=(worker(0, "running", 3), worker(1, "paused")), feed=(), rate_limit_waits=5, malformed_lines=1)
    base.update(kw)
    return Snapshot(**base)


def parse(metrics) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the text format."""
    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    class One:
        def collect(self):
            return metrics

    reg = CollectorRegistry()
    reg.register(One())
    text = generate_latest(reg).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_items_per_group_and_pending():
    m = parse(snapshot_metrics(snap()))
    assert m[("watcher_items_target", (("group", "Haiku"), ("run", "r1")))] == 5
    assert m[("watcher_items_accepted", (("group", "Haiku"), ("run", "r1")))] == 3
    assert m[("watcher_items_rejected", (("group", "Limerick"), ("run", "r1")))] == 1
    assert m[("watcher_items_pending", (("group", "Haiku"), ("run", "r1")))] == 1
    assert m[("watcher_items_pending", (("group", "Limerick"), ("run", "r1")))] == 3
    assert m[("watcher_group_mean_score", (("group", "Haiku"), ("run", "r1")))] == 0.9
    assert ("watcher_group_mean_score", (("group", "Limerick"), ("run", "r1"))) not in m  # no score yet


def test_counters_end_in_total_and_carry_their_labels():
    m = parse(snapshot_metrics(snap()))
    assert m[("watcher_attempts_total", (("run", "r1"),))] == 11
    assert m[("watcher_errors_total", (("run", "r1"),))] == 3
    assert m[("watcher_failures_total", (("reason", "truncated"), ("run", "r1")))] == 2
    assert m[("watcher_finish_reasons_total", (("model", "claude-haiku-4-5"), ("reason", "length"), ("run", "r1")))] == 2
    assert m[("watcher_tokens_total", (("kind", "input"), ("run", "r1")))] == 1200
    assert m[("watcher_tokens_total", (("kind", "output"), ("run", "r1")))] == 800
    assert m[("watcher_cost_spent_usd_total", (("run", "r1"),))] == 0.25
    assert m[("watcher_rate_limit_waits_total", (("run", "r1"),))] == 5
    assert m[("watcher_malformed_lines_total", (("run", "r1"),))] == 1


def test_gauges_states_and_unknowns_left_out():
    m = parse(snapshot_metrics(snap()))
    assert m[("watcher_cost_projected_usd", (("run", "r1"),))] == 0.42
    assert m[("watcher_accept_rate_per_minute", (("run", "r1"),))] == 4.0
    assert m[("watcher_eta_seconds", (("run", "r1"),))] == 60.0
    assert m[("watcher_workers", (("run", "r1"), ("state", "running")))] == 1
    assert m[("watcher_workers", (("run", "r1"), ("state", "paused")))] == 1
    assert m[("watcher_workers", (("run", "r1"), ("state", "failed")))] == 0
    assert m[("watcher_worker_in_flight", (("backend", "claude"), ("model", "claude-haiku-4-5"), ("run", "r1"),
                                           ("worker", "0")))] == 3
    assert m[("watcher_run_state", (("run", "r1"), ("state", "running")))] == 1
    assert m[("watcher_run_state", (("run", "r1"), ("state", "done")))] == 0
    bare = parse(snapshot_metrics(snap(eta_s=None, projected_cost_usd=None)))
    assert not any(k[0] in ("watcher_eta_seconds", "watcher_cost_projected_usd") for k in bare)


def test_gate_and_training():
    assert gate_metrics("r1", None) == []
    m = parse(gate_metrics("r1", {"passed": False, "kept": 7}))
    assert m[("watcher_gate_passed", (("run", "r1"),))] == 0
    assert m[("watcher_gate_kept_items", (("run", "r1"),))] == 7
    assert train_metrics("r1", None) == []
    m = parse(train_metrics("r1", TrainingState(status="running", iteration=30, total_iters=100,
                                                train_loss=((10, 2.5), (30, 1.75)))))
    assert m[("watcher_train_step", (("run", "r1"),))] == 30
    assert m[("watcher_train_steps_target", (("run", "r1"),))] == 100
    assert m[("watcher_train_loss", (("run", "r1"),))] == 1.75
    assert m[("watcher_train_status", (("run", "r1"), ("status", "running")))] == 1
    assert not any(k[0] == "watcher_train_val_loss" for k in m)


def test_run_metrics_render_reads_gate_file(tmp_path):
    (tmp_path / "gate").mkdir()
    (tmp_path / "gate" / "report.json").write_text('{"passed": true, "kept": 4}')
    text = RunMetrics(tmp_path, snapshot=snap).render().decode()
    assert 'watcher_gate_passed{run="r1"} 1.0' in text and "watcher_items_target" in text
    assert RunMetrics(tmp_path, snapshot=lambda: None).render() == b""


class FakeSup:
    """Just what the exporter touches of a supervisor."""

    def __init__(self, run_dir) -> None:
        self.run_dir = run_dir
        self.paused = False

    def snapshot(self) -> Snapshot:
        return snap()

    def pause(self) -> None:
        self.paused = True



def test_tap_keeps_the_last_snapshot_and_passes_commands_through(tmp_path):
    sup = FakeSup(tmp_path)
    tap = SnapshotTap(sup)
    assert tap.latest is None
    tap.pause()
    assert sup.paused and tap.snapshot() is tap.latest and tap.run_dir == tmp_path


def test_metrics_endpoint_serves_the_headless_snapshots(tmp_path):
    sup = FakeSup(tmp_path)
    with MetricsEndpoint(sup, None) as same:
        assert same is sup
    port = free_port()
    endpoint = MetricsEndpoint(sup, port)
    with endpoint as tap:
        url = f"http://127.0.0.1:{port}/metrics"
        assert "watcher_items_target" not in httpx.get(url, timeout=5).text  # nothing before a snapshot
        tap.snapshot()
        assert 'watcher_attempts_total{run="r1"} 11.0' in httpx.get(url, timeout=5).text
        with pytest.raises(ConfigError, match="--metrics-port"):
            MetricsEndpoint(sup, port)  # taken: a usage error before any worker would start
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_backend_up_down_and_probing():
    from dataclasses import replace

    down = replace(worker(0, "failed"), breaker="down", down_reason="auth 401")
    probing = replace(worker(1, "running"), backend="openrouter", breaker="open")
    m = parse(snapshot_metrics(snap(workers=(down, probing))))
    assert m[("watcher_backend_up", (("backend", "claude"), ("run", "r1")))] == 0
    assert m[("watcher_backend_up", (("backend", "openrouter"), ("run", "r1")))] == 1
    assert m[("watcher_backend_probing", (("backend", "openrouter"), ("run", "r1")))] == 1
