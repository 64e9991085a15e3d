"""Command line: the parser and the table of commands; each command is a small class in its own module.

A command follows memray's protocol: `prepare_parser` adds its flags to its sub-parser and `run`
does the work, returning the exit code. Command modules import their machinery inside `run`, so
starting one command (a worker, `watcher forms`) never loads another's.

Exit codes (all commands):
  0  done / passed          1  finished but failed (gate failed, items rejected with --strict, verify failed)
  2  bad usage or config    3  a worker crash-looped / the run failed
  130 interrupted (second Ctrl-C: stopped at once)
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import Protocol

from watcher.cli.attach import AttachCommand
from watcher.cli.demo import DemoCommand
from watcher.cli.export import ExportCommand
from watcher.cli.forms import FormsCommand, VerifyCommand
from watcher.cli.init import InitCommand
from watcher.cli.options import add_run_dir_flags
from watcher.cli.parser import OneLineParser, parse
from watcher.cli.plan import PlanCommand
from watcher.cli.push import PushCommand
from watcher.cli.run import RunCommand
from watcher.cli.runs import RunsCommand
from watcher.cli.serve import ServeCommand
from watcher.cli.sim import SimCommand
from watcher.cli.status import StatusCommand
from watcher.cli.worker import WorkerCommand
from watcher.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ConfigError, DiskFullError


class Command(Protocol):
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int: ...


class GateCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--config", help="run config to take [gate] settings from (default: the run's own)")
        parser.add_argument("--json", action="store_true", help="print the gate report as JSON")
        parser.add_argument("--against", nargs="+", metavar="RUN", default=[],
                            help="earlier runs whose exports count for near duplicates too")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.cli.gate import run_gate_cli

        return run_gate_cli(args)


class TrainCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--config", default=None,
                            help="training config: a path or a name (default: train, or train_demo for a demo run)")
        parser.add_argument("--headless", action="store_true", dest="sub_headless",
                            help="plain progress lines instead of the TUI's training screen")
        parser.add_argument("--json", action="store_true", help="headless: JSON lines instead of text")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.cli.train import run_train_cli

        return run_train_cli(args)


# The default command: `watcher` with no sub-command (its flags live on the top-level parser).
DEFAULT_COMMAND: Command = RunCommand()

# (name, one-line help, command), in the order `watcher --help` lists them.
COMMANDS: list[tuple[str, str, Command]] = [
    ("plan", "what a run would do and cost, without calling any model", PlanCommand()),
    ("demo", "full pipeline on the built-in simulated provider (no key needed)", DemoCommand()),
    ("attach", "open the TUI on a run whose workers are running", AttachCommand()),
    ("status", "snapshot of a run, live or finished", StatusCommand()),
    ("runs", "list the runs: state, progress, accepted, cost, gate verdict, last activity", RunsCommand()),
    ("gate", "quality gate and export to mlx-lm training data", GateCommand()),
    ("export", "the gated export as a Hugging Face dataset folder (--hf DIR)", ExportCommand()),
    ("push", "upload the Hugging Face dataset folder to the Hub (HF_TOKEN)", PushCommand()),
    ("train", "mlx-lm LoRA training on the gated export, then evaluation", TrainCommand()),
    ("verify", "score one poem against a form", VerifyCommand()),
    ("forms", "list the verifier's forms", FormsCommand()),
    ("init", "write editable copies of the default configs into DIR/configs/", InitCommand()),
    ("sim", "run the simulated provider on 127.0.0.1", SimCommand()),
    ("serve", "the TUI in a browser and /metrics; loopback unless --token", ServeCommand()),
    ("worker", "internal: one generation worker, started by the supervisor", WorkerCommand()),
]


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, for an editable install too)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("watcher")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="watcher",
        description="Control room for synthetic-data generation: plan, generate, verify, watch, gate, train.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    DEFAULT_COMMAND.prepare_parser(parser)
    sub = parser.add_subparsers(dest="command")
    for name, help_text, command in COMMANDS:
        command.prepare_parser(sub.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    command = DEFAULT_COMMAND if args.command is None else {n: c for n, _, c in COMMANDS}[args.command]
    try:
        return command.run(args, parser)
    except ConfigError as e:
        print(f"watcher: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DiskFullError as e:
        print(f"watcher: {e}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except BrokenPipeError:
        # `watcher status --json | head`: the reader had enough. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and end quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        # A full disk under a command without its own handling (the gate's export, say): one line.
        from watcher.run.files import disk_full

        print(f"watcher: {disk_full(e.filename or 'a file', e)}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
