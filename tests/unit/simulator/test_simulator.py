"""The simulated provider: protocol shapes, keys, rpm, faults, and what it answers."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from watcher.cli.main import main
from watcher.providers.base import SIM_META_HEADER
from watcher.providers.quota_headers import parse_duration, parse_rfc3339
from watcher.simulator import dispatch
from watcher.simulator import poetry as sp
from watcher.simulator.config import SimConfig, parse_fault_args
from watcher.simulator.reply import SimReply, SimRequest
from watcher.simulator.server import SimServer

KEY = "sim-key"
OA_BODY = {"model": "sim-model", "max_tokens": 300,
           "messages": [{"role": "user", "content": "Write a Haiku about rain in a calm tone"}]}
HTTP = httpx.Client(timeout=5)  # one pooled client: building one per request costs ~40 ms


def post_openai(sim, body=None, key=KEY, headers=None) -> httpx.Response:
    return HTTP.post(f"{sim.base_url_openai}/chat/completions", json=body or OA_BODY,
                     headers={"Authorization": f"Bearer {key}", **(headers or {})})


def post_anthropic(sim, body=None, key=KEY, headers=None) -> httpx.Response:
    return HTTP.post(f"{sim.url}/v1/messages", json=body or OA_BODY,
                     headers={"x-api-key": key, "anthropic-version": "2023-06-01", **(headers or {})})


def test_sdks_reach_both_protocols(sim):
    oa = openai.OpenAI(api_key=KEY, base_url=sim.base_url_openai, max_retries=0)
    r = oa.chat.completions.create(model="sim-model", max_tokens=300,
                                   messages=[{"role": "user", "content": "Write a Haiku about rain in a calm tone"}])
    assert r.object == "chat.completion" and r.choices[0].message.content
    assert r.usage is not None and r.usage.completion_tokens > 0
    assert [m.id for m in oa.models.list()][:1] == ["sim-model"]
    an = anthropic.Anthropic(api_key=KEY, base_url=sim.base_url_anthropic, max_retries=0)
    m = an.messages.create(model="claude-haiku-4-5", max_tokens=2000,
                           thinking={"type": "enabled", "budget_tokens": 1024},
                           messages=[{"role": "user", "content": "Write a Haiku about rain in a calm tone"}])
    assert m.type == "message" and m.role == "assistant" and m.stop_reason == "end_turn"
    assert [b.type for b in m.content] == ["thinking", "text"]
    assert m.content[0].thinking and m.content[0].signature
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0
    assert sim.base_url_openai == f"http://127.0.0.1:{sim.port}/v1"
    assert sim.base_url_anthropic == f"http://127.0.0.1:{sim.port}"


def test_wrong_key_gets_protocol_401(sim):
    r = post_openai(sim, key="nope")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = post_anthropic(sim, key="nope")
    assert r.status_code == 401
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "authentication_error"
    assert HTTP.get(f"{sim.base_url_openai}/models").status_code == 401
    assert sim.stats()["401"] == 3


def test_openai_reasoning_content_and_think_tag(sim):
    r = post_openai(sim, {**OA_BODY, "model": "sim-reasoner"}).json()
    assert r["choices"][0]["message"]["reasoning_content"]
    r = post_openai(sim, {**OA_BODY, "reasoning_effort": "low"}).json()
    assert r["choices"][0]["message"]["reasoning_content"]
    # Whether a <think> section was asked for comes from the sim metadata, not the prompt's words.
    think = {SIM_META_HEADER: json.dumps({"job": "poetry", "group": "Haiku", "think": True})}
    msg = post_openai(sim, headers=think).json()["choices"][0]["message"]
    assert msg["content"].startswith("<think>") and "reasoning_content" not in msg
    body = {**OA_BODY, "messages": [{"role": "system", "content": "Plan inside <think>...</think> first."},
                                    *OA_BODY["messages"]]}
    msg = post_openai(sim, body).json()["choices"][0]["message"]
    assert "<think>" not in msg["content"] and "reasoning_content" not in msg


def test_answer_follows_the_sim_header_not_the_prompt(sim):
    poem = {SIM_META_HEADER: json.dumps({"job": "poetry", "kind": "generate", "group": "Haiku",
                                         "topic": "rain", "tone": "calm"})}
    asks_prose = {**OA_BODY, "messages": [{"role": "user", "content": "Explain why the sky is blue"}]}
    text = post_openai(sim, asks_prose, headers=poem).json()["choices"][0]["message"]["content"]
    assert len(text.splitlines()) == 3 and "sky" not in text  # a haiku, whatever the wording
    text = post_anthropic(sim, headers=poem).json()["content"][0]["text"]
    assert len(text.splitlines()) == 3
    text = post_openai(sim).json()["choices"][0]["message"]["content"]  # no header: prose
    assert "Write a Haiku about rain" in text
    assert post_openai(sim, headers={SIM_META_HEADER: "not json"}).status_code == 200


def test_rpm_enforced_with_429_and_retry_after(make_sim):
    sim = make_sim(rpm=3, latency_s=0.0)
    codes = [post_openai(sim).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = post_openai(sim)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert float(r.headers["retry-after"]) >= 1
    r = post_anthropic(sim)
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    s = sim.stats()
    assert s["429"] == 2 and s["rpm_429"] == 2 and s["requests"] == 5 and s["ok"] == 3


def test_window_sends_quota_headers_in_each_dialect(make_sim):
    sim = make_sim(window_rpm=2, window_s=30.0, latency_s=0.0)
    r = post_openai(sim)
    assert r.status_code == 200 and r.headers["x-ratelimit-limit-requests"] == "2"
    assert r.headers["x-ratelimit-remaining-requests"] == "1"
    assert 29.0 < parse_duration(r.headers["x-ratelimit-reset-requests"]) <= 30.001
    r = post_anthropic(sim)
    assert r.status_code == 200 and r.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert 29.0 < parse_rfc3339(r.headers["anthropic-ratelimit-requests-reset"]) - time.time() <= 30.01  # rounded up to the ms
    r = post_openai(sim)  # a 429 says the same, plus Retry-After: when the oldest leaves
    assert r.status_code == 429 and r.headers["x-ratelimit-remaining-requests"] == "0"
    assert float(r.headers["retry-after-ms"]) / 1000 < parse_duration(r.headers["x-ratelimit-reset-requests"])
    # Without a window (like mlx_lm.server or vLLM) there are none.
    assert not any("ratelimit" in h for h in post_openai(make_sim()).headers)


def test_scripted_faults_in_order_and_header(sim):
    sim.script_faults(["500", "529", "429", None, "empty", "truncate"])
    assert post_openai(sim).status_code == 500
    r = post_anthropic(sim)
    assert r.status_code == 529 and r.json()["error"]["type"] == "overloaded_error"
    r = post_openai(sim)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert post_openai(sim).status_code == 200
    r = post_anthropic(sim).json()
    assert r["content"] == [] and r["stop_reason"] == "end_turn"
    r = post_openai(sim).json()
    assert r["choices"][0]["finish_reason"] == "length"
    # the header forces a fault on every request carrying it
    for _ in range(2):
        assert post_openai(sim, headers={"x-sim-fault": "500"}).status_code == 500
    s = sim.stats()
    assert s["fault_500"] == 3 and s["fault_529"] == 1 and s["429"] == 1 and s["faults"] == 6
    with pytest.raises(ValueError):
        sim.script_faults(["teapot"])


def test_drop_closes_without_response(sim):
    sim.script_faults(["drop"])
    with pytest.raises(httpx.RemoteProtocolError):
        post_openai(sim)
    assert post_openai(sim).status_code == 200  # the server keeps serving


def test_slow_fault_and_stop_does_not_hang():
    sim = SimServer(SimConfig(latency_s=0.0, slow_s=30.0)).start()
    sim.script_faults(["slow"])
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{sim.base_url_openai}/chat/completions", json=OA_BODY,
                   headers={"Authorization": f"Bearer {KEY}"}, timeout=0.3)
    t0 = time.monotonic()
    sim.stop()
    assert time.monotonic() - t0 < 2


def test_random_fault_rates_are_drawn(make_sim):
    sim = make_sim(error_500=0.5, latency_s=0.0, seed=3)
    codes = [post_openai(sim).status_code for _ in range(40)]
    assert 8 <= codes.count(500) <= 32 and codes.count(200) == 40 - codes.count(500)


def test_context_manager_and_threads():
    with SimServer(SimConfig(latency_s=0.05)) as sim:
        results: list[int] = []

        def go() -> None:
            results.append(post_openai(sim).status_code)

        threads = [threading.Thread(target=go) for _ in range(16)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [200] * 16
        assert time.monotonic() - t0 < 1.5  # answered concurrently, not one after another
    assert sim.stats()["requests"] == 16


def test_parse_fault_args_and_cli_errors(capsys):
    assert parse_fault_args(["500=0.05", "drop=0.02", "slow=0"]) == {"error_500": 0.05, "drop": 0.02, "slow": 0.0}
    for bad in (["teapot=0.1"], ["500"], ["500=x"], ["500=2"]):
        with pytest.raises(ValueError):
            parse_fault_args(bad)
    assert main(["sim", "--port", "0", "--fault", "bogus=1"]) == 2
    assert "bogus" in capsys.readouterr().err


# -- responses -------------------------------------------------------------------------------------------
@pytest.fixture
def corpus(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "poems"
    sonnet = "\n".join(f"line {i} of the sonnet ends with word{i}" for i in range(14))
    (root / "shakespearean_sonnet").mkdir(parents=True)
    (root / "shakespearean_sonnet" / "a.txt").write_text(sonnet + "\n")
    (root / "terza_rima").mkdir()
    (root / "terza_rima" / "a.txt").write_text("a one\nb two\na three\n\nb four\nc five\nb six\n\nc seven\nc eight\n")
    (root / "sonnet").mkdir()
    (root / "sonnet" / "a.txt").write_text(sonnet + "\n")
    (root / "haiku").mkdir()
    (root / "haiku" / "a.txt").write_text("# a comment line\nfirst line here\nsecond line here\nthird line here\n")
    monkeypatch.setattr(sp, "POEMS_DIR", root)
    return root


def _poem(form: str, kind: str = "generate", topic: str = "rain", tone: str = "calm") -> SimRequest:
    return SimRequest({"job": "poetry", "kind": kind, "group": form, "topic": topic, "tone": tone},
                      messages=[{"role": "user", "content": "whatever the prompt says"}])


def test_find_form_multiword_case_insensitive(corpus):
    assert sp.find_form("Shakespearean Sonnet") == "shakespearean_sonnet"
    assert sp.find_form("terza rima") == "terza_rima"
    assert sp.find_form("Sonnet") == "sonnet"
    assert sp.find_form("Haikus") == "haiku"
    assert sp.find_form("Capital of France") is None and sp.find_form(None) is None


def test_poems_follow_the_topic_or_come_from_corpus_and_defects(corpus):
    from watcher.verify.forms import verify

    cfg = SimConfig(defect_rate=0.0)
    r = dispatch.respond(_poem("Haiku", topic="a fox in the city"), random.Random(1), cfg)
    assert "a fox in the city" in r.text.lower() and not r.defective  # a form the simulator composes
    assert verify(r.text, "Haiku").score == 1.0
    assert "Haiku" in r.reasoning and "fox" in r.reasoning
    r = dispatch.respond(_poem("Terza rima"), random.Random(1), cfg)  # one it does not: the corpus
    assert r.text == (corpus / "terza_rima" / "a.txt").read_text().strip()
    cfg = SimConfig(defect_rate=1.0)
    for seed in range(10):
        r = dispatch.respond(_poem("Terza rima", topic="rivers"), random.Random(seed), cfg)
        assert r.defective and r.text != (corpus / "terza_rima" / "a.txt").read_text().strip()


def test_retry_with_feedback_is_defective_less_often(corpus):
    cfg = SimConfig(defect_rate=0.9)
    rng = random.Random(5)
    d1 = sum(dispatch.respond(_poem("Sonnet"), rng, cfg).defective for _ in range(300))
    d2 = sum(dispatch.respond(_poem("Sonnet", "retry"), rng, cfg).defective for _ in range(300))
    assert d1 > 230 and d2 < 130


def test_unknown_request_gets_prose_and_table_entries_answer(corpus, monkeypatch):
    ask = [{"role": "user", "content": "Explain why the sky is blue"}]
    for meta in ({}, {"job": "nosuch"}):
        r = dispatch.respond(SimRequest(meta, messages=ask), random.Random(0), SimConfig())
        assert "sky is blue" in r.text and not r.defective
    monkeypatch.setitem(dispatch.RESPONDERS, "testlong", lambda req, rng, cfg: SimReply("long answer", "r"))
    r = dispatch.respond(SimRequest({"job": "testlong"}, messages=ask), random.Random(0), SimConfig())
    assert r.text == "long answer"


def test_make_defective_changes_poem():
    poem = "one two red\nthree four blue\n\nfive six green\nseven eight gold"
    for seed in range(20):
        assert sp.make_defective(poem, random.Random(seed)) != poem


def test_recombined_poems_vary_and_keep_their_form():
    """The demo's poems are not a handful of repeats, and every recombination passes its form."""
    import random

    from watcher.simulator.poetry import RECOMBINE_SLOTS, corpus, recombine
    from watcher.verify.forms import verify

    c = corpus()
    for slug in RECOMBINE_SLOTS:
        rng = random.Random(3)
        made = [p for p in (recombine(slug, c[slug], rng) for _ in range(60)) if p]
        assert len(made) >= 50, slug
        assert len(set(made)) >= 10, slug
        assert all(verify(p, slug.replace("_", " ")).passed for p in made), slug
