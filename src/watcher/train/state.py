"""Training state under `<run>/train/`: the stage directories, state.json, and the immutable
`TrainingState` front ends read (`read_training_state`, which follows metrics.jsonl incrementally).

Files under `<run>/train/`:
  config.json            the resolved TrainConfig the runner uses (written by start_training)
  state.json             {status running|stopped|done|failed, stage, stage_index, iteration, ...}
  metrics.jsonl          one line per mlx-lm train/val report (from the runner's callback)
  stage-<k>-<name>/      adapters.safetensors + adapter_config.json (mlx_lm.load(adapter_path=...))
  eval.json              before/after verifier scores per form
  train.log              the runner's stdout/stderr
  stop                   flag file: finish the current step, save, exit (SIGTERM does the same)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher.monitor.tail import FileTailer
from watcher.run.files import atomic_write_json, pid_alive, read_json
from watcher.run.paths import RunPaths
from watcher.train.config import StageConfig, TrainConfig


@dataclass(frozen=True)
class TrainingState:
    status: str  # running | stopped | done | failed
    phase: str = "train"  # train | eval
    stage: str | None = None
    stage_index: int | None = None  # 0-based index into `stages`
    stages: tuple[str, ...] = ()
    iteration: int = 0  # global, over all stages
    total_iters: int = 0
    train_loss: tuple[tuple[int, float], ...] = ()  # (global iteration, loss)
    val_loss: tuple[tuple[int, float], ...] = ()
    stage_starts: tuple[tuple[int, str], ...] = ()  # (global iteration, stage name) of each stage begun
    tokens_per_second: float | None = None
    peak_memory: float | None = None  # GB
    eta_s: float | None = None
    eval: dict[str, Any] | None = None  # train/eval.json as the evaluator wrote it; None before
    error: str | None = None
    pid: int | None = None


def train_dir(run_dir: Path) -> Path:
    return RunPaths(Path(run_dir)).train


def stage_dir(run_dir: Path, index: int, stage: StageConfig) -> Path:
    """Stage k (1-based) lives in train/stage-<k>-<name>/."""
    return train_dir(run_dir) / f"stage-{index + 1}-{stage.name}"


def stage_signature(cfg: TrainConfig) -> list[dict[str, Any]]:
    """What must match for a stopped run to continue where it left off."""
    keys = {"model": cfg.model, "resume_adapter": cfg.resume_adapter, "lora": cfg.lora.model_dump(),
            "num_layers": cfg.num_layers}
    return [{**keys, **s.model_dump()} for s in cfg.stages]


def update_state(run_dir: Path, **fields: Any) -> dict[str, Any]:
    path = RunPaths(Path(run_dir)).train_state
    state = read_json(path, {}) or {}
    state.update(fields, updated_at=time.time())
    atomic_write_json(path, state, fsync=True)  # a kill or a full disk leaves the previous state whole
    return state


def runner_alive(state: dict[str, Any]) -> bool:
    pid = state.get("pid")
    if state.get("status") != "running":
        return False
    if not pid:  # start_training wrote the state, the runner has not yet: alive for a short while
        return time.time() - float(state.get("updated_at") or 0) < 30
    return pid_alive(int(pid))


def metrics_records(tail: FileTailer) -> list[dict[str, Any]]:
    """The metrics records appended since the last call (a partial last line waits for its newline;
    a replaced or truncated file starts over, see FileTailer)."""
    out = []
    for batch in tail.iter_batches():
        for line in batch.lines:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return out


class _Aggregate:
    def __init__(self, path: Path) -> None:
        self.tail = FileTailer(path)
        self.resets = 0
        self.clear()
        self.eval_mtime: float | None = None
        self.eval: dict[str, Any] | None = None

    def clear(self) -> None:
        self.train_loss: list[tuple[int, float]] = []
        self.val_loss: list[tuple[int, float]] = []
        self.last_train: dict[str, Any] | None = None
        self.recent: list[tuple[float, int]] = []  # (time, global iteration) of train reports
        self.max_it = 0
        self.stage_starts: dict[int, tuple[int, str]] = {}  # stage index -> (global start, name)

    def update(self) -> list[dict[str, Any]]:
        recs = metrics_records(self.tail)
        if self.tail.resets != self.resets:
            self.resets = self.tail.resets
            self.clear()  # a fresh training run replaced the file: recs are from the new one
        for r in recs:
            it = int(r.get("global_iteration", r.get("iteration", 0)) or 0)
            self.max_it = max(self.max_it, it)
            k = r.get("stage_index")
            if isinstance(k, int) and k not in self.stage_starts:
                start = it - int(r.get("iteration", 0) or 0)  # global iteration at the stage's start
                self.stage_starts[k] = (start, str(r.get("stage") or f"stage {k + 1}"))
            if r.get("train_loss") is not None:
                self.train_loss.append((it, float(r["train_loss"])))
                self.last_train = r
                self.recent = (self.recent + [(float(r.get("time") or 0), it)])[-6:]
            elif r.get("val_loss") is not None:
                self.val_loss.append((it, float(r["val_loss"])))
        return recs

    def iters_per_s(self) -> float | None:
        # Wall clock over recent reports (includes validation), else mlx-lm's own figure.
        if len(self.recent) >= 2:
            (t0, i0), (t1, i1) = self.recent[0], self.recent[-1]
            if t1 > t0 and i1 > i0:
                return (i1 - i0) / (t1 - t0)
        if self.last_train and self.last_train.get("iterations_per_second"):
            return float(self.last_train["iterations_per_second"])
        return None

    def read_eval(self, path: Path) -> dict[str, Any] | None:
        try:
            m = path.stat().st_mtime
        except FileNotFoundError:
            self.eval, self.eval_mtime = None, None
            return None
        if m != self.eval_mtime:
            self.eval, self.eval_mtime = read_json(path), m
        return self.eval


_AGGREGATES: dict[str, _Aggregate] = {}


def read_training_state(run_dir: Path) -> TrainingState | None:
    """A snapshot for front ends, None when the run has never been trained; cheap to call every
    second (metrics are read incrementally)."""
    paths = RunPaths(Path(run_dir))
    tdir = paths.train
    state = read_json(paths.train_state)
    if state is None and not paths.train_metrics.exists():
        return None
    state = state or {}
    key = str(tdir.resolve())
    agg = _AGGREGATES.get(key)
    if agg is None:
        agg = _AGGREGATES[key] = _Aggregate(paths.train_metrics)
    agg.update()
    status = state.get("status") or "stopped"
    error = state.get("error")
    if status == "running" and not runner_alive(state):
        status = "failed"
        error = error or "the training process exited unexpectedly; see train/train.log"
    total = int(state.get("total_iters") or 0)
    iteration = max(int(state.get("global_iteration") or 0), agg.max_it)
    rate = agg.iters_per_s()
    eta = None
    if status == "running" and state.get("phase", "train") == "train" and rate and total:
        eta = max(0.0, (total - iteration) / rate)
    last = agg.last_train or {}
    return TrainingState(
        status=status,
        phase=state.get("phase", "train"),
        stage=state.get("stage"),
        stage_index=state.get("stage_index"),
        stages=tuple(state.get("stages") or ()),
        iteration=iteration,
        total_iters=total,
        train_loss=tuple(agg.train_loss),
        val_loss=tuple(agg.val_loss),
        stage_starts=tuple(agg.stage_starts[k] for k in sorted(agg.stage_starts)),
        tokens_per_second=last.get("tokens_per_second"),
        peak_memory=last.get("peak_memory"),
        eta_s=eta,
        eval=agg.read_eval(paths.train_eval),
        error=error,
        pid=state.get("pid"),
    )
