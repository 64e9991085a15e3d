"""Command line: argument parsing and one function per sub-command; the work lives elsewhere.

Exit codes (all commands):
  0  done / passed          1  finished but failed (gate failed, items rejected with --strict, verify failed)
  2  bad usage or config    3  a worker crash-looped / the run failed
  130 interrupted (second Ctrl-C: stopped at once)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from watcher.cli.serve import ServeCommand
from watcher.errors import EXIT_INTERRUPTED, EXIT_USAGE


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="run config TOML (default configs/poetry.toml)")
    p.add_argument("--run", help="run name to create or resume (default: a new dated run)")
    p.add_argument("--forms", help="comma-separated poetry forms (default: top-10 learnable)")
    p.add_argument("--num", type=int, help="examples per form")
    p.add_argument("--min-score", type=float, help="minimum verifier score to accept")
    p.add_argument("--model-mix", type=float, help="share of items for the Claude backend (0-1)")
    p.add_argument("--openrouter-model", help="model id for the OpenRouter backend")
    p.add_argument("--output", help="dataset file name (inside the run dir unless absolute)")
    p.add_argument("--backend", help="mixed, or one backend name (claude, openrouter)")
    p.add_argument("--workers", type=int, help="worker processes per backend")
    p.add_argument("--json", action="store_true", help="headless: JSON lines instead of text")
    p.add_argument("--interval", type=float, default=10.0, help="headless: seconds between summary lines")
    p.add_argument("--detach", action="store_true", help="start workers and return; they keep running")
    p.add_argument("--metrics-port", type=int, help="headless: serve Prometheus /metrics on 127.0.0.1:N")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="watcher",
        description="Control room for synthetic-data generation: plan, generate, verify, watch, gate, train.",
    )
    parser.add_argument("--headless", action="store_true", help="plain progress output instead of the TUI")
    _add_run_flags(parser)
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("demo", help="full pipeline on the built-in simulated provider (no key needed)")
    p.add_argument("--headless", action="store_true", dest="sub_headless")
    _add_run_flags(p)

    p = sub.add_parser("attach", help="open the TUI on a run whose workers are running")
    p.add_argument("--run", help="run name (default: the newest run)")
    p.add_argument("--headless", action="store_true", dest="sub_headless")
    p.add_argument("--json", action="store_true")
    p.add_argument("--interval", type=float, default=10.0)

    p = sub.add_parser("status", help="snapshot of a run, live or finished")
    p.add_argument("--run", help="run name (default: the newest run)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gate", help="quality gate and export to mlx-lm training data")
    p.add_argument("--run", help="run name (default: the newest run)")
    p.add_argument("--config", help="run config to take [gate] settings from (default: the run's own)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("train", help="mlx-lm LoRA training on the gated export, then evaluation")
    p.add_argument("--run", help="run name (default: the newest run)")
    p.add_argument("--config", default=None, help="training config (default configs/train.toml)")
    p.add_argument("--headless", action="store_true", dest="sub_headless")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("verify", help="score one poem against a form")
    p.add_argument("--form", required=True, help="form name (see `watcher forms`)")
    p.add_argument("file", nargs="?", default="-", help="poem file, or - for stdin")
    p.add_argument("--json", action="store_true")
    p.add_argument("--min-score", type=float, default=None)

    sub.add_parser("forms", help="list the verifier's forms")

    p = sub.add_parser("sim", help="run the simulated provider on 127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency", type=float, default=None, help="seconds per response (mean)")
    p.add_argument("--rpm", type=int, default=None, help="enforced requests per minute (429 beyond)")
    p.add_argument("--defect-rate", type=float, default=None, help="share of defective poems")
    p.add_argument("--fault", action="append", default=[], help="FAULT=RATE, e.g. 500=0.05, drop=0.02")
    p.add_argument("--api-key", default=None, help="key the simulator accepts (default: sim-key)")

    serve = sub.add_parser("serve", help="the TUI in a browser and /metrics; loopback unless --token")
    ServeCommand().prepare_parser(serve)
    serve.set_defaults(command_obj=ServeCommand())

    p = sub.add_parser("worker", help="internal: one generation worker, started by the supervisor")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--worker-id", type=int, required=True)
    return parser


def cmd_main(args: argparse.Namespace, headless: bool, demo: bool = False) -> int:
    from watcher.cli.run import run_main

    return run_main(args, headless=headless, demo=demo)


def cmd_attach(args: argparse.Namespace) -> int:
    from watcher.cli.run import run_attach

    return run_attach(args)


def cmd_status(args: argparse.Namespace) -> int:
    from watcher.monitor.headless import run_status

    return run_status(args)


def cmd_gate(args: argparse.Namespace) -> int:
    from watcher.gate.run import run_gate_cli

    return run_gate_cli(args)


def cmd_train(args: argparse.Namespace) -> int:
    from watcher.train.control import run_train_cli

    return run_train_cli(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from watcher.cli.forms import run_verify_cli

    return run_verify_cli(args)


def cmd_forms(args: argparse.Namespace) -> int:
    from watcher.cli.forms import run_forms_cli

    return run_forms_cli(args)


def cmd_sim(args: argparse.Namespace) -> int:
    from watcher.simulator.server import run_sim_cli

    return run_sim_cli(args)


def cmd_worker(args: argparse.Namespace) -> int:
    from watcher.generate.worker import run_worker_cli

    return run_worker_cli(args)


def main(argv: list[str] | None = None) -> int:
    from watcher.errors import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    cmd = args.command
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "attach": cmd_attach,
        "status": cmd_status,
        "gate": cmd_gate,
        "train": cmd_train,
        "verify": cmd_verify,
        "forms": cmd_forms,
        "sim": cmd_sim,
        "worker": cmd_worker,
    }
    try:
        if cmd is None:
            return cmd_main(args, headless=args.headless)
        if cmd == "demo":
            return cmd_main(args, headless=args.headless or args.sub_headless, demo=True)
        if hasattr(args, "command_obj"):
            return args.command_obj.run(args, parser)
        return handlers[cmd](args)
    except ConfigError as e:
        print(f"watcher: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
