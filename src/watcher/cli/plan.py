"""`watcher plan [--config FILE] [run flags] [--json]` (and `--dry-run` on the run commands): what a
run would do and cost, without calling any model."""

from __future__ import annotations

import argparse

from watcher.cli.options import RunOptions, add_run_flags


class PlanCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        add_run_flags(parser)

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.cli.launch import resolve_run_config
        from watcher.cli.planview import print_plan

        opts = RunOptions.from_args(args, headless=True)
        return print_plan(resolve_run_config(opts, demo=False), opts)
