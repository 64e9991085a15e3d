"""`TrainingState`: what front ends (TUI, `watcher train`) see of a run's training, read from train/.

Built by `train.control.read_training_state`; like the generation `Snapshot`, an immutable value
that the front ends compare and render and never write back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    tokens_per_second: float | None = None
    peak_memory: float | None = None  # GB
    eta_s: float | None = None
    eval: dict[str, Any] | None = None  # train/eval.json as the evaluator wrote it; None before
    error: str | None = None
    pid: int | None = None
