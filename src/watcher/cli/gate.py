"""`watcher gate`: run the quality gate on a run and print its report (a table, or JSON)."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

import orjson

from watcher.config import load_config
from watcher.gate.export import SPLITS
from watcher.gate.run import GateReport, run_gate
from watcher.monitor.format import VERDICT_STYLE
from watcher.monitor.notify import notify_gate_failed
from watcher.monitor.terminal import echo, progress_bar
from watcher.run.paths import (
    RunPaths,
    check_run_name,
    find_run,
    load_run_config,
    open_run_dir,
    runs_root,
    select_run,
)

# What `echo` colours in the report on a terminal (the text is the same piped or not).
REPORT_COLOURS = (
    (r"(?m)^gate · .*$", "bold"),
    (r"(?<=%  )FAIL\b", "bold red"), (r"(?<=%  )drop\b", "yellow"), (r"(?<=%  )ok\b", "green"),
    (r"(?<=%  )skip\b", "dim"), (r"✗ short", "bold red"),
    (r"(?m)^PASS$", VERDICT_STYLE["PASS"]), (r"(?m)^FAIL(?=: )", VERDICT_STYLE["FAIL"]),
)


def format_report(rep: GateReport) -> str:
    lines = [f"gate · run {rep.run} · {rep.job} · {rep.dataset}", ""]
    lines.append(f"{'check':<16} {'count':>8} {'share':>7}  status  description")
    for c in rep.checks:
        lines.append(f"{c.name:<16} {c.count:>8} {c.share:>7.1%}  {c.status:<6}  {c.description}")
    for c in rep.checks:
        if c.examples and c.name != "balance":
            lines.append(f"\n{c.name}:")
            for ex in c.examples:
                rid = f" id {ex['id']}" if ex.get("id") else ""
                lines.append(f"  line {ex['line']}{rid}: {ex['why']}" + (f" — {ex['excerpt']}" if ex["excerpt"] else ""))
    if rep.balance:
        lines.append(f"\n{'group':<24} {'kept':>6} {'target':>7} {'min':>6}")
        for b in rep.balance:
            mark = "" if b["ok"] else "  ✗ short"
            lines.append(f"{b['group']:<24} {b['kept']:>6} {b['target']:>7} {b['min']:>6}{mark}")
    lines.append("")
    lines.append(f"kept {rep.kept}/{rep.total} ({rep.kept / max(rep.total, 1):.1%})")
    if rep.exported:
        ex = " · ".join(f"{s} {rep.exported.get(s, 0)}" for s in SPLITS)
        lines.append(f"exported ({rep.trace_style} traces): {ex} → {rep.export_dir}")
    for n in rep.notes:
        lines.append(f"note: {n}")
    lines.append(f"report: {RunPaths(Path(rep.run_dir)).gate_report} ({rep.duration_s:.2f}s)")
    if rep.passed:
        lines.append("PASS")
    else:
        lines.append("FAIL: " + "; ".join(rep.reasons))
    return "\n".join(lines)


def run_gate_cli(args: argparse.Namespace) -> int:
    """`watcher gate [--run NAME] [--config FILE] [--json]`: 0 pass, 1 fail; ConfigError → 2."""
    override = load_config(args.config)[0] if args.config else None
    run_dir = select_run(args.run, args.run_dir, runs_root(override, args.runs_dir))
    cfg = load_run_config(run_dir)
    if override is not None:
        # --config supplies the [gate] table only; the job and its targets stay the run's own.
        cfg = cfg.model_copy(update={"gate": override.gate})
    root = runs_root(override, args.runs_dir)
    # Earlier runs by name under the runs folder, or by the path of a run directory.
    against = [open_run_dir(a) if "/" in a else find_run(check_run_name(a), root)
               for a in args.against or []]
    as_json = args.json
    # On a terminal a bar follows the scan of a large dataset; JSON and piped output stay as they were.
    with progress_bar("gate", None, counts=False) if not as_json else nullcontext(None) as bar:
        rep = run_gate(run_dir, cfg, against=against, progress=bar.update if bar is not None else None)
    if not rep.passed:  # the same event the TUI's g sends through the supervisor
        notify_gate_failed(cfg, RunPaths(run_dir), "; ".join(rep.reasons) or "see gate/report.json",
                           rep.kept, rep.total)
    if as_json:
        print(orjson.dumps(rep.to_dict()).decode())
    else:
        echo(format_report(rep), REPORT_COLOURS)
    return 0 if rep.passed else 1
