"""The served TUI's RunControl: watching never takes the run over; read-only refuses every command."""

from __future__ import annotations

import os

import pytest
from helpers import make_run, read_lines, sim_config_dict

from watcher.run.files import atomic_write_json, read_control, read_json
from watcher.run.paths import RunPaths
from watcher.serve.control import ObserverControl, ReadOnlyControl, ReadOnlyError


def files(run_dir):
    return sorted((str(p.relative_to(run_dir)), p.stat().st_mtime_ns) for p in run_dir.rglob("*"))


@pytest.fixture
def run_dir(tmp_path, sim):
    return make_run(tmp_path, sim_config_dict(sim, num=2))


def test_watching_writes_nothing(run_dir):
    before = files(run_dir)
    ctl = ObserverControl(run_dir)
    s = ctl.snapshot()
    ctl.detach()  # leaving an un-adopted run must not write supervisor.json
    assert s.total_target == 4 and s.accepted == 0
    assert files(run_dir) == before


def test_pause_and_stop_go_through_the_control_file(run_dir):
    ctl = ObserverControl(run_dir)
    ctl.pause()
    assert read_control(RunPaths(run_dir).control)["paused"] is True
    ctl.resume()
    ctl.stop()
    c = read_control(RunPaths(run_dir).control)
    assert c["paused"] is False and c["stop"] is True
    assert [e["event"] for e in read_lines(RunPaths(run_dir).events)] == ["pause", "resume", "stop"]
    assert not RunPaths(run_dir).supervisor.exists()


def test_changing_workers_of_an_owned_run_is_refused(run_dir):
    paths = RunPaths(run_dir)
    atomic_write_json(paths.supervisor, {"pid": os.getppid(), "detached": False, "workers": {}})
    ctl = ObserverControl(run_dir)
    with pytest.raises(RuntimeError, match=f"owned by pid {os.getppid()}"):
        ctl.add_worker()
    assert not ctl.adopted and read_json(paths.supervisor)["pid"] == os.getppid()


def test_read_only_refuses_commands_and_shows_everything(run_dir):
    ctl = ReadOnlyControl(ObserverControl(run_dir))
    for cmd in (ctl.pause, ctl.resume, ctl.add_worker, ctl.remove_worker, ctl.stop, ctl.run_gate,
                ctl.start_training, ctl.stop_training):
        with pytest.raises(ReadOnlyError, match="read-only"):
            cmd()
    assert ctl.snapshot().total_target == 4 and ctl.training_state() is None
    ctl.detach()
    assert not RunPaths(run_dir).control.exists()
