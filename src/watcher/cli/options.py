"""The run flags (`watcher`, `watcher --headless`, `watcher demo`) and their typed form.

The namespace argparse returns is read once, here, into `RunOptions`; everything downstream takes
the dataclass, so a flag's name and type have one home.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


def port_number(text: str) -> int:
    """A TCP port flag: 0 (pick a free one) to 65535, refused by argparse as a usage error otherwise."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port: use 0 (any free port) to 65535")
    return n


def add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="run config: a TOML path, or a name (poetry, agentic, aba, demo) read from "
                                    "./configs/NAME.toml, else the packaged default (default: poetry; demo: demo)")
    p.add_argument("--run", help="run name to create or resume (default: today's run of this job, "
                                 "PREFIX-YYYY-MM-DD, which the same command continues; if today's run was made "
                                 "with a different job, a new run PREFIX-YYYY-MM-DD-2, -3, ...)")
    add_run_dir_flags(p)
    p.add_argument("--forms", help="comma-separated poetry forms (default: top-10 learnable)")
    p.add_argument("--num", type=int, help="examples per form")
    p.add_argument("--min-score", type=float, help="minimum verifier score to accept")
    p.add_argument("--model-mix", type=float, help="share of items for the Claude backend (0-1)")
    p.add_argument("--openrouter-model", help="model id for the OpenRouter backend")
    p.add_argument("--output", help="dataset file name inside the run dir (default dataset.jsonl)")
    p.add_argument("--backend", help="mixed, or one backend name (claude, openrouter)")
    p.add_argument("--workers", type=int, help="worker processes per backend")
    p.add_argument("--json", action="store_true", help="headless: JSON lines instead of text")
    p.add_argument("--interval", type=float, default=10.0, help="headless: seconds between summary lines")
    p.add_argument("--max-cost", type=float, help="spend ceiling in USD for this run (max_cost_usd)")
    p.add_argument("--batch", action="store_true", help="send items through the providers' batch APIs "
                                                         "(half the price, results within 24 h); each backend's `batch`")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its cost estimate; call no model")
    p.add_argument("--detach", action="store_true", help="start workers and return; they keep running")
    p.add_argument("--metrics-port", type=port_number, help="headless: serve Prometheus /metrics on 127.0.0.1:N")


def add_run_dir_flags(p: argparse.ArgumentParser) -> None:
    """Where the run is, besides `--run NAME`: every command that takes --run takes these."""
    p.add_argument("--run-dir", help="an existing run directory, wherever it is (instead of --run)")
    p.add_argument("--runs-dir", help="the runs folder (default $WATCHER_RUNS, else the config's runs_dir)")


@dataclass(frozen=True)
class RunOptions:
    """What a run command was asked to do; `attach` fills only run, headless, as_json and interval."""

    headless: bool = False
    config: str | None = None
    run: str | None = None
    forms: str | None = None
    num: int | None = None
    min_score: float | None = None
    model_mix: float | None = None
    openrouter_model: str | None = None
    output: str | None = None
    backend: str | None = None
    workers: int | None = None
    as_json: bool = False
    interval: float = 10.0
    detach: bool = False
    metrics_port: int | None = None
    run_dir: str | None = None
    runs_dir: str | None = None
    max_cost: float | None = None
    dry_run: bool = False
    batch: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace, headless: bool) -> RunOptions:
        """From a namespace parsed by a parser that `add_run_flags` prepared."""
        return cls(headless=headless, config=args.config, run=args.run, forms=args.forms, num=args.num,
                   min_score=args.min_score, model_mix=args.model_mix, openrouter_model=args.openrouter_model,
                   output=args.output, backend=args.backend, workers=args.workers, as_json=args.json,
                   interval=args.interval, detach=args.detach, run_dir=args.run_dir, runs_dir=args.runs_dir,
                   metrics_port=args.metrics_port, max_cost=args.max_cost, dry_run=args.dry_run,
                   batch=args.batch)
