"""`watcher demo` in a real terminal (tmux): wait for records, press p, r and q, read the screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


def screen(name: str) -> str:
    return tmux("capture-pane", "-p", "-t", name)


def wait_screen(name: str, pred, timeout: float = 60.0) -> str:
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        text = screen(name)
        if pred(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"screen never matched; last screen:\n{text}")


def test_demo_in_tmux_pause_resume_quit(tmp_path):
    name = f"watcher-e2e-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit_code"
    cmd = (f"{sys.executable} -m watcher.cli.main demo --num 8 --pace fast --run tmuxdemo; echo $? > {done}; sleep 60")
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", str(tmp_path), cmd)
    try:
        first = wait_screen(name, lambda s: "score=" in s)
        assert "watcher" in first and "ETA" in first and "Pause" in first
        tmux("send-keys", "-t", name, "p")
        paused = wait_screen(name, lambda s: "PAUSED" in s, 40)
        assert "Resume" in paused  # the footer now offers resume instead of pause
        n_paused = paused.count("score=")
        tmux("send-keys", "-t", name, "r")
        wait_screen(name, lambda s: "RUNNING" in s or "DONE" in s, 40)
        wait_screen(name, lambda s: s.count("score=") > n_paused or "DONE" in s, 60)
        tmux("send-keys", "-t", name, "q")
        dialog = wait_screen(name, lambda s: "Detach" in s and "Stop workers" in s, 20)
        assert "Cancel" in dialog or "cancel" in dialog
        tmux("send-keys", "-t", name, "s")
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert done.exists() and done.read_text().strip() == "0", screen(name)
        out = screen(name)
        assert "-- " in out and "/40 (" in out  # the summary line printed after the app closed
    finally:
        tmux("kill-session", "-t", name)


def test_default_demo_paces_like_a_real_provider(tmp_path):
    """`watcher demo` with no flags is still running 12 s after it starts: time to try every key."""
    name = f"watcher-e2e-{uuid.uuid4().hex[:8]}"
    done = tmp_path / "exit_code"
    cmd = f"{sys.executable} -m watcher.cli.main demo; echo $? > {done}; sleep 60"
    tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "-c", str(tmp_path), cmd)
    started = time.time()
    try:
        wait_screen(name, lambda s: "RUNNING" in s, 30)
        # The claim is about elapsed time, so this sleep is the measurement, not a wait for an event.
        time.sleep(max(0.0, started + 12 - time.time()))
        at_12s = screen(name)
        assert "RUNNING" in at_12s and "DONE" not in at_12s and not done.exists(), at_12s
        tmux("send-keys", "-t", name, "q")
        wait_screen(name, lambda s: "Stop workers" in s, 20)
        tmux("send-keys", "-t", name, "s")
        deadline = time.time() + 60
        while not done.exists() and time.time() < deadline:
            time.sleep(0.2)
        assert done.exists() and done.read_text().strip() == "0", screen(name)
    finally:
        tmux("kill-session", "-t", name)
