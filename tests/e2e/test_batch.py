"""Batch mode against the simulator's three batch protocols, through the real SDKs and real workers.

Every planned item ends once; the simulator counts each custom_id it was sent, so "nothing was
submitted twice" is checked on the provider's side, also across kill -9 at each point of a
submission (the worker stops dead at a named point, WATCHER_BATCH_PAUSE, so the kill lands there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from helpers import (
    assert_each_item_once,
    headless_cmd,
    make_run,
    read_lines,
    run_pids,
    run_workers,
    sim_config_dict,
    wait_for,
    worker_cmd,
    write_layout,
)

from watcher.providers.base import cost_usd
from watcher.run.paths import RunPaths

pytestmark = pytest.mark.slow

PROTOCOLS = {"anthropic": ("claude", "auto"), "openai": ("openrouter", "openai"),
             "openrouter": ("openrouter", "openrouter")}


def batch_config(sim, protocol: str, num: int = 2, **backend) -> dict:
    name, api = PROTOCOLS[protocol]
    data = sim_config_dict(sim, forms=["Haiku", "Limerick"], num=num, backend=name)
    data["backends"][name].update({"batch": True, "batch_api": api, "batch_poll_s": 0.05, **backend})
    return data


def one_worker_run(tmp_path, sim, protocol: str, **backend):
    run_dir = make_run(tmp_path, batch_config(sim, protocol, **backend))
    write_layout(run_dir, backends=(PROTOCOLS[protocol][0],))
    return run_dir


def assert_once_everywhere(sim, run_dir):
    acc, rej = assert_each_item_once(run_dir)
    twice = {k: v for k, v in sim.submissions().items() if v != 1}
    assert not twice, f"custom_ids submitted more than once: {twice}"
    return acc, rej


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_batch_run_each_protocol(tmp_path, sim, sim_env, protocol):
    run_dir = one_worker_run(tmp_path, sim, protocol)
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    acc, rej = assert_once_everywhere(sim, run_dir)
    assert acc and sim.stats()["requests"] == 0, "batch mode made online calls"
    batches = {r["id"] for r in read_lines(RunPaths(run_dir).batches) if r["kind"] == "batch"}
    for r in acc:
        assert r["batch_id"] in batches
        u = r["usage"]
        assert r["cost_usd"] == pytest.approx(cost_usd(u["input_tokens"], u["output_tokens"], 1.0, 5.0) * 0.5, rel=1e-4)
    assert any(r["attempts"] > 1 for r in acc + rej), "no feedback retry went through a later batch"


def test_errored_expired_and_malformed_are_resubmitted(tmp_path, sim, sim_env):
    sim.script_batches([{"errored": 1, "expired": 1, "malformed": 1}, {"expire": True}])
    run_dir = one_worker_run(tmp_path, sim, "anthropic", max_retries=3)
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    assert_once_everywhere(sim, run_dir)
    ledger = read_lines(RunPaths(run_dir).batches)
    ingested = [r for r in ledger if r["kind"] == "ingested"]
    assert ingested[0]["malformed"] == 1 and ingested[0]["counts"]["errored"] == 1
    assert ingested[1]["counts"]["expired"] == len(next(r for r in ledger if r["kind"] == "batch"
                                                        and r["id"] == ingested[1]["id"])["custom_ids"])
    # The three failed requests of batch 1 went out again under new custom_ids (attempt numbers).
    first = next(r for r in ledger if r["kind"] == "batch")["custom_ids"]
    again = {c.rpartition("-")[0] for c in sim.submissions() if not c.endswith("-1")}
    assert {c.rpartition("-")[0] for c in first[:3]} <= again


def test_budget_counts_committed_cost(tmp_path, sim, sim_env):
    # Each request's upper bound is ~0.5 * 800 * 5 / 1e6 = $0.002: a $0.005 ceiling admits two.
    data = batch_config(sim, "openai", num=3)
    data["max_cost_usd"] = 0.005
    run_dir = make_run(tmp_path, data)
    write_layout(run_dir, backends=("openrouter",))
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    first = next(r for r in read_lines(RunPaths(run_dir).batches) if r["kind"] == "batch")
    assert len(first["custom_ids"]) == 2 and first["committed_usd"] <= 0.005
    spent = sum(r["cost_usd"] for r in read_lines(RunPaths(run_dir).dataset) + read_lines(RunPaths(run_dir).rejects))
    assert spent <= 0.005


KILLS = [("before_submit", "openrouter"), ("submitted", "anthropic"), ("submitted", "openai"),
         ("ingesting", "anthropic")]


@pytest.mark.parametrize("point,protocol", KILLS)
def test_kill_at_each_point_submits_nothing_twice(tmp_path, sim, sim_env, point, protocol):
    run_dir = one_worker_run(tmp_path, sim, protocol)
    env = {**sim_env, "WATCHER_BATCH_PAUSE": point}
    p = subprocess.Popen(worker_cmd(run_dir, 0), env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = run_dir / "workers" / f"0.pause-{point}"
    try:
        assert wait_for(marker.exists, 30), f"the worker never reached {point}"
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    [(code, out)] = run_workers(run_dir, env, n=1)
    assert code == 0, out
    assert_once_everywhere(sim, run_dir)


def test_kill_while_submit_call_is_out(tmp_path, make_sim, sim_env):
    """The provider made the batch but the worker died before the answer: the restart adopts it."""
    sim = make_sim(batch_hold_s=30)
    run_dir = one_worker_run(tmp_path, sim, "openrouter")
    p = subprocess.Popen(worker_cmd(run_dir, 0), env=sim_env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: sim.stats().get("batches_created", 0) >= 1, 30)
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    sim.cfg.batch_hold_s = 0
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    assert_once_everywhere(sim, run_dir)
    assert sim.stats()["batches_created"] >= 1


def test_kill_supervisor_and_worker_then_same_command(tmp_path, sim, sim_env):
    cfg = tmp_path / "batch.toml"
    import tomli_w

    data = batch_config(sim, "openai")
    data["runs_dir"] = str(tmp_path / "runs")
    cfg.write_text(tomli_w.dumps(data))
    cmd = headless_cmd(cfg, "r1", "--interval", "60")
    env = {**sim_env, "WATCHER_BATCH_PAUSE": "polling"}
    sup = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = tmp_path / "runs" / "r1"
    try:
        assert wait_for(lambda: (run_dir / "workers" / "0.pause-polling").exists(), 30)
        for pid in set(run_pids(run_dir)):
            os.kill(pid, signal.SIGKILL)
        sup.wait(10)
    finally:
        if sup.poll() is None:
            sup.kill()
    wait_for(lambda: not (run_dir / "workers" / "0.lock").exists() or _slot_free(run_dir), 5)
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "batch" in done.stdout
    assert_once_everywhere(sim, run_dir)


def _slot_free(run_dir) -> bool:
    import fcntl

    with open(run_dir / "workers" / "0.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True



def test_demo_batch_headless(tmp_path):
    """`watcher demo --batch`: Anthropic Message Batches and OpenRouter's inline batches, offline."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([*headless_cmd(tmp_path / "none.toml", "d1")[:3], "demo", "--headless", "--batch",
                        "--num", "2", "--runs-dir", str(tmp_path / "runs"), "--run", "d1"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "submitted to claude (anthropic)" in r.stdout and "submitted to openrouter (openrouter)" in r.stdout
    acc = read_lines(tmp_path / "runs" / "d1" / "dataset.jsonl")
    assert len(acc) == 10 and all(x["batch_id"] for x in acc)
    st = subprocess.run([*headless_cmd(tmp_path / "none.toml", "d1")[:3], "status", "--json", "--runs-dir",
                         str(tmp_path / "runs"), "--run", "d1"], env=env, capture_output=True, text=True, timeout=30)
    batches = json.loads(st.stdout)["batches"]
    assert batches["in_flight"] == 0 and batches["committed_usd"] == 0
    assert {b["api"] for b in batches["batches"]} == {"anthropic", "openrouter"}
    assert {x["batch_id"] for x in acc} <= {b["id"] for b in batches["batches"]}


