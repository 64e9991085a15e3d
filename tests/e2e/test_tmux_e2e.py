"""`watcher demo` in a real terminal (tmux): wait for records, press p, r, /, t, g and q, read the screen."""

from __future__ import annotations

import re
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
        # `/` filters the feed to one form: every feed line shown is of that form
        forms = [f for f in re.findall(r"\] (\w+): score=", screen(name)) if f.lower() not in "claude-haiku-4-5"]
        form = forms[-1]  # a form whose name is not also in a model's name
        tmux("send-keys", "-t", name, "/")
        wait_screen(name, lambda s: "filter the feed" in s, 20)  # the box has the focus: type into it
        tmux("send-keys", "-t", name, "-l", form.lower())
        filtered = wait_screen(name, lambda s: f"/{form.lower()}: " in s, 20)
        lines = [ln for ln in filtered.splitlines() if "score=" in ln and "] " in ln]
        assert lines and all(f"] {form}: " in ln for ln in lines), filtered
        tmux("send-keys", "-t", name, "Escape")
        wait_screen(name, lambda s: f"/{form.lower()}: " not in s, 20)
        # `t` before any gate asks first; `g` there runs the gate
        tmux("send-keys", "-t", name, "t")
        ask = wait_screen(name, lambda s: "Train on this export?" in s, 20)
        assert "has not run" in ask and "Train anyway" in ask
        tmux("send-keys", "-t", name, "g")
        gate = wait_screen(name, lambda s: "records kept" in s and ("PASSED" in s or "FAILED" in s), 60)
        failed = "FAILED" in gate.split("records kept")[0]
        tmux("send-keys", "-t", name, "Escape")
        wait_screen(name, lambda s: "score=" in s, 20)
        tmux("send-keys", "-t", name, "t")
        after = wait_screen(name, lambda s: "Train on this export?" in s or "Start training" in s, 20)
        if failed:  # a failed gate: asked again, and cancel trains nothing
            assert "Train on this export?" in after and "FAILED" in after
        tmux("send-keys", "-t", name, "Escape")
        wait_screen(name, lambda s: "score=" in s and "Train on this export?" not in s, 20)
        running = "RUNNING" in screen(name) or "PAUSED" in screen(name)
        tmux("send-keys", "-t", name, "q")
        if running:  # something to stop or detach: asked; a finished run quits at once
            dialog = wait_screen(name, lambda s: ("Detach" in s and "Stop workers" in s) or done.exists(), 20)
            if not done.exists():
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
