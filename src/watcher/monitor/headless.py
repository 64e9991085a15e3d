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
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any, TextIO

from watcher.errors import EXIT_OK
from watcher.monitor.batches import BatchWatch, committed_part, status_lines
from watcher.monitor.format import (
    STATE_STYLE,
    VERDICT_STYLE,
    feed_line,
    fmt_duration,
    fmt_tokens,
    num,
    pct,
    sparkline,
)
from watcher.monitor.outcome import backend_status, pending_items, run_outcome
from watcher.monitor.snapshot import Snapshot
from watcher.monitor.terminal import Bar, Rules, echo, progress_bar
from watcher.run.batches import ledger_summary
from watcher.run.paths import RunPaths


def summary_line(s: Snapshot) -> str:
    pct = 100 * s.progress
    cost = f" · ${s.cost_usd:.4f}" + (f" (proj. ${s.projected_cost_usd:.4f})" if s.projected_cost_usd else "")
    if s.cost_unknown_calls:
        cost += f" · cost unknown for {s.cost_unknown_calls} calls"
    # A backend that is probing or down says so, with since when, why and the next probe.
    for b in sorted({f"{w.backend} {backend_status(w)}" for w in s.workers if backend_status(w)}):
        cost += f" · {b}"
    return (f"-- {s.state} · {s.accepted + s.rejected}/{s.total_target} ({pct:.0f}%) · accepted {s.accepted} · "
            f"rejected {s.rejected} · pending {pending_items(s)} · errors {s.errors} · retries {s.retries} · "
            f"{s.rate_per_min:.1f}/min · ETA {fmt_duration(s.eta_s)} · "
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
    unknown = f" · cost unknown for {s.cost_unknown_calls} calls (no usage in the response)" \
        if s.cost_unknown_calls else ""
    out.append(f"tokens {fmt_tokens(s.tokens_in)} in / {fmt_tokens(s.tokens_out)} out · cost ${s.cost_usd:.4f}{unknown}")
    for wk in s.workers:
        out.append(f"  worker {wk.id} {wk.backend}/{wk.model} pid {wk.pid} {wk.state}: done {wk.done} "
                   f"rejected {wk.rejected} pending {wk.pending} errors {wk.errors} retries {wk.retries} "
                   f"rate-limit waits {wk.rate_limit_waits}"
                   + (f" · {backend_status(wk)}" if backend_status(wk) else "")
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
        self.bar: Bar | None = None  # a live progress bar on a terminal (lines print above it)
        self.batches: BatchWatch | None = None  # batch mode: lines from the run's batches.jsonl

    def batch_lines(self) -> None:
        if self.batches is None:
            return
        for text, fields in self.batches.changes():
            self.emit({"type": "batch", **fields} if self.json else text)

    def emit(self, obj: dict[str, Any] | str) -> None:
        if self.bar is not None and isinstance(obj, str):
            self.bar.print(obj)
            return
        self.out.write((json.dumps(obj, default=str) if self.json else obj) + "\n")
        self.out.flush()

    def show_progress(self, s: Snapshot) -> None:
        if self.bar is not None:
            self.bar.update(s.accepted + s.rejected, s.total_target,
                            f"{s.state} · {s.rate_per_min:.1f}/min · ${s.cost_usd:.2f}")

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
            committed = self.batches.summary() if self.batches is not None else None
            if committed is not None:
                fields["committed_usd"] = committed["committed_usd"]
            if fields == self.last_fields:
                return  # nothing moved since the last summary: do not repeat it
            self.last_fields = fields
            self.emit({"type": "summary", **fields} if self.json else
                      summary_line(s) + (committed_part(committed) if committed else ""))

    def final(self, s: Snapshot) -> None:
        self.emit({"type": "final", **snapshot_dict(s)} if self.json else final_table(s))


def _summary_fields(s: Snapshot) -> dict[str, Any]:
    return {"state": s.state, "done": s.accepted + s.rejected, "total": s.total_target, "accepted": s.accepted,
            "rejected": s.rejected, "pending": pending_items(s), "errors": s.errors, "retries": s.retries, "rate_per_min": s.rate_per_min, "eta_s": s.eta_s,
            "tokens_in": s.tokens_in, "tokens_out": s.tokens_out, "cost_usd": s.cost_usd}


def run_headless(sup: Any, *, json_mode: bool = False, interval: float = 10.0, out: TextIO | None = None,
                 poll_s: float = 0.25) -> int:
    """Supervise until every worker has finished. First Ctrl-C: pause and stop gracefully (in-flight
    calls finish and are recorded); second: stop at once. Exit 0 done, 3 a worker failed, 130 interrupted."""
    rep = Reporter(out or sys.stdout, json_mode, interval)
    paths, cfg = getattr(sup, "paths", None), getattr(sup, "cfg", None)
    if paths is not None and (paths.batches.exists() or any(b.batch for b in cfg.backends.values())):
        rep.batches = BatchWatch(paths.batches)
    interrupts = 0

    def on_sigint(_sig: int, _frame: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            what = "Ctrl-C" if _sig == signal.SIGINT else signal.Signals(_sig).name
            rep.emit({"type": "notice", "text": "stopping gracefully", "signal": what} if json_mode else
                     f"-- {what}: pausing and stopping gracefully; in-flight calls finish (Ctrl-C again to stop now)"
                     + ("; batches in flight stay at the provider and the same command picks them up"
                        if rep.batches is not None else ""))
            sup.pause()
            sup.begin_stop()
        else:
            raise KeyboardInterrupt

    # SIGTERM and SIGHUP (a process manager, a closed terminal) stop like the first Ctrl-C.
    old = {s: signal.signal(s, on_sigint) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    # On a terminal a live bar sits under the item lines; piped, the lines are all there is.
    bar_ctx = progress_bar("generating", None, rep.out) if not json_mode else nullcontext(None)
    try:
        with bar_ctx as bar:
            rep.bar = bar
            try:
                while True:
                    snap = sup.snapshot()
                    rep.feed(snap)
                    rep.batch_lines()
                    rep.summary(snap)
                    rep.show_progress(snap)
                    if sup.finished():
                        break
                    time.sleep(poll_s)
            finally:
                rep.bar = None
    except KeyboardInterrupt:
        sup.stop(graceful=False)
        interrupts = max(interrupts, 2)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    time.sleep(0.05)
    snap = sup.snapshot()
    rep.feed(snap)
    rep.batch_lines()
    rep.summary(snap, force=True)
    rep.final(snap)
    left = rep.batches.left_in_flight() if rep.batches is not None else None
    if left:
        rep.emit({"type": "notice", "text": left} if json_mode else left)
    backend_down = any(w.breaker == "down" for w in snap.workers)
    if sup.failed() and not interrupts and not backend_down:
        # One line on stderr saying why (a full disk, a refused key); the outcome line stays last.
        why = getattr(sup, "fail_reason", None) or next(
            (w.last_error for w in snap.workers if w.state == "failed" and w.last_error), None)
        sys.stdout.flush()
        print(f"watcher: run {snap.run} stopped with workers failed: {why or 'see the worker logs'}",
              file=sys.stderr, flush=True)
    code, line = run_outcome(snap, sup.failed(), bool(interrupts), budget_line(sup))
    rep.emit({"type": "outcome", "exit_code": code, "text": line} if json_mode else line)
    return code


def budget_line(sup: Any) -> str | None:
    """The spend ceiling's line when the run stopped at it with items left (generate/budget.py)."""
    from watcher.generate.budget import budget_stop_message

    paths, cfg = getattr(sup, "paths", None), getattr(sup, "cfg", None)
    return budget_stop_message(paths, cfg) if paths is not None and cfg is not None else None


def run_status(args: argparse.Namespace) -> int:
    from watcher.generate.supervisor import open_run_stats
    from watcher.run.paths import runs_root, select_run

    run_dir = select_run(args.run, getattr(args, "run_dir", None), runs_root(None, getattr(args, "runs_dir", None)))
    stats = open_run_stats(run_dir)
    stats.poll()
    snap = stats.snapshot()
    corrupt = _corrupt_lines(run_dir)
    gate, training = gate_and_training(run_dir)
    if args.json:
        print(json.dumps({**snapshot_dict(snap), "corrupt_lines": corrupt, "gate": gate, "training": training,
                          "batches": ledger_summary(RunPaths(run_dir).batches)}, default=str))
    else:
        lines = [summary_line(snap), final_table(snap), gate_and_training_line(gate, training)]
        lines += status_lines(RunPaths(run_dir).batches)
        if corrupt:
            lines.append(f"corrupt dataset lines {corrupt}: not whole accepted records (the gate drops them as "
                         "valid_json/schema); their items are generated again on the next start")
        echo("\n".join(lines), STATUS_COLOURS)
    return EXIT_OK


# What `echo` colours in `watcher status` on a terminal: the run's and workers' states, the gate's
# verdict, training's status, problems.
STATUS_COLOURS: Rules = (
    *((rf"(?m)(?<=^-- ){st}\b|(?<= · ){st}(?= · )|(?<=\d ){st}(?=: done)", style)
      for st, style in STATE_STYLE.items()),
    *((rf"(?<=gate ){word}(?= )", style) for word, style in VERDICT_STYLE.items() if word.endswith("ED")
      or word == "STALE"),
    (r"(?<=training )(done|running)\b", "green"), (r"(?<=training )(failed|stopped)\b", "bold red"),
    (r"(?m)^corrupt dataset lines \d+", "bold red"), (r"last error: .*$", "red"),
)


def _corrupt_lines(run_dir: Any) -> int:
    """The count resume and the gate agree on (generate/plan.py decodes as the gate's schema check)."""
    from watcher.generate.plan import corrupt_lines
    from watcher.run.paths import RunPaths, load_run_config

    cfg = load_run_config(run_dir)
    return corrupt_lines(RunPaths(run_dir, cfg.output).dataset, cfg.job)


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
