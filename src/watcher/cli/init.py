"""`watcher init [DIR]`: write editable copies of the packaged configs into DIR/configs/.

An installed watcher reads its packaged defaults; after `watcher init`, commands run from DIR pick
up ./configs/NAME.toml first (see config.resolve_config_path), so the copies are what gets edited.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from watcher.errors import EXIT_OK, EXIT_USAGE


def write_configs(dest: Path, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy every packaged config into dest/configs/. Returns (written, kept): an existing file is
    somebody's edits, so it is kept unless `force`."""
    from watcher.config import PACKAGED_CONFIGS

    target = dest / "configs"
    target.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for src in sorted(PACKAGED_CONFIGS.glob("*.toml")):
        out = target / src.name
        if out.exists() and not force:
            kept.append(out)
            continue
        shutil.copyfile(src, out)
        written.append(out)
    return written, kept


class InitCommand:
    def prepare_parser(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("dir", nargs="?", default=".",
                            help="folder to set up; the configs go to DIR/configs/ (default: the current folder)")
        parser.add_argument("--force", action="store_true", help="overwrite configs that already exist there")

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        dest = Path(args.dir)
        try:
            written, kept = write_configs(dest, force=args.force)
        except OSError as e:
            print(f"watcher: cannot write configs into {dest}: {e}", file=sys.stderr)
            return EXIT_USAGE
        where = (dest / "configs").resolve()
        for p in written:
            print(f"wrote {p}")
        for p in kept:
            print(f"kept  {p} (exists; --force overwrites it)")
        print(f"watcher: {len(written)} config(s) written to {where}. Edit them there; run watcher from "
              f"{dest.resolve()} and `--config NAME` (or the default) reads configs/NAME.toml from that folder.")
        return EXIT_OK
