"""The supervisor with real worker subprocesses: restart after kill -9, detach/attach, pause/resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from helpers import assert_each_item_once, make_run, read_lines, sim_config_dict, wait_for, write_sim_config

from watcher.generate.supervisor import Supervisor
from watcher.run.files import pid_alive, read_json
from watcher.run.paths import RunPaths


def finish(sup: Supervisor, timeout=90.0):
    assert wait_for(lambda: (sup.snapshot(), sup.finished())[1], timeout), "run did not finish"
    return sup.snapshot()


def test_killed_worker_is_restarted_and_run_completes_once(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.1)
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku", "Limerick", "Triolet"], num=5))
    sup = Supervisor(run_dir)
    sup.start()
    paths = RunPaths(run_dir)
    assert wait_for(lambda: len(read_lines(paths.dataset)) >= 2)
    victim = sup.workers[0]
    os.kill(victim.pid, signal.SIGKILL)
    assert wait_for(lambda: (sup.tick(), sup.workers[0].state == "restarting" or sup.workers[0].pid != victim.pid)[1])
    snap = finish(sup)
    acc, rej = assert_each_item_once(run_dir)
    assert snap.accepted == len(acc) and snap.rejected == len(rej)
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "restart" and e["worker"] == 0 for e in events)
    assert any(e["event"] == "exit" and e["code"] == -9 for e in events)
    assert not sup.failed()


def test_pause_stops_new_records_and_resume_continues(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.3, defect_rate=0.0)
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku", "Limerick"], num=12))
    sup = Supervisor(run_dir)
    sup.start()
    paths = RunPaths(run_dir)
    assert wait_for(lambda: len(read_lines(paths.dataset)) >= 2)
    sup.pause()
    # In-flight calls finish and are recorded, then the workers report paused.
    assert wait_for(lambda: sup.snapshot().state == "paused", 30)

    def all_paused() -> bool:
        hbs = [read_json(paths.heartbeat(w)) for w in sup.workers]
        return all(h and h["state"] == "paused" and h["in_flight"] == 0 for h in hbs)

    # A worker still importing its SDK has no heartbeat yet; every worker must get to paused.
    assert wait_for(all_paused, 30)
    n_paused = len(read_lines(paths.dataset)) + len(read_lines(paths.rejects))
    time.sleep(1.5)
    assert len(read_lines(paths.dataset)) + len(read_lines(paths.rejects)) == n_paused
    sup.resume()
    finish(sup)
    acc, rej = assert_each_item_once(run_dir)
    assert len(acc) + len(rej) == 24 > n_paused


def test_supervisor_kill_9_stops_its_workers_and_the_same_command_resumes(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.4, defect_rate=0.0)
    cfg_path = write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 10)
    cmd = [sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg_path), "--run", "r1"]
    sup_proc = subprocess.Popen(cmd, cwd=tmp_path, env=sim_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    run_dir = tmp_path / "runs" / "r1"
    assert wait_for(lambda: len(read_lines(run_dir / "dataset.jsonl")) >= 1, 60)
    assert wait_for(lambda: len(list((run_dir / "workers").glob("*.json"))) == 2, 30)
    info = read_json(run_dir / "supervisor.json")
    pids = [w["pid"] for w in info["workers"].values()]
    sup_proc.send_signal(signal.SIGKILL)
    sup_proc.wait()
    # Not detached: the orphans notice (supervisor.json's pid is dead) and stop within seconds.
    assert wait_for(lambda: not any(pid_alive(p) for p in pids), 10), "workers outlived their supervisor"
    assert {read_json(run_dir / "workers" / f"{i}.json")["state"] for i in range(2)} <= {"stopped", "done"}
    st = subprocess.run([sys.executable, "-m", "watcher.cli.main", "status", "--run-dir", str(run_dir), "--json"],
                        cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=30)
    assert st.returncode == 0, st.stderr
    snap = json.loads(st.stdout)
    assert {w["pid"] for w in snap["workers"]} == set(pids) and not any(w["alive"] for w in snap["workers"])
    # The same command resumes the run and finishes it: every item exactly once.
    again = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert_each_item_once(run_dir)


def test_crash_looping_worker_is_marked_failed_with_log_tail(tmp_path, make_sim, sim_env):
    sim = make_sim()
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=2, restart_limit=2))
    # A directory where the dataset should be: every worker start crashes with a traceback.
    (run_dir / "dataset.jsonl").mkdir()
    sup = Supervisor(run_dir)
    sup.start()
    assert wait_for(lambda: (sup.tick(), sup.failed())[1], 60)
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    failed = [e for e in events if e["event"] == "failed"]
    assert failed and "IsADirectoryError" in failed[0]["log_tail"]
    assert sum(1 for e in events if e["event"] == "restart" and e["worker"] == failed[0]["worker"]) == 2
    sup.stop(graceful=False)


def test_headless_first_ctrl_c_stops_gracefully(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.4, defect_rate=0.0)
    cfg_path = write_sim_config(tmp_path, sim, ["Haiku", "Limerick"], 30)
    proc = subprocess.Popen([sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg_path),
                             "--run", "r1"], cwd=tmp_path, env=sim_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    run_dir = tmp_path / "runs" / "r1"
    assert wait_for(lambda: len(read_lines(run_dir / "dataset.jsonl")) >= 2, 60)
    pids = [w["pid"] for w in read_json(run_dir / "supervisor.json")["workers"].values()]
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[-2000:]
    assert "stopping gracefully" in out and "run r1" in out  # the notice, then the final table
    assert wait_for(lambda: not any(pid_alive(p) for p in pids), 10), "workers left running"
    hbs = [read_json(run_dir / "workers" / f"{i}.json") for i in range(2)]
    assert all(h["state"] == "stopped" and h["in_flight"] == 0 for h in hbs)
    acc = read_lines(run_dir / "dataset.jsonl")  # every line parses: nothing half-written
    assert 2 <= len(acc) < 60 and len({r["id"] for r in acc}) == len(acc)


def test_adding_and_removing_workers_reshards_without_duplicates(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.2, defect_rate=0.0)
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku", "Limerick", "Triolet"], num=10))
    sup = Supervisor(run_dir)
    sup.start()
    paths = RunPaths(run_dir)
    assert wait_for(lambda: len(read_lines(paths.dataset)) >= 2)
    sup.add_worker()
    # The backend's workers stop together, then come back as three shards of the same items.
    assert wait_for(lambda: (sup.tick(), not sup.relayout)[1], 30)
    layout = read_json(paths.layout)
    per_backend = {}
    for e in layout["workers"].values():
        per_backend.setdefault(e["backend"], []).append(e)
    assert sorted(len(v) for v in per_backend.values()) == [1, 2]
    assert len(sup.workers) == 3
    sup.remove_worker()
    assert wait_for(lambda: (sup.tick(), not sup.relayout)[1], 30)
    assert len(read_json(paths.layout)["workers"]) == 2
    finish(sup)
    assert_each_item_once(run_dir)
    events = [json.loads(x)["event"] for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events.count("relayout") == 2
