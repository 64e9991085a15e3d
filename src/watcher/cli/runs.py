"""`watcher runs [--runs-dir DIR]`: every run under the runs directory, newest first, one line each."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from watcher.errors import EXIT_OK


class RunsCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--runs-dir", "--root", dest="root", default=None,
                            help="where runs live (default: $WATCHER_RUNS, else data/runs)")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.run.paths import runs_root

        try:
            list_runs_table(runs_root(None, args.root))
        except BrokenPipeError:
            from watcher.cli.output import quiet_broken_pipe

            quiet_broken_pipe()
        return EXIT_OK


HEADERS = ("run", "job", "state", "progress", "accepted", "cost", "gate", "last activity")


def run_row(run_dir: Path, now: float) -> list[object]:
    from rich.text import Text

    from watcher.gate.verdict import read_gate_verdict
    from watcher.generate.supervisor import open_run_stats
    from watcher.monitor.format import STATE_STYLE, VERDICT_STYLE, fmt_duration
    from watcher.run.paths import RunPaths

    paths = RunPaths(run_dir)
    try:
        stats = open_run_stats(run_dir)
        stats.poll()
        s = stats.snapshot()
    except Exception as exc:  # one broken run must not hide the others
        return [run_dir.name, "?", Text(f"unreadable: {type(exc).__name__}", style="red"), "", "", "", "", ""]
    v = read_gate_verdict(run_dir)
    mtimes = [p.stat().st_mtime for p in (paths.dataset, paths.rejects, paths.events) if p.exists()]
    last = f"{fmt_duration(now - max(mtimes), coarse=True)} ago" if mtimes else "--"
    done = s.accepted + s.rejected
    gate_style = VERDICT_STYLE.get(v.word, "dim")
    return [run_dir.name, s.job, Text(s.state, style=STATE_STYLE.get(s.state, "")),
            f"{done}/{s.total_target} ({s.progress:.0%})", str(s.accepted), f"${s.cost_usd:.2f}",
            Text(v.word, style=gate_style), last]


def list_runs_table(root: Path) -> None:
    from watcher.cli.output import print_table
    from watcher.run.paths import list_runs

    runs = list_runs(root)
    if not runs:
        print(f"no runs under {root}")
        return
    now = time.time()
    print_table(HEADERS, [run_row(d, now) for d in runs], right=(3, 4, 5))  # type: ignore[misc]
