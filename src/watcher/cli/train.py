"""`watcher train`: start (or follow) LoRA training on a run's gated export and print its progress."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from watcher.errors import EXIT_DISK_FULL, EXIT_USAGE
from watcher.gate.verdict import read_gate_verdict
from watcher.monitor.format import fmt_clock
from watcher.monitor.tail import FileTailer
from watcher.monitor.terminal import Bar, progress_bar
from watcher.run.files import disk_full, read_json
from watcher.run.paths import RunPaths, runs_root, select_run
from watcher.train.config import load_train_config
from watcher.train.evaluate import format_eval_table
from watcher.train.process import ensure_gate_export, start_training, stop_training
from watcher.train.state import TrainingState, metrics_records, read_training_state, runner_alive


def find_run_dir(args: argparse.Namespace) -> Path:
    """`--run-dir PATH`, or `--run NAME` under the runs folder, the newest run when neither is given."""
    if args.run_dir and (Path(args.run_dir) / "gate").is_dir():  # training needs only the gate's export
        return Path(args.run_dir)
    return select_run(args.run, args.run_dir, runs_root(None, args.runs_dir))


def format_progress(rec: dict[str, Any], snap: TrainingState | None) -> str:
    """One headless progress line for a metrics record."""
    stages = snap.stages if snap is not None else ()
    k = int(rec.get("stage_index") or 0)
    head = f"[train] stage {k + 1}/{len(stages) or '?'} {rec.get('stage')}"
    it = f"it {rec.get('iteration')}/{rec.get('stage_iters', '?')}"
    glob = f"({rec.get('global_iteration')}/{snap.total_iters if snap is not None else '?'})"
    if rec.get("val_loss") is not None:
        return f"{head}  {it} {glob}  val_loss {rec['val_loss']:.4f}"
    mem = float(rec.get("peak_memory") or 0.0)
    mem_s = f"{mem:.2f} GB" if mem >= 1 else f"{mem * 1000:.0f} MB"
    return (f"{head}  {it} {glob}  train_loss {rec['train_loss']:.4f}  lr {rec.get('learning_rate', 0):.2e}  "
            f"{rec.get('tokens_per_second') or 0:.0f} tok/s  peak {mem_s}  "
            f"ETA {fmt_clock(snap.eta_s if snap is not None else None, hours=False)}")


def follow_training(run_dir: Path, proc: subprocess.Popen[bytes] | None,
                    emit: Callable[[str], None], as_json: bool = False,
                    poll_s: float = 0.5, bar: Bar | None = None) -> tuple[TrainingState | None, bool]:
    """Print progress while the runner works; first Ctrl-C stops it gracefully, a second kills it.
    Returns the final state and whether the user interrupted. `bar`: a live bar (a terminal) to move."""
    tail = FileTailer(RunPaths(run_dir).train_metrics)
    interrupted = 0
    while True:
        try:
            snap = read_training_state(run_dir)
            if bar is not None and snap is not None:
                bar.update(snap.iteration, snap.total_iters or None, f"train · {snap.stage or 'starting'}")
            for rec in metrics_records(tail):
                emit(json.dumps(rec) if as_json else format_progress(rec, snap))
            running = proc.poll() is None if proc is not None else snap is not None and snap.status == "running"
            if not running:
                for rec in metrics_records(tail):
                    emit(json.dumps(rec) if as_json else format_progress(rec, snap))
                return read_training_state(run_dir), bool(interrupted)
            time.sleep(poll_s)
        except KeyboardInterrupt:
            interrupted += 1
            if interrupted == 1:
                emit("stopping: finishing the current step and saving the adapter (Ctrl-C again to kill)")
                stop_training(run_dir)
            elif proc is not None:
                proc.kill()


def run_train_cli(args: argparse.Namespace) -> int:
    """`watcher train [--run NAME] [--config FILE] [--headless] [--json]`."""
    as_json = bool(args.json)
    run_dir = find_run_dir(args)
    ensure_gate_export(run_dir)
    caution = read_gate_verdict(run_dir).caution()
    if caution:
        # Train anyway (the export holds only records that passed every record check), but say so.
        print(f"[train] warning: {caution}; training on its export anyway", flush=True)
    cfg = load_train_config(args.config, run_dir)

    live: list[Bar] = []  # the live bar while there is one

    def emit(line: str) -> None:
        if live:
            live[0].print(line)  # above the bar
        else:
            print(line, flush=True)

    state = read_json(RunPaths(run_dir).train_state, {}) or {}
    if runner_alive(state):
        emit(f"[train] following the training already running for {run_dir.name} (pid {state.get('pid')})")
        proc = None
    else:
        proc = start_training(run_dir, cfg=cfg)
        if not as_json:
            emit(f"[train] run {run_dir.name}: {len(cfg.stages)} stage(s), {cfg.total_iters} iterations, "
                 f"model {cfg.model}; log {RunPaths(run_dir).train_log}")
    # On a terminal a bar follows the iterations under the progress lines; piped, only the lines.
    with progress_bar("train", cfg.total_iters) if not as_json else nullcontext(None) as bar:
        live.extend([bar] if bar is not None else [])
        final, interrupted = follow_training(run_dir, proc, emit, as_json=as_json, bar=bar)
    live.clear()
    rc = proc.wait() if proc is not None else 0
    status, error = (final.status, final.error) if final is not None else (None, None)
    if as_json:
        emit(json.dumps({"event": "train_end", "status": status, "error": error,
                         "iteration": final.iteration if final else None, "eval": final.eval if final else None}))
    if final is not None and status == "done":
        if not as_json:
            emit(format_eval_table(final.eval) if final.eval else "[train] done (evaluation disabled)")
        return 0
    if final is not None and status == "stopped":
        if not as_json:
            emit(f"[train] stopped at iteration {final.iteration}/{final.total_iters}; "
                 f"run `watcher train --run {run_dir.name}` again to resume")
        return 130 if interrupted else 0
    if rc == EXIT_DISK_FULL and not error:
        error = str(disk_full(RunPaths(run_dir).train_state, OSError(28, "ENOSPC")))
    print(f"watcher train: {error or 'training failed; see train/train.log'}", file=sys.stderr)
    return EXIT_USAGE if rc == EXIT_USAGE else 3
