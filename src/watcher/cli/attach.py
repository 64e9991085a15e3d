"""`watcher attach [--run NAME] [--headless]`: the TUI (or headless output) on a run whose workers run."""

from __future__ import annotations

import argparse

from watcher.cli.options import RunOptions, add_run_dir_flags


class AttachCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--headless", action="store_true", dest="sub_headless",
                            help="plain progress output instead of the TUI")
        parser.add_argument("--json", action="store_true", help="headless: JSON lines instead of text")
        parser.add_argument("--interval", type=float, default=10.0,
                            help="headless: seconds between summary lines (default: 10)")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.cli.launch import run_attach

        # Only the sub-command's own --headless counts here (as it always has).
        return run_attach(RunOptions(run=args.run, headless=args.sub_headless, as_json=args.json,
                                     interval=args.interval, run_dir=args.run_dir, runs_dir=args.runs_dir))
