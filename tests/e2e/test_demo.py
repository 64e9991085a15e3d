"""`watcher demo --headless` as a new user runs it: simulator, workers, progress lines, summary; and a
second run of the same command resumes the same run without redoing anything."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import assert_each_item_once, read_lines


def demo(tmp_path, *extra):
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", "demo", "--headless", "--interval", "2", *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def test_demo_headless_finishes_and_resumes(tmp_path):
    r = demo(tmp_path, "--num", "2")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    accepted = [ln for ln in lines if re.match(r"^\[\d+/10\] \w[\w ]*: score=\d\.\d\d \(.+\)", ln)]
    assert accepted, r.stdout
    assert any(ln.startswith("-- ") and "/min" in ln and "ETA" in ln for ln in lines)
    assert "histogram" in r.stdout and "finish_reason per model" in r.stdout
    runs = list((tmp_path / "data" / "runs").iterdir())
    assert len(runs) == 1
    acc, rej = assert_each_item_once(runs[0])
    assert len(acc) == len(accepted)
    # The same command again continues the same run: nothing done is redone.
    r2 = demo(tmp_path, "--num", "2")
    assert r2.returncode == 0, r2.stderr[-2000:]
    assert "resuming run" in r2.stdout
    after = [x["id"] for x in read_lines(runs[0] / "dataset.jsonl")]
    assert len(after) == len(set(after))  # nothing accepted twice
    assert {x["id"] for x in acc} <= set(after)
    # Only items rejected in the first round were tried again.
    assert set(after) - {x["id"] for x in acc} <= {x["id"] for x in rej}


def test_demo_run_trains_the_offline_tiny_model(tmp_path):
    """The demo's loop closes with no model hub: `watcher train` on a demo run builds a tiny model
    from the gated data, trains both stages and evaluates before/after with the verifier."""
    r = demo(tmp_path, "--num", "4")
    assert r.returncode == 0, r.stderr[-2000:]
    env = {**__import__("os").environ, "MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1"}
    t = subprocess.run([sys.executable, "-m", "watcher.cli.main", "train", "--headless"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert t.returncode == 0, t.stdout[-2000:] + t.stderr[-2000:]
    assert "stage 2/2" in t.stdout and "overall" in t.stdout
    [run] = list((tmp_path / "data" / "runs").iterdir())
    assert (run / "train" / "eval.json").exists()
    assert (tmp_path / "data" / "models" / "tiny-demo" / "config.json").exists()
