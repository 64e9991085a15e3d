"""One owner per run: two supervisors at once, attach beside a live supervisor, a worker slot taken."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from helpers import (
    assert_run_intact,
    headless_cmd,
    make_run,
    one_line,
    popen_run,
    read_lines,
    sim_config_dict,
    wait_for,
    worker_cmd,
    write_layout,
    write_sim_config,
)

from watcher.errors import EXIT_FATAL, EXIT_USAGE
from watcher.run.files import read_json
from watcher.run.lock import SlotLock
from watcher.run.paths import RunPaths

pytestmark = pytest.mark.slow


def test_two_supervisors_at_once_one_is_refused_naming_the_owner(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.1, defect_rate=0.0)
    cmd = headless_cmd(write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 8))
    a, b = popen_run(cmd, tmp_path, sim_env), popen_run(cmd, tmp_path, sim_env)
    (out_a, err_a), (out_b, err_b) = a.communicate(timeout=90), b.communicate(timeout=90)
    codes = sorted([a.returncode, b.returncode])
    assert codes == [0, EXIT_USAGE], (out_a, err_a, out_b, err_b)
    refused_err = err_a if a.returncode == EXIT_USAGE else err_b
    line = one_line(refused_err)
    assert "is owned by pid" in line and "watcher attach" in line, line
    run_dir = tmp_path / "runs" / "r1"
    acc, rej = assert_run_intact(run_dir)
    assert len(acc) + len(rej) == 16  # not 32: the second start wrote nothing
    # The same command again: everything is done, nothing generated twice.
    again = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert_run_intact(run_dir)


def test_attach_beside_a_live_supervisor_watches_read_only(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.3, defect_rate=0.0)
    cmd = headless_cmd(write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 12), "r1", "--interval", "0.5")
    sup = popen_run(cmd, tmp_path, sim_env)
    run_dir = tmp_path / "runs" / "r1"
    assert wait_for(lambda: len(read_lines(run_dir / "dataset.jsonl")) >= 2, 60)
    att = popen_run([sys.executable, "-m", "watcher.cli.main", "attach", "--run-dir", str(run_dir), "--headless",
                      "--interval", "0.5"], tmp_path, sim_env)
    assert wait_for(lambda: any(json.loads(x)["event"] == "attach_read_only" for x in
                                (run_dir / "events.jsonl").read_text().splitlines()), 20)
    victim = read_json(run_dir / "supervisor.json")["workers"]["0"]["pid"]
    os.kill(victim, signal.SIGKILL)
    out, err = sup.communicate(timeout=120)
    assert sup.returncode == 0, out[-2000:] + err[-2000:]
    a_out, a_err = att.communicate(timeout=30)
    assert att.returncode == 0, a_out[-2000:] + a_err[-2000:]
    assert "watching read-only" in one_line(a_err)
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    spawns = [e for e in events if e["event"] == "spawn" and e["worker"] == 0]
    assert len(spawns) == 2, spawns  # the first start and the owner's one restart, none from attach
    assert_run_intact(run_dir)


def test_worker_refuses_a_slot_another_live_process_owns(tmp_path, sim, sim_env):
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=1))
    write_layout(run_dir)
    held = SlotLock(RunPaths(run_dir), 0)
    held.acquire(0)
    try:
        r = subprocess.run(worker_cmd(run_dir, 0), env=sim_env, capture_output=True, text=True, timeout=30)
    finally:
        held.release()
    assert r.returncode == EXIT_FATAL
    assert f"worker 0 is already running ({os.getpid()} round 0)" in r.stdout + r.stderr
    assert not (run_dir / "dataset.jsonl").exists() or not read_lines(run_dir / "dataset.jsonl")
