"""`watcher worker --run-dir D --worker-id N`: internal, one generation worker started by the supervisor."""

from __future__ import annotations

import argparse


class WorkerCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run-dir", required=True, help="the run directory the worker writes into")
        parser.add_argument("--worker-id", type=int, required=True, help="this worker's id in layout.json")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.generate.worker import run_worker_cli

        return run_worker_cli(args)
