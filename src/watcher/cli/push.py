"""`watcher push REPO_ID [--run NAME | --dir DIR] [--public]`: upload a run's Hugging Face dataset
folder (built by `watcher export --hf`, or built here into a temp dir) to the Hub as a dataset repo,
private unless --public. The token comes from HF_TOKEN and is never printed."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from watcher.cli.options import add_run_dir_flags
from watcher.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def upload(folder: Path, repo_id: str, token: str, private: bool) -> str:
    """create_repo (exist_ok) + upload_folder; returns the repo URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                      commit_message="watcher push")
    return str(url)


class PushCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("repo_id", metavar="REPO_ID", help="user/name of the dataset repo on the Hub")
        parser.add_argument("--run", help="run name (default: the newest run)")
        add_run_dir_flags(parser)
        parser.add_argument("--dir", help="a folder made by `watcher export --hf` (default: build one now)")
        parser.add_argument("--public", action="store_true", help="make the repo public (default: private)")
        parser.add_argument("--license", default="other", help="license id when the folder is built here")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        token = os.environ.get("HF_TOKEN", "").strip()
        if not token:
            print("watcher push: HF_TOKEN is not set; fix: export HF_TOKEN=<a Hub token with write access>",
                  file=sys.stderr)
            return EXIT_USAGE
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.dir) if args.dir else Path(tmp) / "hf"
            if not args.dir:
                from watcher.gate.hf import build_hf_folder
                from watcher.run.paths import runs_root, select_run

                run_dir = select_run(args.run, args.run_dir, runs_root(None, args.runs_dir))
                build_hf_folder(run_dir, folder, args.license)
            elif not (folder / "README.md").exists():
                print(f"watcher push: {folder} has no README.md; fix: make it with `watcher export --hf`",
                      file=sys.stderr)
                return EXIT_USAGE
            try:
                url = upload(folder, args.repo_id, token, private=not args.public)
            except Exception as e:  # noqa: BLE001 - network, auth, offline mode: one line, never a traceback
                msg = str(e).replace(token, "***").splitlines()[0] if str(e) else type(e).__name__
                print(f"watcher push: upload to {args.repo_id} failed ({type(e).__name__}: {msg})", file=sys.stderr)
                return EXIT_FAILED
        print(f"pushed to {url} ({'public' if args.public else 'private'})")
        return EXIT_OK
