"""Finding run directories (`data/runs/<run>/`) and the files inside them.

Small helpers shared by status, attach, gate and train: they only locate things and load the
run's stored config; errors are `ConfigError`s phrased for the user (what is missing, what exists).
"""

from __future__ import annotations

from pathlib import Path

from watcher.config import RunConfig, load_config
from watcher.errors import ConfigError

DEFAULT_RUNS_ROOT = Path("data/runs")
CONFIG_NAME = "config.toml"


class RunPaths:
    """Where each file of a run lives (DESIGN.md, "Run directory")."""

    def __init__(self, run_dir: Path, output: str = "dataset.jsonl") -> None:
        self.dir = run_dir
        out = Path(output)
        self.dataset = out if out.is_absolute() else run_dir / out
        self.rejects = run_dir / "rejects.jsonl"
        self.config = run_dir / CONFIG_NAME
        self.control = run_dir / "control.json"
        self.layout = run_dir / "layout.json"
        self.supervisor = run_dir / "supervisor.json"
        self.events = run_dir / "events.jsonl"
        self.prices = run_dir / "prices.json"  # the prices in force, dated (generate/budget.py)
        self.notify_state = run_dir / "notify.json"  # when each event kind was last sent (monitor/notify.py)
        self.workers = run_dir / "workers"
        self.logs = run_dir / "logs"
        self.gate = run_dir / "gate"
        self.gate_report = self.gate / "report.json"
        self.train = run_dir / "train"
        self.train_state = self.train / "state.json"
        self.train_metrics = self.train / "metrics.jsonl"
        self.train_eval = self.train / "eval.json"
        self.train_log = self.train / "train.log"

    def export_split(self, split: str) -> Path:
        """The gate's mlx-lm export file of one split: train, valid or test."""
        return self.gate / f"{split}.jsonl"

    def heartbeat(self, worker_id: int) -> Path:
        return self.workers / f"{worker_id}.json"

    def log(self, worker_id: int) -> Path:
        return self.logs / f"worker-{worker_id}.log"


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

