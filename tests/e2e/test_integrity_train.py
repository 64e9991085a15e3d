"""Training after a kill during mlx-lm's save: an adapter cut short is not a traceback forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from helpers import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_truncated_adapter_resumes_from_the_last_good_checkpoint(tmp_path, tiny_model):
    from watcher.train.tinymodel import make_tiny_export

    run = tmp_path / "runs" / "r1"
    make_tiny_export(run / "gate", 40, 8, 8)
    cfg = tmp_path / "train.toml"
    cfg.write_text(f'model = "{tiny_model}"\nbatch_size = 2\nnum_layers = 2\nmax_seq_length = 256\n'
                   "steps_per_report = 5\nsteps_per_eval = 1000\nsteps_per_save = 5\nval_batches = 1\n"
                   '[[stages]]\nname = "one"\niters = 60\nlearning_rate = 1e-3\n[eval]\nenabled = false\n')
    env = {**os.environ, "MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "watcher.cli.main", "train", "--run-dir", str(run), "--config", str(cfg), "--headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    state_path = run / "train" / "state.json"

    def saved() -> int:
        try:
            return int(json.loads(state_path.read_text()).get("saved_iteration") or 0)
        except (OSError, ValueError):
            return 0

    assert wait_for(lambda: saved() >= 10, 90)
    runner = json.loads(state_path.read_text())["pid"]
    os.kill(runner, signal.SIGKILL)  # a kill during mlx-lm's next save: the adapter file cut short
    proc.wait(timeout=30)
    at = saved()
    sdir = run / "train" / "stage-1-one"
    final = sdir / "adapters.safetensors"
    final.write_bytes(final.read_bytes()[: final.stat().st_size // 2])

    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Traceback" not in again.stderr
    log = (run / "train" / "train.log").read_text()
    assert "is unreadable (cut short" in log and f"from the last good checkpoint {at:07d}_adapters.safetensors" in log
    state = json.loads(state_path.read_text())
    assert state["status"] == "done" and state["completed"] == ["one"] and state["saved_iteration"] == 60
    from watcher.train.checkpoints import adapter_problem

    assert adapter_problem(final) is None
