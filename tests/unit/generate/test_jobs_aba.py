"""Seed 002: prompts × variants, the request's exact conditions, the three checks and token stats."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.generate.jobs import make_job
from watcher.generate.jobs.aba import AbaJob, read_prompts, token_stats, verify_aba
from watcher.providers.base import Completion


def comp(text: str, finish: str = "stop", out: int = 100, inp: int = 40, raw: str = "") -> Completion:
    return Completion(text=text, reasoning=None, finish_reason=finish, finish_reason_raw=raw or finish,
                      input_tokens=inp, output_tokens=out, latency_s=0.0, cost_usd=0.0, model="m")


@pytest.fixture(scope="module")
def job() -> AbaJob:
    cfg, _ = load_config("configs/aba.toml")
    j = make_job(cfg)
    assert isinstance(j, AbaJob)
    return j


def test_config_matches_seed_002(job):
    cfg = job.cfg
    assert cfg.job == "aba" and cfg.aba.max_output_tokens == 4096 and cfg.aba.token_budget == 2000
    assert [v.name for v in cfg.aba.variants] == ["control", "treatment"]
    assert "2000 tokens" in job.system_prompt("treatment") and "budget" not in job.system_prompt("control").lower()
    g = cfg.backends["gemini"]
    assert g.kind == "openai" and g.model == "gemini-3-pro-preview" and g.api_key_env == "GEMINI_API_KEY"
    assert g.base_url == "https://generativelanguage.googleapis.com/v1beta/openai/" and g.max_tokens == 4096


def test_items_are_prompts_times_variants(job):
    items = job.items()
    n = len(job.prompts)
    assert 15 <= n <= 30 and len(items) == 2 * n and len({it.id for it in items}) == 2 * n
    assert job.targets() == {"control": n, "treatment": n}
    assert [it.group for it in items[:4]] == ["control", "treatment", "control", "treatment"]
    assert items[0].key == items[1].key == job.prompts[0][0] and items[0].prompt == job.prompts[0][1]
    assert items[1].system == job.system_prompt("treatment")
    assert [it.id for it in make_job(job.cfg).items()] == [it.id for it in items]


def test_request_is_the_bare_experiment(job):
    it = job.items()[1]
    for history in ([], [("some earlier text", None)]):
        req = job.request(replace(it, backend="gemini"), 512, 0.7, True, history)
        assert req.system == job.system_prompt("treatment")  # exactly the variant's prompt, no <think> request
        assert req.messages == [{"role": "user", "content": it.prompt}]
        assert req.max_tokens == 4096 and req.temperature == 0.7
    # What the simulator is told travels beside the prompt (a header simulated backends alone get).
    assert req.sim_meta == {"job": "aba", "kind": "generate", "group": "treatment", "item": it.id,
                            "budget_stated": True, "token_budget": 2000}
    assert job.request(job.items()[0], 512, 0.7, False, []).sim_meta["budget_stated"] is False


def test_verify_checks_exact_rubric():
    ok = verify_aba("An answer.", comp("An answer.", out=1999), 2000)
    assert [(r["criterion"], r["score"], r["passed"]) for r in ok] == [
        ("non_empty", 1.0, True), ("finish_stop", 1.0, True), ("token_budget", 1.0, True)]
    assert ok[2]["actual"] == "1999 output tokens; input 40, total 2039"
    over = verify_aba("x", comp("x", out=2001), 2000)
    assert [r["passed"] for r in over] == [True, True, False] and over[2]["explanation"] == "1 tokens over the budget"
    cut = verify_aba("half", comp("half", finish="length", raw="MAX_TOKENS", out=4096), 2000)
    assert [r["passed"] for r in cut] == [True, False, False] and cut[1]["actual"] == "length (MAX_TOKENS)"
    empty = verify_aba("  ", comp("", out=0), 2000)
    assert [r["passed"] for r in empty] == [False, True, True]
    assert all(r["instruction"] for r in cut + empty + over if not r["passed"])


def test_evaluate_score_is_share_passed(job):
    it = job.items()[0]
    ev = job.evaluate(it, comp("Fine.", out=10), "Fine.")
    assert ev.passed and ev.score == 1.0 and ev.fields == {"variant": "control", "response": "Fine."}
    ev = job.evaluate(it, comp("Long.", out=2500), "Long.")
    assert not ev.passed and ev.score == round(2 / 3, 4) and ev.detail.startswith("token_budget")
    ev = job.evaluate(it, comp("Cut", finish="length", out=4096), "Cut")
    assert not ev.passed and ev.score == round(1 / 3, 4)


def test_token_stats_count_each_once():
    assert token_stats(comp("abc", out=300, inp=120), "abc") == {"input": 120, "output": 300, "total": 420,
                                                                 "estimated": False}
    # No reported output count: estimated from the text, and marked as such.
    st = token_stats(comp("x" * 400, out=0, inp=5), "x" * 400)
    assert st == {"input": 5, "output": 100, "total": 105, "estimated": True}


def test_prompt_file_errors(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text('{"id": "a", "prompt": "one"}\n\n{"id": "a", "prompt": "two"}\n')
    with pytest.raises(ConfigError, match="duplicate id 'a'"):
        read_prompts(p)
    p.write_text('{"id": "a", "prompt": "one"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"p.jsonl:2: not JSON"):
        read_prompts(p)
    p.write_text('{"prompt": "one"}\n{"prompt": "two"}\n')
    assert read_prompts(p) == [("line1", "one"), ("line2", "two")]


def test_simulated_answers_pass_unless_defective(job):
    from watcher.simulator.aba import respond_aba
    from watcher.simulator.config import SimConfig
    from watcher.simulator.reply import SimRequest

    sim_job = job
    sc = SimConfig(defect_rate=0.5)
    rng = random.Random(5)
    seen = {True: 0, False: 0}
    for it in sim_job.items() * 5:
        req = sim_job.request(replace(it, backend="gemini"), 0, 1.0, False, [])
        reply = respond_aba(SimRequest(req.sim_meta, req.system, req.messages), rng, sc)
        out = -(-len(reply.text) // int(sc.chars_per_token))  # the simulator's own token count
        ev = sim_job.evaluate(it, comp(reply.text, out=out), reply.text)
        assert ev.passed == (not reply.defective)
        seen[reply.defective] += 1
    assert seen[True] > 10 and seen[False] > 50
