"""`watcher sim [--port N]`: serve the simulated provider on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from watcher.cli.options import port_number
from watcher.errors import EXIT_USAGE


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
        from watcher.simulator.config import SimConfig, parse_fault_args
        from watcher.simulator.server import serve_until_stopped

        given = {"latency_s": args.latency, "rpm": args.rpm, "defect_rate": args.defect_rate,
                 "api_key": args.api_key or None, "context_tokens": args.context_tokens or None}
        kw: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        try:
            kw.update(parse_fault_args(args.fault))
        except ValueError as e:
            print(f"watcher sim: {e}", file=sys.stderr)
            return EXIT_USAGE
        return serve_until_stopped(SimConfig(**kw), args.port)
