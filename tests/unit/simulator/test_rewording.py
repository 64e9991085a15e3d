"""Rewording a job's prompts in its config does not change what the simulator answers: it answers from
the request's sim metadata (job, kind, group, scenario, tools), never from the prompt's words."""

from __future__ import annotations

import asyncio
import json
import random
import re

from helpers import SIM_KEY

from watcher.config import PACKAGED_CONFIGS, BackendConfig, RunConfig, load_config, parse_config
from watcher.generate.jobs import make_job
from watcher.providers.client import make_client

BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _reworded(cfg: RunConfig) -> RunConfig:
    data = cfg.model_dump(mode="json", exclude_none=True)
    if data.get("aba"):
        for v in data["aba"]["variants"]:
            # The treatment keeps its {token_budget} placeholder (that is what makes it the treatment).
            budget = " Hard limit: {token_budget} tokens, end cleanly." if "{token_budget}" in v["system_prompt"] \
                else ""
            v["system_prompt"] = "Reply to the question as an expert would." + budget
    if data.get("agentic"):
        for c in data["agentic"]["categories"]:
            # Bullets are the items' sub-topics (the plan); only the prose around them is reworded.
            keep = [ln for ln in c["instructions"].splitlines() if BULLET.match(ln)]
            c["instructions"] = "\n".join(["Reworded guidance for this kind of example.", *keep])
        for t in data["agentic"]["tools"]:
            t["description"] = f"Reworded description of {t['name']}."
    return parse_config(data, "reworded")


def _answers(cfg: RunConfig, sim_url: str, n: int) -> list[tuple[str, str, str]]:
    """(system prompt, group, answer text) of the first n items' first attempt, called one at a time."""
    job = make_job(cfg)
    backend = BackendConfig(kind="openai", model="sim-model", base_url=sim_url, simulated=True, timeout_s=5,
                            max_tokens=8192)
    items = random.Random(3).sample(job.items(), n)

    async def go() -> list[tuple[str, str, str]]:
        client = make_client("sim", backend, SIM_KEY)
        out = []
        for it in items:
            req = job.request(it, backend.max_tokens, 1.0, False, [])
            comp = await client.call(req)
            out.append((req.system or "", it.group, comp.text))
            if hasattr(job, "judge_request"):
                ev = job.evaluate(it, comp, comp.text)
                out.append(("judge", it.group, (await client.call(job.judge_request(it, ev))).text))
        await client.aclose()
        return out

    return asyncio.run(go())


def _check(config: str, make_sim, n: int) -> list[tuple[str, str, str]]:
    cfg = load_config(PACKAGED_CONFIGS / config)[0]
    sim_a = make_sim(latency_s=0.0, defect_rate=0.5, seed=11)
    sim_b = make_sim(latency_s=0.0, defect_rate=0.5, seed=11)
    original = _answers(cfg, sim_a.base_url_openai, n)
    reworded = _answers(_reworded(cfg), sim_b.base_url_openai, n)
    assert all(a[0] != b[0] for a, b in zip(original, reworded, strict=True) if a[0] != "judge")  # prompts differ
    assert [a[1:] for a in original] == [b[1:] for b in reworded]  # answers do not
    for system, _group, _text in original:
        assert "watcher-job" not in system
    return original


def test_aba_rewording_keeps_the_simulated_answers(make_sim):
    answers = _check("aba.toml", make_sim, 16)
    assert {g for _, g, _ in answers} == {"control", "treatment"}
    assert all(len(t) > 500 for _, _, t in answers)  # long aba answers, not the short prose fallback


def test_agentic_rewording_keeps_the_simulated_answers(make_sim):
    answers = _check("agentic.toml", make_sim, 12)
    job = make_job(load_config(PACKAGED_CONFIGS / "agentic.toml")[0])
    for system, group, text in answers:
        if system == "judge":
            assert set(json.loads(text)) == {"score", "reasons"}
            continue
        body = json.loads(text.removeprefix("```json").removesuffix("```"))
        allowed = set(job.categories[group].tools)
        called = {c["function"]["name"] for m in body["messages"] for c in m.get("tool_calls") or []}
        # The right group: calls use that category's tools (a defect may name one undeclared tool).
        assert len(called - allowed) <= 1, (group, called - allowed)
