"""The agentic and A/B jobs end to end through the simulator, as a new user runs them, including a
resume after everything was killed with kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from helpers import read_lines

from watcher.run.files import read_json


def demo_cmd(config: str, num: int) -> list[str]:
    return [sys.executable, "-m", "watcher.cli.main", "demo", "--config", config, "--headless", "--num", str(num),
            "--interval", "5"]


def test_agentic_demo_records_tool_call_conversations(tmp_path):
    r = subprocess.run(demo_cmd("configs/agentic.toml", 2), cwd=tmp_path, capture_output=True, text=True,
                       timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "category" in r.stdout and "tool_use" in r.stdout
    [run] = list((tmp_path / "data" / "runs").iterdir())
    acc = read_lines(run / "dataset.jsonl")
    assert len(acc) + len(read_lines(run / "rejects.jsonl")) == 14
    rec = acc[0]
    assert rec["category"] and rec["messages"] and rec["job"] == "agentic"
    roles = [m["role"] for m in rec["messages"]]
    assert roles[-1] == "assistant" and "user" in roles
    assert any(m.get("tool_calls") for r2 in acc for m in r2["messages"])


def test_aba_resume_after_kill_9_of_everything(tmp_path):
    cmd = demo_cmd("configs/aba.toml", 10)
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    runs = tmp_path / "data" / "runs"
    deadline = time.time() + 90
    run = None
    while time.time() < deadline:
        dirs = list(runs.iterdir()) if runs.exists() else []
        if dirs and len(read_lines(dirs[0] / "dataset.jsonl")) >= 3:
            run = dirs[0]
            break
        time.sleep(0.05)
    assert run is not None, "no progress"
    before = read_lines(run / "dataset.jsonl")
    info = read_json(run / "supervisor.json")
    p.send_signal(signal.SIGKILL)
    for w in info["workers"].values():
        try:
            os.kill(w["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "resuming run" in r.stdout
    acc = read_lines(run / "dataset.jsonl")
    rej = read_lines(run / "rejects.jsonl")
    ids = [x["id"] for x in acc]
    assert len(ids) == len(set(ids)), "an accepted record was duplicated"
    assert {x["id"] for x in before} <= set(ids), "an accepted record was lost"
    assert len(set(ids) | {x["id"] for x in rej}) == 20
    for rec in acc:
        assert rec["variant"] in ("control", "treatment") and rec["response"]
        assert rec["usage"]["output_tokens"] > 0
