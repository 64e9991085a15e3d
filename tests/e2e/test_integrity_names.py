"""Names stay inside the runs folder, and user errors are one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from helpers import make_run, one_line, sim_config_dict

from watcher.cli.main import main
from watcher.errors import EXIT_OK, EXIT_USAGE


@pytest.fixture
def cfg_path(tmp_path: Path, sim, sim_env) -> Path:
    data = sim_config_dict(sim, num=1)
    data["runs_dir"] = str(tmp_path / "runs")
    p = tmp_path / "run.toml"
    p.write_text(tomli_w.dumps(data))
    (tmp_path / "runs" / "r1" / "adir").mkdir(parents=True)
    return p


REFUSED = [
    (["--run", "../../etc"], "bad run name"),
    (["--run", "/abs/path"], "bad run name"),
    (["--run", "."], "bad run name"),
    (["--run", ".."], "bad run name"),
    (["--run", "x" * 300], "bad run name"),
    (["--run", "a b"], "bad run name"),
    (["--run", "r1", "--output", "config.toml"], "bad output"),
    (["--run", "r1", "--output", "events.jsonl"], "bad output"),
    (["--run", "r1", "--output", "../out.jsonl"], "bad output"),
    (["--run", "r1", "--output", "/tmp/out.jsonl"], "bad output"),
    (["--run", "r1", "--output", "adir"], "is a directory"),
    (["--run-dir", "/nonexistent/run"], "not a run directory"),
]


@pytest.mark.parametrize(("flags", "needle"), REFUSED, ids=[" ".join(f)[:40] for f, _ in REFUSED])
def test_refused_names_and_outputs(tmp_path, cfg_path, capsys, flags, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["--headless", "--config", str(cfg_path), *flags]) == EXIT_USAGE
    line = one_line(capsys.readouterr().err)
    assert needle in line and line.startswith("watcher: ")
    if "name" in needle:
        assert "letters, digits" in line
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before, "a refused command wrote files"


def test_reading_commands_take_names_only(tmp_path, sim, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=1))
    for cmd in ("status", "gate", "train", "attach"):
        assert main([cmd, "--run", str(run_dir)]) == EXIT_USAGE, cmd
        assert "--run-dir" in one_line(capsys.readouterr().err)
    assert main(["status", "--run-dir", str(run_dir)]) == EXIT_OK
    capsys.readouterr()
    assert main(["status", "--runs-dir", str(tmp_path / "runs"), "--run", "run1", "--json"]) == EXIT_OK
    monkeypatch.setenv("WATCHER_RUNS", str(tmp_path / "runs"))
    assert main(["status", "--run", "run1"]) == EXIT_OK


def test_config_that_is_a_directory_or_binary_is_one_line(tmp_path, capsys):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 50)
    for path, needle in ((tmp_path, "is a directory"), (binary, "not a text file")):
        assert main(["--headless", "--config", str(path), "--run", "x"]) == EXIT_USAGE
        assert needle in one_line(capsys.readouterr().err)


@pytest.mark.slow
def test_broken_pipe_is_quiet(tmp_path, sim):
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=1))
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    me = f"{sys.executable} -m watcher.cli.main"
    for cmd in (f"{me} forms | head -1", f"{me} status --run-dir {run_dir} --json | head -c 10"):
        r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0 and r.stderr == "", (cmd, r.stderr)
