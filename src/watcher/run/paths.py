"""Finding run directories (`data/runs/<run>/`) and the files inside them.

Small helpers shared by status, attach, gate and train: they only locate things and load the
run's stored config; errors are `ConfigError`s phrased for the user (what is missing, what exists).
"""

from __future__ import annotations

from pathlib import Path

from watcher.config import RunConfig, load_config
from watcher.errors import ConfigError
from watcher.run.files import RunPaths

DEFAULT_RUNS_ROOT = Path("data/runs")
CONFIG_NAME = "config.toml"


def runs_root(cfg: RunConfig | None = None) -> Path:
    """Where runs live: the config's `runs_dir`, else `data/runs` (both relative to the cwd)."""
    return Path(cfg.runs_dir) if cfg is not None else DEFAULT_RUNS_ROOT


def list_runs(root: Path = DEFAULT_RUNS_ROOT) -> list[Path]:
    """Run directories under `root` (those holding a config.toml), newest config first."""
    try:
        dirs = [d for d in root.iterdir() if (d / CONFIG_NAME).is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(dirs, key=lambda d: ((d / CONFIG_NAME).stat().st_mtime, d.name), reverse=True)


def find_run(name: str | None, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """The run directory called `name` under `root`, or the newest run when `name` is None.

    `name` may also be a path to a run directory (absolute, or containing a slash), so tests and
    scripts can point at runs outside `root`.
    """
    root = Path(root)
    if name:
        p = Path(name)
        if (p.is_absolute() or len(p.parts) > 1) and (p / CONFIG_NAME).is_file():
            return p
        cand = root / name
        if (cand / CONFIG_NAME).is_file():
            return cand
        runs = list_runs(root)
        listing = ", ".join(d.name for d in runs) if runs else "none"
        raise ConfigError(
            f"no run '{name}' under {root} (runs there: {listing}); "
            "fix: pass --run with one of those names or a path to a run directory"
        )
    runs = list_runs(root)
    if not runs:
        raise ConfigError(
            f"no runs under {root}; fix: start one with `watcher` or `watcher demo`, "
            "or pass --run with a path to a run directory"
        )
    return runs[0]


def load_run_config(run_dir: Path) -> RunConfig:
    """The resolved config the supervisor stored in the run directory."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no {CONFIG_NAME}; fix: pass --run with a run directory made by watcher")
    return load_config(path)[0]


def dataset_path(run_dir: Path, cfg: RunConfig) -> Path:
    """The accepted-records file: `cfg.output`, relative to the run directory unless absolute."""
    return RunPaths(Path(run_dir), cfg.output).dataset


def rejects_path(run_dir: Path) -> Path:
    return RunPaths(Path(run_dir)).rejects


def gate_dir(run_dir: Path) -> Path:
    return RunPaths(Path(run_dir)).gate
