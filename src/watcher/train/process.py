"""Start, stop and check the training subprocess (`python -m watcher.train.runner`).

This module never imports mlx: front ends (TUI, headless, CLI) use `start_training` and
`stop_training`, which only touch files and pids; `read_training_state` (train/state.py) reads
what the runner writes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from watcher.errors import ConfigError
from watcher.gate.run import run_gate
from watcher.run.files import atomic_write_json, read_json
from watcher.run.paths import RunPaths
from watcher.train.config import TrainConfig, load_train_config
from watcher.train.state import runner_alive, stage_signature, train_dir, update_state
from watcher.train.tinymodel import export_texts, make_tiny_model


def start_training(run_dir: Path, cfg_path: str | os.PathLike[str] | None = None,
                   cfg: TrainConfig | None = None) -> subprocess.Popen[bytes]:
    """Start (or resume) the runner for a run; returns at once. A stopped run with the same stages
    continues from its last saved adapter; anything else starts fresh."""
    run_dir = Path(run_dir)
    paths = RunPaths(run_dir)
    cfg = cfg or load_train_config(cfg_path, run_dir)
    if cfg.build_tiny_model and not Path(cfg.model).exists():
        ensure_gate_export(run_dir)
        cfg.model = str(make_tiny_model(Path(cfg.model).resolve(), export_texts(paths.gate)))
    tdir = train_dir(run_dir)
    tdir.mkdir(parents=True, exist_ok=True)
    prev = read_json(paths.train_state, {}) or {}
    if runner_alive(prev):
        raise ConfigError(f"training is already running for {run_dir.name} (pid {prev.get('pid')}); "
                          "fix: wait for it, or stop it first")
    resumable = prev.get("status") in ("stopped", "failed", "running") and prev.get("signature") == stage_signature(cfg)
    if not resumable:
        for f in (paths.train_metrics, paths.train_eval, paths.train_state):
            f.unlink(missing_ok=True)
        for d in tdir.glob("stage-*"):
            shutil.rmtree(d, ignore_errors=True)
    (tdir / "stop").unlink(missing_ok=True)
    atomic_write_json(tdir / "config.json", cfg.model_dump(mode="json"))
    update_state(run_dir, status="running", pid=None, error=None, stages=[s.name for s in cfg.stages],
                 total_iters=cfg.total_iters)
    # train.log is a file, read by people and by `watcher train`: no progress bars' carriage returns
    # and escape codes (tqdm, huggingface_hub's downloads, rich), no colour.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": "1",
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NO_COLOR": "1", "TERM": "dumb"}
    with open(paths.train_log, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher.train.runner", "--run-dir", str(run_dir),
             "--config", str(tdir / "config.json")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    state = read_json(paths.train_state, {}) or {}
    if not state.get("pid"):
        update_state(run_dir, pid=proc.pid)
    return proc


def stop_training(run_dir: Path) -> bool:
    """Ask the runner to finish its current step, save the adapter and exit (status `stopped`).
    Returns False when no runner was running."""
    tdir = train_dir(run_dir)
    state = read_json(RunPaths(Path(run_dir)).train_state, {}) or {}
    if not runner_alive(state):
        return False
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / "stop").touch()  # the runner polls it each step: works even before its pid is known
    pid = state.get("pid")
    if pid:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass
    return True


def ensure_gate_export(run_dir: Path) -> None:
    train_split = RunPaths(Path(run_dir)).export_split("train")
    if train_split.exists():
        return
    run_gate(run_dir)
    if not train_split.exists():
        raise ConfigError(f"the gate wrote no {run_dir}/gate/train.jsonl; fix: check `watcher gate` output")
