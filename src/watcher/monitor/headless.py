"""Plain-text / JSON-lines reporter for `watcher --headless` and `watcher status`.

It renders the same stats snapshot the TUI does: one line per accepted item in the seed's form
`[17/200] Sonnet: score=0.92 (claude-haiku-4-5)`, a summary line at an interval and a final table.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from dataclasses import asdict
from typing import Any, TextIO

from watcher.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED
from watcher.monitor.format import feed_line, fmt_duration, fmt_tokens, num, pct, sparkline
from watcher.monitor.snapshot import Snapshot


def summary_line(s: Snapshot) -> str:
    pct = 100 * s.progress
    cost = f" · ${s.cost_usd:.4f}" + (f" (proj. ${s.projected_cost_usd:.4f})" if s.projected_cost_usd else "")
    return (f"-- {s.state} · {s.accepted + s.rejected}/{s.total_target} ({pct:.0f}%) · ok {s.accepted} · "
            f"failed {s.rejected} · errors {s.errors} · {s.rate_per_min:.1f}/min · ETA {fmt_duration(s.eta_s)} · "
            f"tokens {fmt_tokens(s.tokens_in)} in / {fmt_tokens(s.tokens_out)} out{cost}")


def final_table(s: Snapshot) -> str:
    label = s.group_label
    w = max([len(label)] + [len(g.name) for g in s.groups]) + 2
    out = [f"run {s.run} · {s.state} · {fmt_duration(s.elapsed_s)} · accepted {s.accepted} · rejected "
           f"{s.rejected} · attempts {s.attempts} · malformed lines {s.malformed_lines}",
           f"{label:<{w}}{'done/target':>12} {'mean':>6} {'pass':>6} {'att/acc':>8}  histogram"]
    for g in s.groups:
        mean, pr, apa = num(g.mean_score), pct(g.pass_rate), num(g.attempts_per_accepted, ".1f")
        out.append(f"{g.name:<{w}}{f'{g.done}/{g.target}':>12} {mean:>6} {pr:>6} {apa:>8}  {sparkline(g.histogram)}")
    if s.finish_reasons:
        out.append("finish_reason per model:")
        for model, counts in s.finish_reasons.items():
            out.append(f"  {model}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if s.failures:
        out.append("failures: " + " · ".join(f"{k} {v}" for k, v in sorted(s.failures.items(), key=lambda kv: -kv[1])))
    out.append(f"tokens {fmt_tokens(s.tokens_in)} in / {fmt_tokens(s.tokens_out)} out · cost ${s.cost_usd:.4f}")
    for wk in s.workers:
        out.append(f"  worker {wk.id} {wk.backend}/{wk.model} pid {wk.pid} {wk.state}: done {wk.done} "
                   f"rejected {wk.rejected} errors {wk.errors} rate-limit waits {wk.rate_limit_waits}"
                   + (f" · last error: {wk.last_error}" if wk.last_error else ""))
    return "\n".join(out)


def snapshot_dict(s: Snapshot) -> dict[str, Any]:
    d = asdict(s)
    d["elapsed_s"] = s.elapsed_s
    d["progress"] = s.progress
    return d


class Reporter:
    def __init__(self, out: TextIO, json_mode: bool, interval: float) -> None:
        self.out, self.json, self.interval = out, json_mode, interval
        # Feed items come in file order, so a high-water byte offset per file marks what was printed.
        self.printed: dict[str, int] = {}
        self.last_summary = time.monotonic()
        self.last_fields: dict[str, Any] | None = None

    def emit(self, obj: dict[str, Any] | str) -> None:
        self.out.write((json.dumps(obj, default=str) if self.json else obj) + "\n")
        self.out.flush()

    def feed(self, s: Snapshot) -> None:
        for item in s.feed:
            if item.offset < self.printed.get(item.path, -1) + 1:
                continue
            self.printed[item.path] = item.offset
            self.emit({"type": item.kind, **asdict(item)} if self.json else feed_line(item))

    def summary(self, s: Snapshot, force: bool = False) -> None:
        if force or time.monotonic() - self.last_summary >= self.interval:
            self.last_summary = time.monotonic()
            fields = _summary_fields(s)
            if fields == self.last_fields:
                return  # nothing moved since the last summary: do not repeat it
            self.last_fields = fields
            self.emit({"type": "summary", **fields} if self.json else summary_line(s))

    def final(self, s: Snapshot) -> None:
        self.emit({"type": "final", **snapshot_dict(s)} if self.json else final_table(s))


def _summary_fields(s: Snapshot) -> dict[str, Any]:
    return {"state": s.state, "done": s.accepted + s.rejected, "total": s.total_target, "accepted": s.accepted,
            "rejected": s.rejected, "errors": s.errors, "rate_per_min": s.rate_per_min, "eta_s": s.eta_s,
            "tokens_in": s.tokens_in, "tokens_out": s.tokens_out, "cost_usd": s.cost_usd}


def run_headless(sup: Any, *, json_mode: bool = False, interval: float = 10.0, out: TextIO | None = None,
                 poll_s: float = 0.25) -> int:
    """Supervise until every worker has finished. First Ctrl-C: pause and stop gracefully (in-flight
    calls finish and are recorded); second: stop at once. Exit 0 done, 3 a worker failed, 130 interrupted."""
    rep = Reporter(out or sys.stdout, json_mode, interval)
    interrupts = 0

    def on_sigint(_sig: int, _frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            rep.emit({"type": "notice", "text": "stopping gracefully"} if json_mode else
                     "-- Ctrl-C: pausing and stopping gracefully; in-flight calls finish (Ctrl-C again to stop now)")
            sup.pause()
            sup.begin_stop()
        else:
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        while True:
            snap = sup.snapshot()
            rep.feed(snap)
            rep.summary(snap)
            if sup.finished():
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        sup.stop(graceful=False)
        interrupts = max(interrupts, 2)
    finally:
        signal.signal(signal.SIGINT, old)
    time.sleep(0.05)
    snap = sup.snapshot()
    rep.feed(snap)
    rep.summary(snap, force=True)
    rep.final(snap)
    if interrupts:
        return EXIT_INTERRUPTED
    return EXIT_RUN_FAILED if sup.failed() else EXIT_OK


def run_status(args: argparse.Namespace) -> int:
    from watcher.generate.supervisor import open_run_stats
    from watcher.run.paths import find_run

    run_dir = find_run(args.run)
    stats = open_run_stats(run_dir)
    stats.poll()
    snap = stats.snapshot()
    gate, training = gate_and_training(run_dir)
    if args.json:
        print(json.dumps({**snapshot_dict(snap), "gate": gate, "training": training}, default=str))
    else:
        print(summary_line(snap))
        print(final_table(snap))
        print(gate_and_training_line(gate, training))
    return EXIT_OK


def gate_and_training(run_dir: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The gate's verdict and training's state of a run, for `watcher status`."""
    from watcher.gate.verdict import read_gate_verdict
    from watcher.train.state import read_training_state

    v = read_gate_verdict(run_dir)
    t = read_training_state(run_dir)
    gate = {"verdict": v.word, "passed": v.passed, "stale": v.stale, "kept": v.kept, "total": v.total}
    training = None if t is None else {"status": t.status, "stage": t.stage, "iteration": t.iteration,
                                       "total_iters": t.total_iters, "error": t.error}
    return gate, training


def gate_and_training_line(gate: dict[str, Any], training: dict[str, Any] | None) -> str:
    g = f"gate {gate['verdict']}" + (f" ({gate['kept']} of {gate['total']} kept)" if gate["passed"] is not None
                                     else " (not run: `watcher gate`)")
    if training is None:
        return f"{g} · training not started"
    t = f"training {training['status']} · iteration {training['iteration']}/{training['total_iters']}"
    return f"{g} · {t}" + (f" · {training['error']}" if training.get("error") else "")
