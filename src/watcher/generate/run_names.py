"""The name a run command without --run uses: today's run of this job, or a new one beside it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from watcher.config import RunConfig, load_config
from watcher.errors import ConfigError
from watcher.generate.supervisor import config_difference
from watcher.run.paths import RunPaths


def default_run_name(cfg: RunConfig, demo: bool = False) -> str:
    return f"{'demo-' if demo and not cfg.run_prefix.startswith('demo') else ''}{cfg.run_prefix}-{date.today().isoformat()}"


def pick_run_name(cfg: RunConfig, base: str, runs_root: Path | None = None) -> tuple[str, str | None]:
    """The run a command without --run writes to: today's run `base` if it was made with the same job
    (it continues), else the first of base-2, base-3... that was, or that does not exist yet (a new
    run). Returns (name, a note saying why it is not `base`, or None)."""
    root = runs_root or Path(cfg.runs_dir)
    name, n = base, 1
    while True:
        stored = RunPaths(root / name, cfg.output).config
        if not stored.exists():
            break
        try:
            bad, _ = config_difference(load_config(stored)[0], cfg)
        except ConfigError:
            bad = ["its config.toml no longer loads"]
        if not bad:
            break
        n += 1
        name = f"{base}-{n}"
    if n == 1:
        return name, None
    others = base if n == 2 else f"{base} .. {base}-{n - 1}"
    if RunPaths(root / name, cfg.output).config.exists():
        return name, f"continuing run {name} ({others}: made with a different job)"
    return name, f"today's run {others} was made with a different job; starting a new run {name}"
