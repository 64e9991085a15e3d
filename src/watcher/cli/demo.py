"""`watcher demo [--headless]`: the full pipeline against the built-in simulated provider; no key needed."""

from __future__ import annotations

import argparse

from watcher.cli.options import RunOptions, add_run_flags


class DemoCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        # Its own dest: `watcher --headless demo` and `watcher demo --headless` both work.
        parser.add_argument("--headless", action="store_true", dest="sub_headless",
                            help="plain progress output instead of the TUI; exits when the job is done")
        parser.add_argument("--pace", choices=("real", "fast"), default=None,
                            help="simulated provider's speed: real (1-3 s a call, a few rate limits and "
                                 "server errors; a minute of run to watch) or fast (default: real in the "
                                 "TUI, fast with --headless or --detach)")
        add_run_flags(parser)

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.cli.launch import run_main

        return run_main(RunOptions.from_args(args, headless=args.headless or args.sub_headless), demo=True,
                        pace=args.pace)
