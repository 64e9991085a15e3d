"""Workers as real subprocesses against the simulator, through the real SDKs.

Every planned item must end accepted or rejected exactly once, whatever the provider does.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from helpers import (
    assert_each_item_once,
    make_run,
    planned_ids,
    read_lines,
    run_workers,
    sim_config_dict,
    worker_cmd,
    write_layout,
)

from watcher.run.files import read_json
from watcher.run.paths import RunPaths


def test_clean_run_records_every_item_with_traces(tmp_path, sim, sim_env):
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=4))
    write_layout(run_dir)
    for code, out in run_workers(run_dir, sim_env):
        assert code == 0, out
    acc, rej = assert_each_item_once(run_dir)
    assert acc, "nothing accepted"
    r = acc[0]
    for field in ("id", "job", "form", "prompt", "synth_trace", "natural_trace", "poem", "score", "passed",
                  "rubric", "attempts", "model", "backend", "finish_reason", "finish_reason_raw", "usage",
                  "cost_usd", "latency_s", "worker", "timestamp"):
        assert field in r, field
    assert r["backend"] == "sim" and r["score"] >= 0.8 and r["synth_trace"].startswith("<think>")
    assert r["natural_trace"].startswith("<think>") and r["natural_trace"].rstrip().endswith("</think>")
    assert {x["model"] for x in acc} <= {"claude-haiku-4-5", "moonshotai/kimi-k2"}
    # Defective poems from the simulator made the retry loop run at least once.
    assert any(x["attempts"] > 1 for x in acc + rej)
    hb = read_json(run_dir / "workers" / "0.json")
    assert hb["state"] == "done" and hb["done"] + hb["rejected"] == hb["share"]


FAULTS = {
    "error_500": {"error_500": 0.3},
    "overloaded_529": {"overloaded_529": 0.3},
    "rate_limit_429": {"rpm": 40},
    "timeout": {"slow": 0.15, "slow_s": 3.0},
    "dropped_connection": {"drop": 0.25},
    "truncation": {"truncate": 0.3},
    "empty_text": {"empty": 0.3},
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_item_ends_exactly_once_under_faults(tmp_path, make_sim, sim_env, fault):
    sim = make_sim(**FAULTS[fault])
    data = sim_config_dict(sim, num=3)
    if fault == "timeout":
        for b in data["backends"].values():
            b["timeout_s"] = 0.6
    run_dir = make_run(tmp_path, data)
    write_layout(run_dir)
    for _round in range(3):
        for code, out in run_workers(run_dir, sim_env, timeout=120):
            assert code == 0, out
        # Transport trouble (timeouts, drops, 5xx) never rejects an item: it may be left pending past
        # its per-item deadline, and the same workers started again pick it up.
        ended = {r["id"] for p in (RunPaths(run_dir).dataset, RunPaths(run_dir).rejects) for r in read_lines(p)}
        if ended == planned_ids(run_dir):
            break
    acc, rej = assert_each_item_once(run_dir)
    assert not any(r["reason"] in ("timeout", "connect", "server", "rate_limit") for r in rej)
    attempts = [a for r in acc + rej for a in r["attempt_log"]]
    if fault == "truncation":
        assert any(a["failure"] == "truncated" and a["finish_reason"] == "length" for a in attempts)
        assert not any(r["finish_reason"] == "length" for r in acc)
    if fault == "empty_text":
        assert any(a["failure"] == "empty" for a in attempts)
    if fault == "rate_limit_429":
        hbs = [read_json(run_dir / "workers" / f"{i}.json") for i in range(2)]
        assert sum(h["rate_limit_waits"] for h in hbs) > 0 or sim.stats()["429"] == 0


def test_kill_9_then_restart_loses_and_duplicates_nothing(tmp_path, make_sim, sim_env):
    sim = make_sim(latency_s=0.15)
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku", "Limerick", "Triolet"], num=6,
                                                  backend="claude"))
    write_layout(run_dir, backends=("claude",))
    paths = RunPaths(run_dir)
    p = subprocess.Popen(worker_cmd(run_dir, 0), env=sim_env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(read_lines(paths.dataset)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    before = read_lines(paths.dataset)
    assert len(before) >= 3
    p.send_signal(signal.SIGKILL)
    p.wait()
    # What was accepted before the kill is all still there after the restart, once.
    run_workers(run_dir, sim_env, n=1)
    acc, rej = assert_each_item_once(run_dir)
    assert {r["id"] for r in before} <= {r["id"] for r in acc}


def test_wrong_api_key_fails_clearly_and_keeps_key_out(tmp_path, sim, sim_env):
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=2))
    write_layout(run_dir, backends=("claude",))
    env = {**sim_env, "WATCHER_SIM_KEY": "sk-wrong-secret-123456789"}
    [(code, out)] = run_workers(run_dir, env, n=1)
    assert code == 4
    assert "API key refused" in out and "WATCHER_SIM_KEY" in out
    assert "sk-wrong-secret-123456789" not in out
    assert "sk-wrong-secret" not in (run_dir / "workers" / "0.json").read_text()
    assert not RunPaths(run_dir).dataset.exists() or not read_lines(RunPaths(run_dir).dataset)


def test_missing_api_key_names_the_variable(tmp_path, sim, sim_env):
    run_dir = make_run(tmp_path, sim_config_dict(sim, num=2))
    write_layout(run_dir, backends=("claude",))
    env = {k: v for k, v in sim_env.items() if k != "WATCHER_SIM_KEY"}
    [(code, out)] = run_workers(run_dir, env, n=1)
    assert code == 4 and "WATCHER_SIM_KEY" in out
