"""Seed 001: the agentic job's planning, config, structure verifier, judge blending and simulator answers."""

from __future__ import annotations

import asyncio
import copy
import json
import random
from typing import Any

import pytest

from watcher.config import load_config, parse_config
from watcher.errors import ConfigError
from watcher.generate.jobs import make_job
from watcher.generate.jobs.agentic import AgenticJob, bullets
from watcher.providers.base import Completion, ProviderError, Request
from watcher.verify.agentic import CRITERIA, Limits, parse_judge, schema_errors, strip_fences, verify_example

TOOLS = {
    "read_file": {"type": "object", "required": ["path"],
                  "properties": {"path": {"type": "string"}, "start_line": {"type": "integer"}}},
    "run_tests": {"type": "object", "required": [], "properties": {"filter": {"type": "string"}}},
}


def call(cid: str, name: str, args: Any) -> dict[str, Any]:
    return {"id": cid, "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}


def good_messages() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a coding assistant."},
        {"role": "user", "content": "Why does the parser test fail?"},
        {"role": "assistant", "content": "Reading the parser and running its tests.",
         "tool_calls": [call("c1", "read_file", {"path": "src/parser.rs"}), call("c2", "run_tests", {"filter": "parser"})]},
        {"role": "tool", "tool_call_id": "c1", "content": "fn parse() {}"},
        {"role": "tool", "tool_call_id": "c2", "content": "1 failed"},
        {"role": "assistant", "content": "The parser returns early on empty input; here is the fix."},
    ]


def comp(text: str, finish: str = "stop") -> Completion:
    return Completion(text=text, reasoning=None, finish_reason=finish, finish_reason_raw=finish, input_tokens=10,
                      output_tokens=10, latency_s=0.0, cost_usd=0.0, model="m")


def rubric_map(res) -> dict[str, tuple[float, bool]]:
    return {r["criterion"]: (r["score"], r["passed"]) for r in res.rubric}


# -- verifier ----------------------------------------------------------------------------------
def test_good_example_passes_every_criterion_even_in_fences():
    text = "```json\n" + json.dumps({"messages": good_messages()}) + "\n```"
    res = verify_example(text, TOOLS, limits=Limits(min_tool_calls=1))
    assert [r["criterion"] for r in res.rubric] == list(CRITERIA)
    assert res.passed and res.score == 1.0 and res.tool_calls == 2
    assert res.response == "The parser returns early on empty input; here is the fix."
    assert res.messages[2]["tool_calls"][0]["function"]["arguments"] == '{"path": "src/parser.rs"}'
    assert set(res.rubric[0]) == {"criterion", "expected", "actual", "score", "passed", "explanation",
                                  "instruction", "weight"}


def test_dict_arguments_are_accepted_and_stored_as_json_strings():
    msgs = good_messages()
    msgs[2]["tool_calls"][0]["function"]["arguments"] = {"path": "a.rs"}
    res = verify_example(json.dumps(msgs), TOOLS)  # a bare list of messages is read too
    assert res.passed
    assert res.messages[2]["tool_calls"][0]["function"]["arguments"] == '{"path": "a.rs"}'


def test_unparseable_json_fails_everything():
    res = verify_example('{"messages": [', TOOLS)
    assert not res.passed and res.score == 0.0 and res.messages == []
    assert all(not r["passed"] for r in res.rubric) and len(res.rubric) == len(CRITERIA)
    assert "Answer with only one JSON object" in res.rubric[0]["instruction"]


@pytest.mark.parametrize("mutate,failing,scores", [
    # undeclared tool: 1 of 2 names bad; its args are then not schema-checked
    (lambda m: m[2]["tool_calls"][0]["function"].update(name="open_file"), {"tool_names"}, {"tool_names": 0.5}),
    # call without a result: the last tool message removed
    (lambda m: m.pop(4), {"tool_results"}, {"tool_results": 0.5}),
    # arguments that are not JSON
    (lambda m: m[2]["tool_calls"][0]["function"].update(arguments="{path: x"), {"tool_args"}, {"tool_args": 0.5}),
    # a required argument missing
    (lambda m: m[2]["tool_calls"][0]["function"].update(arguments="{}"), {"tool_schema"}, {"tool_schema": 0.5}),
    # wrong type
    (lambda m: m[2]["tool_calls"][0]["function"].update(arguments='{"path": 3}'), {"tool_schema"},
     {"tool_schema": 0.5}),
    # ends on a tool result: no final answer
    (lambda m: m.pop(5), {"roles", "final_answer"}, {"roles": 0.0, "final_answer": 0.0}),
    # result for an unknown call id: 2 answered of 2 calls + 1 orphan
    (lambda m: m.insert(5, {"role": "tool", "tool_call_id": "zz", "content": "?"}), {"tool_results"},
     {"tool_results": round(2 / 3, 4)}),
    # system message in the middle
    (lambda m: m.insert(3, {"role": "system", "content": "x"}), {"roles", "tool_results"}, {"roles": 0.0}),
])
def test_defects_fail_exactly_their_criteria(mutate, failing, scores):
    msgs = copy.deepcopy(good_messages())
    mutate(msgs)
    res = verify_example(json.dumps({"messages": msgs}), TOOLS)
    got = rubric_map(res)
    assert {c for c, (_, ok) in got.items() if not ok} == failing
    for c, s in scores.items():
        assert got[c][0] == s
    assert not res.passed
    assert res.score == round(sum(s for s, _ in got.values()) / len(CRITERIA), 4)
    assert all(r["instruction"] for r in res.rubric if not r["passed"])


