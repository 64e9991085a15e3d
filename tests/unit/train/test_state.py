"""read_training_state: the loss series and where each stage began, from metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from watcher.run.files import atomic_write_json
from watcher.run.paths import RunPaths
from watcher.train.state import read_training_state


def test_stage_starts_come_from_the_metrics_of_each_stage(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    paths.train.mkdir(parents=True)
    atomic_write_json(paths.train_state, {"status": "stopped", "stages": ["warmup", "sonnets"], "total_iters": 30})
    recs = [{"stage": "warmup", "stage_index": 0, "iteration": 10, "global_iteration": 10, "train_loss": 2.0},
            {"stage": "sonnets", "stage_index": 1, "iteration": 5, "global_iteration": 25, "train_loss": 1.5},
            {"stage": "sonnets", "stage_index": 1, "iteration": 10, "global_iteration": 30, "val_loss": 1.6}]
    paths.train_metrics.write_text("".join(json.dumps(r) + "\n" for r in recs))
    st = read_training_state(tmp_path)
    assert st is not None
    assert st.stage_starts == ((0, "warmup"), (20, "sonnets"))  # 25 - 5: where the second stage began
    assert st.train_loss == ((10, 2.0), (25, 1.5)) and st.val_loss == ((30, 1.6),)
