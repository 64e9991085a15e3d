"""`watcher sim [--port N]`: serve the simulated provider on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse

from watcher.cli.options import port_number


class SimCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--port", type=port_number, default=8765, help="port on 127.0.0.1 (default: 8765)")
        parser.add_argument("--latency", type=float, default=None, help="seconds per response (mean)")
        parser.add_argument("--rpm", type=int, default=None, help="enforced requests per minute (429 beyond)")
        parser.add_argument("--defect-rate", type=float, default=None, help="share of defective poems")
        parser.add_argument("--fault", action="append", default=[], help="FAULT=RATE, e.g. 500=0.05, drop=0.02")
        parser.add_argument("--context-tokens", type=int, default=None,
                            help="answer 400 'prompt is too long' to prompts over this many tokens")
        parser.add_argument("--api-key", default=None, help="key the simulator accepts (default: sim-key)")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.simulator.server import run_sim_cli

        return run_sim_cli(args)