def test_tool_use_and_length_limits():
    no_tools = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    res = verify_example(json.dumps({"messages": no_tools}), TOOLS, limits=Limits(min_tool_calls=1))
    assert rubric_map(res)["tool_use"] == (0.0, False) and not res.passed
    res = verify_example(json.dumps({"messages": no_tools}), TOOLS, limits=Limits(min_tool_calls=0))
    assert res.passed
    res = verify_example(json.dumps({"messages": no_tools}), TOOLS, limits=Limits(min_turns=3))
    assert rubric_map(res)["length"] == (0.0, False)
    res = verify_example(json.dumps({"messages": good_messages()}), TOOLS, limits=Limits(max_chars=50))
    assert rubric_map(res)["length"] == (0.0, False)


def test_allowed_subset_rejects_declared_but_unallowed_tools():
    res = verify_example(json.dumps({"messages": good_messages()}), TOOLS, allowed=["read_file"])
    assert rubric_map(res)["tool_names"] == (0.5, False)


def test_schema_validator_and_fences():
    schema = {"type": "object", "required": ["a"], "additionalProperties": False,
              "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "string"}},
                             "c": {"enum": ["x", "y"]}}}
    assert schema_errors({"a": 1, "b": ["s"], "c": "x"}, schema) == []
    assert schema_errors({"a": True}, schema) == ["a should be integer, got bool"]
    assert sorted(schema_errors({"b": [1], "d": 0, "c": "z"}, schema)) == sorted([
        "arguments lacks required 'a'", "b[0] should be string, got int", "arguments has unknown key 'd'",
        "c must be one of ['x', 'y']"])
    assert strip_fences('Here:\n```json\n{"a": 1}\n```\nthanks') == '{"a": 1}'


def test_parse_judge():
    assert parse_judge('{"score": 0.9, "reasons": "good"}') == (0.9, "good")
    assert parse_judge('```json\n{"score": 1.7}\n```') == (1.0, "")
    assert parse_judge('Score below. {"score": 0.25, "reasons": "thin"} done') == (0.25, "thin")
    assert parse_judge("no idea")[0] is None


# -- the job -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def job() -> AgenticJob:
    cfg, _ = load_config("configs/agentic.toml")
    j = make_job(cfg)
    assert isinstance(j, AgenticJob)
    return j


def test_config_matches_seed_001(job):
    assert job.targets() == {"tool_use": 700, "powertools": 175, "superpowers": 450, "agentic": 400,
                             "craftsmanship": 400, "collaboration": 200, "problem_solving": 200}
    assert sum(job.targets().values()) == 2525
    for t in ("index", "definition", "references", "functions", "classes", "stats"):
        assert t in job.categories["powertools"].tools
    assert "grep" not in job.categories["powertools"].tools  # seed 001: never grep, use semantic tools
    assert job.acfg.judge is not None and job.acfg.judge.backend == "claude"
    cfg = job.cfg
    assert cfg.backends["claude"].kind == "anthropic" and cfg.backends["openrouter"].kind == "openai"


def test_items_stable_and_counted(job):
    items = job.items()
    assert len(items) == 2525 and len({it.id for it in items}) == 2525
    again = make_job(job.cfg).items()
    assert [(it.id, it.key, it.prompt) for it in items] == [(it.id, it.key, it.prompt) for it in again]
    tu = [it for it in items if it.group == "tool_use"]
    topics = bullets(job.categories["tool_use"].instructions)
    assert [it.meta["topic"] for it in tu[:len(topics)]] == topics  # round-robin over the bullets
    assert all(it.job == "agentic" and it.meta["language"] in ("Rust", "TypeScript", "Python", "Go") for it in items)


def test_request_carries_tools_sim_meta_and_feedback(job):
    it = next(i for i in job.items() if i.group == "powertools")
    req = job.request(it, 4096, 0.7, True, [])
    assert "watcher-job" not in req.system and "<think>" in req.system
    assert req.tools is None and req.max_tokens == 4096 and req.messages == [{"role": "user", "content": it.prompt}]
    names = job.categories["powertools"].tools
    assert all(f'"name": "{n}"' in req.system for n in names)  # the model is shown the schemas
    meta = req.sim_meta
    assert meta is not None and [t["name"] for t in meta["tools"]] == names
    assert (meta["job"], meta["kind"], meta["group"], meta["item"], meta["think"]) == \
        ("agentic", "generate", "powertools", it.id, True)
    assert (meta["topic"], meta["language"], meta["domain"]) == \
        (it.meta["topic"], it.meta["language"], it.meta["domain"])
    ev = job.evaluate(it, comp("not json"), "not json")
    assert not ev.passed and ev.feedback
    req2 = job.request(it, 4096, 0.7, False, [("", None), ("not json", ev)])
    assert [m["role"] for m in req2.messages] == ["user", "assistant", "user"] and req2.sim_meta["kind"] == "retry"
    assert "scored 0.00" in req2.messages[2]["content"] and ev.feedback[0] in req2.messages[2]["content"]
    req3 = job.request(it, 4096, 0.7, False, [("", None)])
    assert len(req3.messages) == 1 and "cut off" in req3.messages[0]["content"]