def test_mixed_mode_retries_online_and_failing_requests_stay_pending(tmp_path, make_sim, sim_env):
    # Mixed mode: first attempts in a batch, errored requests and feedback retries as online calls.
    sim = make_sim()
    sim.script_batches([{"errored": 2}])
    run_dir = one_worker_run(tmp_path / "mixed", sim, "openai", batch_retries="online")
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    acc, rej = assert_once_everywhere(sim, run_dir)
    assert len(sim.batches.batches) == 1 and sim.stats()["ok"] >= 2  # the rest went online
    assert any(r["batch_id"] is None for r in acc + rej)
    # Every request errors: resubmitted max_retries times, then left pending, never rejected.
    bad = make_sim(batch_error_rate=1.0)
    run_dir = one_worker_run(tmp_path / "bad", bad, "anthropic", max_retries=1)
    [(code, out)] = run_workers(run_dir, sim_env, n=1)
    assert code == 0, out
    paths = RunPaths(run_dir)
    assert not read_lines(paths.dataset) and not read_lines(paths.rejects)
    assert len(bad.batches.batches) == 2 and set(bad.submissions().values()) == {1}
    from watcher.run.files import read_json

    assert read_json(paths.heartbeat(0))["pending"] == 4


def test_demo_batch_ceiling_names_the_budget_and_a_higher_one_finishes(tmp_path):
    """One backend's items all done, the other's first request over the ceiling: the run ends on the
    budget line (not "calls failed in transport"), and a higher ceiling finishes every item once."""
    base = [*headless_cmd(tmp_path / "none.toml", "c")[:3], "demo", "--headless", "--batch", "--num", "3",
            "--runs-dir", str(tmp_path / "runs"), "--run", "c"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    low = subprocess.run([*base, "--max-cost", "0.004"], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=90)
    last = low.stdout.strip().splitlines()[-1]
    assert low.returncode == 3 and last.startswith("watcher: budget reached:") and "batch request" in last, last
    done = subprocess.run([*base, "--max-cost", "1"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=90)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_each_item_once(tmp_path / "runs" / "c")
