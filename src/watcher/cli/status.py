"""`watcher status [--run NAME] [--json]`: a snapshot of a run, live or finished."""

from __future__ import annotations

import argparse

from watcher.cli.options import add_run_dir_flags


class StatusCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.monitor.headless import run_status

        return run_status(args)
