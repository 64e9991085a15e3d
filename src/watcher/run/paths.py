"""Finding run directories (`data/runs/<run>/`) and the files inside them.

Small helpers shared by status, attach, gate and train: they only locate things and load the
run's stored config; errors are `ConfigError`s phrased for the user (what is missing, what exists).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from watcher.config import RunConfig, load_config
from watcher.errors import ConfigError

DEFAULT_RUNS_ROOT = Path("data/runs")
CONFIG_NAME = "config.toml"
RUNS_ENV = "WATCHER_RUNS"  # the runs folder when --runs-dir is not given
LOCK_NAME = "run.lock"

# A run name or dataset file name: one path component, so nothing typed can leave the runs folder.
NAME_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
NAME_RULE = "letters, digits, '.', '_' and '-', at most 100 characters, not '.' or '..'"
# The run's own files: a dataset with one of these names would overwrite run state.
RESERVED_NAMES = frozenset({CONFIG_NAME, LOCK_NAME, "rejects.jsonl", "control.json", "layout.json",
                            "supervisor.json", "events.jsonl", "batches.jsonl", "workers", "logs",
                            "gate", "train"})


def _plain_name(name: str) -> bool:
    return bool(NAME_RE.fullmatch(name)) and name not in (".", "..")


def check_run_name(name: str) -> str:
    """`--run` is a plain name under the runs folder; an existing run elsewhere is `--run-dir PATH`."""
    if not _plain_name(name):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ConfigError(f"bad run name {shown!r}: use {NAME_RULE}; "
                          "fix: pass a plain name, or --run-dir PATH for an existing run directory")
    return name


def check_output_name(output: str) -> str:
    """`--output` (config `output`) is a file name inside the run directory, not one of the run's own files."""
    if not _plain_name(output) or output in RESERVED_NAMES or output.endswith(".tmp"):
        shown = output if len(output) <= 60 else output[:57] + "..."
        raise ConfigError(f"bad output {shown!r}: it is a file name inside the run directory ({NAME_RULE}), "
                          f"not one of the run's own files ({', '.join(sorted(RESERVED_NAMES))})")
    return output


class RunPaths:
    """Where each file of a run lives (DESIGN.md, "Run directory")."""

    def __init__(self, run_dir: Path, output: str = "dataset.jsonl") -> None:
        self.dir = run_dir
        out = Path(output)
        # Old runs may name an absolute dataset; new ones are checked by `check_output_name`.
        self.dataset = out if out.is_absolute() else run_dir / out
        self.rejects = run_dir / "rejects.jsonl"
        self.judge_cache = run_dir / "judge_cache.jsonl"  # judge replies by item and attempt text
        self.config = run_dir / CONFIG_NAME
        self.control = run_dir / "control.json"
        self.layout = run_dir / "layout.json"
        self.supervisor = run_dir / "supervisor.json"
        self.events = run_dir / "events.jsonl"
        self.batches = run_dir / "batches.jsonl"  # batch mode's ledger (run/batches.py)
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
        self.lock = run_dir / LOCK_NAME

    def export_split(self, split: str) -> Path:
        """The gate's mlx-lm export file of one split: train, valid or test."""
        return self.gate / f"{split}.jsonl"

    def heartbeat(self, worker_id: int) -> Path:
        return self.workers / f"{worker_id}.json"

    def log(self, worker_id: int) -> Path:
        return self.logs / f"worker-{worker_id}.log"

    def slot_lock(self, worker_id: int) -> Path:
        """flock'ed by the live worker of this id (run/lock.py): two processes never share a slot."""
        return self.workers / f"{worker_id}.lock"


def runs_root(cfg: RunConfig | None = None, flag: str | None = None) -> Path:
    """Where runs live: `--runs-dir`, else $WATCHER_RUNS, else the config's `runs_dir`, else `data/runs`."""
    if flag:
        return Path(flag)
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV])
    return Path(cfg.runs_dir) if cfg is not None else DEFAULT_RUNS_ROOT


def open_run_dir(run_dir: str) -> Path:
    """`--run-dir PATH`: an existing run directory (one holding a config.toml), anywhere."""
    p = Path(run_dir)
    if not (p / CONFIG_NAME).is_file():
        raise ConfigError(f"--run-dir {run_dir}: not a run directory (no {CONFIG_NAME} in it); "
                          "fix: pass a directory watcher made, or --run NAME for a run under the runs folder")
    return p


def select_run(name: str | None, run_dir: str | None, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """The run a reading command (status, attach, gate, train) means: --run-dir, --run, or the newest."""
    if run_dir:
        return open_run_dir(run_dir)
    return find_run(name, root)


def list_runs(root: Path = DEFAULT_RUNS_ROOT) -> list[Path]:
    """Run directories under `root` (those holding a config.toml), newest config first."""
    try:
        dirs = [d for d in root.iterdir() if (d / CONFIG_NAME).is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(dirs, key=lambda d: ((d / CONFIG_NAME).stat().st_mtime, d.name), reverse=True)


def find_run(name: str | None, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """The run directory called `name` under `root`, or the newest run when `name` is None.
    A run outside `root` is opened with `open_run_dir` (`--run-dir PATH`)."""
    root = Path(root)
    if name:
        check_run_name(name)
        cand = root / name
        if (cand / CONFIG_NAME).is_file():
            return cand
        runs = list_runs(root)
        listing = ", ".join(d.name for d in runs) if runs else "none"
        raise ConfigError(
            f"no run '{name}' under {root} (runs there: {listing}); "
            "fix: pass --run with one of those names, or --run-dir PATH"
        )
    runs = list_runs(root)
    if not runs:
        raise ConfigError(
            f"no runs under {root}; fix: start one with `watcher` or `watcher demo`, "
            "or pass --run-dir PATH"
        )
    return runs[0]


def load_run_config(run_dir: Path) -> RunConfig:
    """The resolved config the supervisor stored in the run directory."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(f"{run_dir} has no {CONFIG_NAME}; fix: pass --run with a run directory made by watcher")
    return load_config(path)[0]

