"""A run broken as an operator would: SIGTERM/SIGHUP mid-run, the dataset replaced and corrupted under it."""

from __future__ import annotations

import json
import signal
import subprocess

import msgspec
import pytest
from helpers import (
    assert_run_intact,
    headless_cmd,
    planned_ids,
    popen_run,
    read_lines,
    wait_for,
    write_sim_config,
)

from watcher.errors import EXIT_INTERRUPTED
from watcher.generate.plan import corrupt_lines
from watcher.run.files import pid_alive
from watcher.run.records import GATE_RECORD_TYPES

pytestmark = pytest.mark.slow


def test_sigterm_and_sighup_stop_gracefully_and_the_same_command_finishes(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.4, defect_rate=0.0)
    cmd = headless_cmd(write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 12))
    run_dir = tmp_path / "runs" / "r1"
    seen = 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        proc = popen_run(cmd, tmp_path, sim_env, stderr=subprocess.STDOUT)
        assert wait_for(lambda n=seen: len(read_lines(run_dir / "dataset.jsonl")) > n, 60)
        pids = [w["pid"] for w in json.loads((run_dir / "supervisor.json").read_text())["workers"].values()]
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == EXIT_INTERRUPTED, out[-2000:]
        assert f"-- {signal.Signals(sig).name}: pausing and stopping gracefully" in out
        assert wait_for(lambda ps=pids: not any(pid_alive(p) for p in ps), 10), "workers outlived a graceful stop"
        seen = len(read_lines(run_dir / "dataset.jsonl"))
        assert seen < 24
    done = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert_run_intact(run_dir)


def test_dataset_replaced_then_corrupted_resume_reads_what_is_on_disk(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.3, defect_rate=0.0)
    cmd = headless_cmd(write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 10))
    run_dir = tmp_path / "runs" / "r1"
    ds = run_dir / "dataset.jsonl"
    proc = popen_run(cmd, tmp_path, sim_env, stderr=subprocess.STDOUT)
    assert wait_for(lambda: len(read_lines(ds)) >= 2, 60)
    old_inode = ds.stat().st_ino
    subprocess.run(["sed", "-i", "s/x/x/", str(ds)], check=True)  # a new file renamed over the old one
    assert ds.stat().st_ino != old_inode
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-2000:]
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "file_changed" and e["change"] == "replaced" for e in events)
    acc = read_lines(ds)
    assert len(acc) >= 18, "records went to the replaced file"  # a few may race sed's copy: regenerated below

    # A corrupt line with a real id, and one cut to a few fields: neither marks its item done.
    lines = ds.read_bytes().splitlines(keepends=True)
    victims = [json.loads(lines[0])["id"], json.loads(lines[1])["id"]]
    lines[0] = json.dumps({"id": victims[0]}).encode() + b"\n"
    lines[1] = json.dumps({"id": victims[1], "job": "poetry", "prompt": "p", "score": 1.0}).encode() + b"\n"
    ds.write_bytes(b"".join(lines))
    (run_dir / f".config.toml.{2**22 + 12345}.tmp").write_text("half a config")  # a killed writer's leftover
    st = subprocess.run([*cmd[:3], "status", "--run-dir", str(run_dir), "--json"], cwd=tmp_path, env=sim_env,
                        capture_output=True, text=True, timeout=30)
    gate = subprocess.run([*cmd[:3], "gate", "--run-dir", str(run_dir), "--json"], cwd=tmp_path, env=sim_env,
                          capture_output=True, text=True, timeout=30)
    checks = {c["name"]: c["count"] for c in json.loads(gate.stdout)["checks"]}
    assert json.loads(st.stdout)["corrupt_lines"] == checks["valid_json"] + checks["schema"] == 2

    again = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout[-2000:]
    assert not list(run_dir.glob(".*.tmp")), "a stale temp file was left"
    assert corrupt_lines(ds, "poetry") == 2  # the user's lines are kept as they are, still counted corrupt
    dec = msgspec.json.Decoder(GATE_RECORD_TYPES["poetry"])
    valid = []
    for line in ds.read_bytes().splitlines():
        try:
            valid.append(dec.decode(line).id)
        except msgspec.ValidationError:
            continue
    assert len(valid) == len(set(valid)) and set(victims) <= set(valid)
    rej = [r["id"] for r in read_lines(run_dir / "rejects.jsonl")]
    assert sorted(valid + rej) == sorted(planned_ids(run_dir))
    assert ds.read_bytes().endswith(b"\n")
