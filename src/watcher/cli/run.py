"""`watcher` and `watcher --headless`: supervise a run of the configured job (the default command)."""

from __future__ import annotations

import argparse

from watcher.cli.options import RunOptions, add_run_flags


class RunCommand:
    """Prepares the top-level parser itself: its flags are the ones `watcher` takes without a command."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--headless", action="store_true", help="plain progress output instead of the TUI")
        add_run_flags(parser)

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        # Imported here, as in every command: `watcher forms` or a worker need not load the run machinery.
        from watcher.cli.launch import run_main

        return run_main(RunOptions.from_args(args, headless=args.headless))
