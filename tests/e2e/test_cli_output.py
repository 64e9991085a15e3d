"""`watcher runs`, `status`, `forms` as a user sees them: rich on a terminal, plain when piped or
with NO_COLOR, within the terminal's width, quiet on a broken pipe."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "watcher.cli.main"]


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def run_tty(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run with stdout on a pseudo-terminal; return what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    return out.decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli-output")
    r = run(d, "demo", "--headless", "--num", "1", "--forms", "Haiku,Limerick", "--run", "one")
    assert r.returncode == 0, r.stderr
    return d


def test_runs_lists_runs_plain_when_piped_and_shows_the_gate(workdir: Path) -> None:
    r = run(workdir, "runs")
    assert r.returncode == 0 and "\x1b[" not in r.stdout
    head, row = r.stdout.splitlines()[:2]
    assert head.split() == ["run", "job", "state", "progress", "accepted", "cost", "gate", "last", "activity"]
    assert row.split()[:7] == ["one", "poetry", "done", "2/2", "(100%)", "2", "$0.00"] and " -- " in row
    assert run(workdir, "gate", "--run", "one").returncode == 0
    assert "PASSED" in run(workdir, "runs").stdout
    status = run(workdir, "status", "--run", "one").stdout
    assert "gate PASSED (2 of 2 kept) · training not started" in status


def test_runs_is_coloured_on_a_terminal_unless_no_color(workdir: Path) -> None:
    assert "\x1b[" in run_tty(workdir, "runs", env={"COLUMNS": "100"})
    out = run_tty(workdir, "runs", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert "\x1b[" not in out and "one" in out


def test_runs_on_a_broken_pipe_exits_quietly(workdir: Path) -> None:
    proc = subprocess.Popen([*CLI, "runs"], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first write (`watcher runs | head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_no_runs(tmp_path: Path) -> None:
    r = run(tmp_path, "runs")
    assert r.returncode == 0 and "no runs under data/runs" in r.stdout


def test_forms_fits_the_terminal_and_stays_whole_when_piped(workdir: Path) -> None:
    out = run_tty(workdir, "forms", env={"COLUMNS": "60"})
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) > 10 and max(len(ln) for ln in lines) <= 60, max(lines, key=len)
    piped = run(workdir, "forms").stdout
    assert max(len(ln) for ln in piped.splitlines()) > 100  # descriptions whole for grep


HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again\n"


def test_status_gate_and_verify_are_coloured_on_a_terminal_only(workdir: Path) -> None:
    (workdir / "haiku.txt").write_text(HAIKU)
    for args in (("gate", "--run", "one"), ("status", "--run", "one"), ("verify", "--form", "Haiku", "haiku.txt")):
        tty = run_tty(workdir, *args, env={"COLUMNS": "120"})
        assert "\x1b[1;32mPASS" in tty, args  # the verdict in bold green (PASSED, PASS)
        piped = run(workdir, *args)
        assert piped.returncode == 0 and "\x1b[" not in piped.stdout, args
        # the same words either way: colour is added, never text
        assert piped.stdout.splitlines()[-1].split() == _plain(tty).splitlines()[-1].split(), args
    assert "\x1b[" not in run_tty(workdir, "gate", "--run", "one", env={"NO_COLOR": "1"})


def _plain(s: str) -> str:
    import re

    # SGR colour codes, and the cursor codes of a transient progress bar (the gate's, on a terminal)
    s = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", s)
    return "\n".join(ln.rsplit("\r", 1)[-1] for ln in s.split("\n") if ln.strip())
