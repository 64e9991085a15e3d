"""`watcher gate` sends gate_failed itself (the TUI's g sends it through the supervisor)."""

from __future__ import annotations

import argparse

from watcher.cli.gate import run_gate_cli
from watcher.config import parse_config
from watcher.generate.supervisor import prepare_run


def test_gate_cli_sends_gate_failed_once_per_interval(tmp_path):
    got = tmp_path / "events.txt"
    cfg = parse_config({
        "job": "poetry", "name": "g", "runs_dir": str(tmp_path / "runs"), "poetry": {"forms": ["Haiku"], "num": 2},
        "notify": {"command": f'echo "$WATCHER_EVENT $WATCHER_KEPT/$WATCHER_TOTAL $WATCHER_MESSAGE" >> {got}'},
        "backends": {"b": {"kind": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}}}, "test")
    run_dir, _, _ = prepare_run(cfg, "g", tmp_path / "runs")
    args = argparse.Namespace(run=None, run_dir=str(run_dir), runs_dir=None, config=None, json=True, against=None)
    assert run_gate_cli(args) == 1  # no dataset yet: the gate fails
    assert run_gate_cli(args) == 1
    lines = got.read_text().splitlines()
    assert len(lines) == 1  # the second failure falls inside min_interval_s
    assert lines[0].startswith("gate_failed 0/0 run g: gate failed: dataset ") and "does not exist" in lines[0]