def test_evaluate_fields(job):
    it = next(i for i in job.items() if i.group == "tool_use")
    msgs = good_messages()
    for m in msgs:
        for c in m.get("tool_calls") or []:
            c["function"]["name"] = "read_file"
            c["function"]["arguments"] = '{"path": "x.rs"}'
    ev = job.evaluate(it, comp(""), json.dumps({"messages": msgs}))
    assert ev.passed and ev.score == 1.0 and ev.detail == "ok"
    assert set(ev.fields) == {"category", "messages", "response"} and ev.fields["category"] == "tool_use"
    assert ev.fields["response"] == msgs[-1]["content"] and len(ev.fields["messages"]) == len(msgs)


def test_judge_hook_blends_and_counts_failures(job):
    it = next(i for i in job.items() if i.group == "collaboration")
    msgs = [{"role": "user", "content": "Add a flag?"}, {"role": "assistant", "content": "Which default?"}]
    ev = job.evaluate(it, comp(""), json.dumps({"messages": msgs}))
    assert ev.passed
    seen: list[Request] = []

    def caller(reply: str | Exception):
        async def _call(req: Request) -> Completion:
            seen.append(req)
            if isinstance(reply, Exception):
                raise reply
            return comp(reply)
        return _call

    good, jc = asyncio.run(job.judge(it, ev, caller('{"score": 0.9, "reasons": "fine"}')))
    assert jc is not None and "watcher-job" not in seen[-1].system
    assert seen[-1].sim_meta == {"job": "agentic", "kind": "judge", "group": "collaboration", "item": it.id}
    assert good.passed and good.score == round(0.7 * 1.0 + 0.3 * 0.9, 4)
    assert good.rubric[-1]["criterion"] == "judge" and good.rubric[-1]["passed"]
    w = sum(r["weight"] for r in good.rubric)
    assert abs(sum(r["weight"] * r["score"] for r in good.rubric) / w - good.score) < 1e-4
    bad, _ = asyncio.run(job.judge(it, ev, caller('{"score": 0.1, "reasons": "unrealistic"}')))
    assert not bad.passed and bad.score == 0.73 and "judge" in bad.detail
    err, jc = asyncio.run(job.judge(it, ev, caller(ProviderError("boom", kind="server_error", status=500))))
    assert jc is None and not err.passed and "judge call failed" in err.rubric[-1]["explanation"]
    n = len(seen)
    failed = job.evaluate(it, comp(""), "nope")
    same, jc = asyncio.run(job.judge(it, failed, caller('{"score": 1}')))
    assert same is failed and jc is None and len(seen) == n  # no judge call for broken structure


def test_config_errors_name_the_field(job):
    data = job.cfg.model_dump(mode="json", exclude_none=True)
    bad = copy.deepcopy(data)
    bad["agentic"]["categories"][0]["tools"].append("teleport")
    with pytest.raises(ConfigError, match="teleport"):
        AgenticJob(parse_config(bad))
    bad = copy.deepcopy(data)
    bad["agentic"]["judge"]["backend"] = "nosuch"
    with pytest.raises(ConfigError, match="agentic.judge.backend"):
        AgenticJob(parse_config(bad))


# -- simulator answers -------------------------------------------------------------------------
def test_simulated_answers_pass_unless_defective(job):
    from watcher.simulator.agentic import respond_agentic, respond_agentic_judge
    from watcher.simulator.config import SimConfig
    from watcher.simulator.reply import SimRequest

    rng = random.Random(11)
    sc = SimConfig(defect_rate=0.4)
    items = job.items()
    seen = {True: 0, False: 0}
    for it in rng.sample(items, 300):
        req = job.request(it, 8192, 1.0, False, [])
        reply = respond_agentic(SimRequest(req.sim_meta, req.system, req.messages), rng, sc)
        ev = job.evaluate(it, comp(reply.text), reply.text)
        assert ev.passed == (not reply.defective), (it.group, ev.detail, reply.text[:500])
        seen[reply.defective] += 1
    assert seen[True] > 50 and seen[False] > 100
    j = respond_agentic_judge(SimRequest({"job": "agentic", "kind": "judge"}), rng, sc)
    assert parse_judge(j.text)[0] is not None


def test_dispatch_follows_sim_meta_only():
    from watcher.simulator.dispatch import RESPONDERS, responder_key

    assert responder_key({"job": "agentic", "kind": "judge"}) == "agentic:judge"
    assert responder_key({"job": "agentic", "kind": "retry"}) == "agentic"
    assert responder_key({}) == "prose"
    assert {"poetry", "agentic", "agentic:judge", "aba", "prose"} <= set(RESPONDERS)
