"""The poetry judge end to end on the simulator: topic-and-tone grades blended into accepted records
with their reasons, replies cached in the run dir; without a judge, the lexical check is reported."""

from __future__ import annotations

import asyncio

import pytest
from helpers import make_run, read_lines, run_workers, sim_config_dict, write_layout

from watcher.config import load_config
from watcher.generate.jobs import make_job
from watcher.generate.judge_cache import JudgeCache
from watcher.providers.client import make_client
from watcher.run.paths import RunPaths


@pytest.mark.slow
def test_judge_through_simulator_blends_reasons_and_caches(tmp_path, sim, sim_env):
    data = sim_config_dict(sim, forms=["Haiku", "Limerick"], num=3)
    data["poetry"]["judge"] = {"backend": "claude", "weight": 0.3}
    run_dir = make_run(tmp_path, data)
    write_layout(run_dir)
    for code, out in run_workers(run_dir, sim_env):
        assert code == 0, out
    paths = RunPaths(run_dir)
    acc = read_lines(paths.dataset)
    assert acc, "nothing accepted"
    for r in acc:
        judge = r["rubric"][-1]
        assert judge["criterion"] == "topic_tone" and judge["weight"] == 0.3
        assert judge["explanation"] and ("stays with" in judge["explanation"] or "drifts" in judge["explanation"])
        assert not any(x["criterion"] == "topic_words" for x in r["rubric"])  # the judge replaces it
    cache = read_lines(paths.judge_cache)
    assert len(cache) >= len(acc) and len({c["key"] for c in cache}) == len(cache)

    # A resumed run judging an attempt it already judged asks the simulator nothing.
    cfg, _ = load_config(paths.config)
    job = make_job(cfg)
    item = next(it for it in job.items() if it.id == acc[0]["id"])
    ev = job.evaluate(item, None, acc[0]["poem"])
    jb = cfg.backends["claude"]
    before = sim.requests
    jc = JudgeCache(paths.judge_cache)
    again, comp = asyncio.run(job.judge(item, ev, jc.wrap(make_client("claude", jb, "sim-key").call)))
    jc.close()
    assert sim.requests == before and jc.hits == 1 and comp is not None and comp.cost_usd == 0
    assert again.rubric[-1]["criterion"] == "topic_tone"


@pytest.mark.slow
def test_without_judge_the_lexical_check_is_reported_with_weight_zero(tmp_path, sim, sim_env):
    run_dir = make_run(tmp_path, sim_config_dict(sim, forms=["Haiku"], num=3))
    write_layout(run_dir, backends=("claude",))
    for code, out in run_workers(run_dir, sim_env, n=1):
        assert code == 0, out
    acc = read_lines(RunPaths(run_dir).dataset)
    assert acc
    for r in acc:
        lex = [x for x in r["rubric"] if x["criterion"] == "topic_words"]
        assert len(lex) == 1 and lex[0]["weight"] == 0.0
        assert r["passed"]  # the simulator's corpus poems are rarely on topic: the check never rejects
    assert not RunPaths(run_dir).judge_cache.exists()
