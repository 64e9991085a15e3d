"""The appender follows a replaced file, temp files are cleaned, names stay plain, locks are exclusive."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watcher.errors import ConfigError, RunBusyError
from watcher.run.files import JsonlAppender, atomic_write_text, clean_stale_temps
from watcher.run.lock import RunLock
from watcher.run.paths import check_output_name, check_run_name


def test_appender_reopens_a_replaced_file_and_notes_truncation(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    changes: list[str] = []
    app = JsonlAppender(path, on_change=changes.append)
    app.append(b'{"a":1}\n')
    tmp = tmp_path / "copy"
    tmp.write_bytes(path.read_bytes())
    os.replace(tmp, path)  # what sed -i does
    app.append(b'{"a":2}\n')
    assert path.read_bytes() == b'{"a":1}\n{"a":2}\n' and changes == ["replaced"]
    os.truncate(path, 0)
    app.append(b'{"a":3}\n')
    assert path.read_bytes() == b'{"a":3}\n' and changes == ["replaced", "truncated"]
    path.unlink()
    app.append(b'{"a":4}\n')
    assert path.read_bytes() == b'{"a":4}\n' and changes[-1] == "deleted"
    app.close()


def test_stale_temps_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / f".config.toml.{2**22 + 7}.tmp"
    live = tmp_path / f".config.toml.{os.getpid()}.tmp"
    foreign = tmp_path / ".train.jsonl.tmp"
    for p in (dead, live, foreign):
        p.write_text("x")
    assert clean_stale_temps(tmp_path) == 1
    assert not dead.exists() and live.exists() and foreign.exists()
    atomic_write_text(tmp_path / "config.toml", "a = 1\n")
    assert (tmp_path / "config.toml").read_text() == "a = 1\n"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x", "/abs", "x" * 101, "a b", "é"])
def test_bad_run_names(name: str) -> None:
    with pytest.raises(ConfigError, match="bad run name"):
        check_run_name(name)


def test_names_and_outputs() -> None:
    assert check_run_name("demo-poetry-2026-01-01.v2_x") and check_run_name("x" * 100)
    assert check_output_name("my.jsonl") == "my.jsonl"
    for out in ("config.toml", "events.jsonl", "rejects.jsonl", "run.lock", "x/y.jsonl", "/tmp/a", ".."):
        with pytest.raises(ConfigError, match="bad output"):
            check_output_name(out)


def test_run_lock_is_exclusive_and_names_the_owner(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    first = RunLock(tmp_path / "r")
    first.acquire("watcher")
    second = RunLock(tmp_path / "r")
    assert second.held_by_other()
    with pytest.raises(RunBusyError, match=f"owned by pid {os.getpid()}.*watcher attach"):
        second.acquire("watcher")
    first.release()
    assert not second.held_by_other()
    second.acquire("watcher")
    second.release()
