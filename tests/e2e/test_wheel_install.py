"""Installed as users install it: build the wheel, pip-install it with no extras into a fresh venv,
and from an empty folder run demo, status, gate, verify and init. Proves the configs, data and
stylesheet ship in the package and that the core dependencies are the ones the code imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

pytestmark = pytest.mark.slow

HAIKU = "An old silent pond\na frog jumps into the pond\nsplash! silence again\n"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    return r


def test_wheel_installs_and_runs_from_an_empty_folder(tmp_path):
    # The source tree minus tests, copied so the build's egg-info/ and build/ never land in the checkout.
    src = tmp_path / "src-copy"
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    # Nothing of the checkout may leak in: no PYTHONPATH, no editable install on the path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(wheels)], tmp_path, env)
    wheel = next(wheels.glob("watcher-*.whl"))

    venv = tmp_path / "venv"
    # No pip inside the venv (seeding it is slow): this interpreter's pip installs into it (--python).
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path, env)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    # A normal install of the wheel and its declared dependencies (pip's cache makes reruns quick;
    # --no-compile skips byte-compiling thousands of dependency files nobody runs here).
    _run([sys.executable, "-m", "pip", "--python", str(bindir / "python"), "install", "-q", "--no-compile",
          str(wheel)], tmp_path, env)
    watcher = str(bindir / "watcher")

    work = tmp_path / "empty"
    work.mkdir()
    env = {**env, "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}"}
    assert _run([watcher, "--version"], work, env).stdout.strip() == "watcher 0.1.0"
    demo = _run([watcher, "demo", "--headless", "--num", "2", "--interval", "5"], work, env, timeout=300)
    assert "done" in demo.stdout
    status = _run([watcher, "status"], work, env)
    assert "accepted 10" in status.stdout, status.stdout
    gate = _run([watcher, "gate"], work, env)
    assert "PASS" in gate.stdout and list((work / "data" / "runs").glob("*/gate/train.jsonl"))
    (work / "haiku.txt").write_text(HAIKU)
    assert "1.00" in _run([watcher, "verify", "--form", "Haiku", "haiku.txt"], work, env).stdout
    init = _run([watcher, "init"], work, env)
    names = sorted(p.stem for p in (work / "configs").glob("*.toml"))
    assert names == ["aba", "agentic", "demo", "poetry", "train", "train_agentic", "train_demo"] and "configs" in init.stdout
    # The edited copy is what the next run reads: a 1-per-form demo in its own run.
    demo_toml = work / "configs" / "demo.toml"
    demo_toml.write_text(demo_toml.read_text().replace("num = 10", "num = 1"))
    again = _run([watcher, "demo", "--headless", "--run", "edited"], work, env, timeout=300)
    assert "5/5" in again.stdout, again.stdout
