"""`watcher export --hf DIR [--run NAME]`: the gated export as a Hugging Face dataset folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from watcher.cli.options import add_run_dir_flags
from watcher.errors import EXIT_OK


class ExportCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--hf", required=True, metavar="DIR", help="new directory for the dataset folder")
        parser.add_argument("--license", default="other", help="license id for the dataset card (default: other)")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        from watcher.gate.hf import build_hf_folder
        from watcher.gate.verdict import read_gate_verdict
        from watcher.run.paths import runs_root, select_run

        run_dir = select_run(args.run, args.run_dir, runs_root(None, args.runs_dir))
        out = Path(args.hf)
        facts = build_hf_folder(run_dir, out, args.license)
        caution = read_gate_verdict(run_dir).caution()
        if caution:  # the card says so too; a failed gate's export holds only records that passed each check
            print(f"watcher: warning: {caution}", file=sys.stderr)
        ex = " · ".join(f"{k} {v}" for k, v in facts["examples"].items())
        print(f"exported run {run_dir.name} as a Hugging Face dataset: {ex} → {out}")
        return EXIT_OK
