"""Every misbehaviour a real server has, classified through the real SDKs against the simulator."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from watcher.config import BackendConfig
from watcher.providers.base import ProviderError, Request
from watcher.providers.breaker import DOWN, OPEN, BackendDown, Breaker, CallStopped
from watcher.providers.client import make_client
from watcher.providers.failures import body_text, error_from_status, safe_url
from watcher.providers.http import anthropic_base_url, backend_warnings
from watcher.run.records import (
    FAIL_AUTH,
    FAIL_BAD_REQUEST,
    FAIL_BAD_RESPONSE,
    FAIL_CONNECTION,
    FAIL_NOT_FOUND,
    FAIL_SERVER,
    FAIL_TIMEOUT,
)

KEY = "sim-key"
KINDS = ("anthropic", "openai")
META = {"job": "poetry", "kind": "generate", "group": "Haiku", "topic": "rain", "tone": "calm"}


def req() -> Request:
    return Request(system=None, messages=[{"role": "user", "content": "Write a Haiku about rain"}],
                   max_tokens=400, temperature=0.7, sim_meta=META)


def cfg_for(url: str, kind: str, **kw) -> BackendConfig:
    opts = {"timeout_s": 3.0, "connect_timeout_s": 1.0, "max_retries": 0, "concurrency": 2, "simulated": True, **kw}
    return BackendConfig(kind=kind, model="sim-model", base_url=url, **opts)


def url_of(sim, kind: str) -> str:
    return sim.base_url_anthropic if kind == "anthropic" else sim.base_url_openai


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault,want", [
    ("html", FAIL_BAD_RESPONSE), ("cut_json", FAIL_BAD_RESPONSE), ("empty_json", FAIL_BAD_RESPONSE),
    ("404", FAIL_NOT_FOUND), ("401", FAIL_AUTH), ("hang", FAIL_TIMEOUT), ("drip", FAIL_TIMEOUT),
    ("500", FAIL_SERVER), ("drop", FAIL_CONNECTION),
])
async def test_each_misbehaviour_has_its_class_and_a_one_line_message_with_the_url(make_sim, kind, fault, want):
    sim = make_sim(force=fault, drip_s=0.2)
    c = make_client("b", cfg_for(url_of(sim, kind), kind), KEY)
    t0 = time.monotonic()
    with pytest.raises(ProviderError) as ei:
        await c.call(req())
    e = ei.value
    assert e.kind == want, repr(e)
    assert time.monotonic() - t0 < 6.0  # bounded by timeout_s (3) whatever the server does
    path = "/v1/messages" if kind == "anthropic" else "/v1/chat/completions"
    assert f"http://127.0.0.1:{sim.port}{path}" in str(e) and str(e).startswith(want)
    assert "\n" not in str(e) and len(str(e)) < 330 and "<" not in str(e) and KEY not in str(e)
    if fault == "html":
        assert "It works!" in str(e) and "var x" not in str(e)  # the page's text, not its markup
    await c.aclose()


@pytest.mark.parametrize("kind", KINDS)
async def test_connection_refused_is_connect(kind):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}" + ("" if kind == "anthropic" else "/v1")
    c = make_client("b", cfg_for(url, kind), KEY)
    with pytest.raises(ProviderError) as ei:
        await c.call(req())
    assert ei.value.kind == FAIL_CONNECTION and f"127.0.0.1:{port}" in str(ei.value)
    await c.aclose()


def test_status_classes_and_key_refused_by_a_proxy():
    assert error_from_status(404, {}, {"error": {"message": "model x"}}).kind == FAIL_NOT_FOUND
    e = error_from_status(501, {}, "<!DOCTYPE HTML><html><head><title>Error response</title></head><body>"
                          "<h1>Error response</h1><p>Error code: 501</p></body></html>")
    assert e.kind == FAIL_NOT_FOUND and str(e) == "not_found 501: Error response Error code: 501"
    assert error_from_status(502, {}, "bad gateway").kind == FAIL_SERVER
    assert error_from_status(400, {}, {"error": {"message": "No connected db."}}).kind == FAIL_AUTH
    assert error_from_status(400, {}, {"error": {"message": "prompt is too long"}}).kind == FAIL_BAD_REQUEST
    # LiteLLM's proxy (1.108.7, /v1/messages) on a model it does not serve: a wrong model, not a bad request.
    litellm = ('{"type":"error","error":{"type":"invalid_request_error","message":"anthropic_messages: Invalid '
               'model name passed in model=nope. Call `/v1/models` to view available models for your key."}}')
    e = error_from_status(400, {}, litellm, url="http://127.0.0.1:4000/v1/messages")
    assert e.kind == FAIL_NOT_FOUND and str(e).startswith("not_found 400 http://127.0.0.1:4000/v1/messages: ")
    assert error_from_status(422, {}, None).kind == FAIL_BAD_REQUEST
    e = error_from_status(503, {}, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                          url="https://u:p@host:8443/v1/chat/completions?key=secret")
    assert str(e) == "server 503 https://host:8443/v1/chat/completions: 503 Service Unavailable"


def test_safe_url_body_text_and_anthropic_v1():
    assert safe_url("http://user:pw@h:1/p?api_key=k#x") == "http://h:1/p"
    assert len(body_text("x" * 1000)) == 200
    assert anthropic_base_url("http://h:4000/v1/")[0] == "http://h:4000"
    assert anthropic_base_url("http://h:4000")[1] is None


def test_a_v1_anthropic_base_url_is_said_at_the_start_of_a_run():
    from watcher.config import PACKAGED_CONFIGS, load_config

    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml", {"backends.claude.base_url": "http://h:4000/v1"})
    (w,) = backend_warnings(cfg)
    assert w.startswith("backend claude: base_url http://h:4000/v1 ends in /v1") and "http://h:4000 " in w
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml", {"backends.claude.base_url": "http://h:4000"})
    assert backend_warnings(cfg) == []


async def test_anthropic_base_url_ending_in_v1_is_normalised(make_sim):
    sim = make_sim()
    c = make_client("b", cfg_for(sim.base_url_anthropic + "/v1", "anthropic"), KEY)
    comp = await c.call(req())
    assert comp.text and sim.recent[-1]["route"] == "/v1/messages"
    await c.aclose()


async def test_usage_unknown_and_cache_tokens_priced(make_sim):
    sim = make_sim()
    cfg = cfg_for(sim.base_url_anthropic, "anthropic", price_in=1.0, price_out=5.0)
    c = make_client("b", cfg, KEY)
    comp = await c.call(req())
    assert comp.usage_known and comp.input_tokens > 0 and comp.cost_usd > 0
    await c.aclose()
    from watcher.providers.base import cost_usd
    # 1M input of which 600k cache reads and 100k cache writes: 300k*1 + 600k*0.1 + 100k*1.25 = 485k
    assert cost_usd(1_000_000, 0, 1.0, 0.0, cache_read=600_000, cache_write=100_000) == pytest.approx(0.485)


def err(kind: str) -> ProviderError:
    return ProviderError(kind, kind=kind)


def test_breaker_deterministic_goes_down_after_threshold():
    b = Breaker(threshold=3)
    b.on_failure(err(FAIL_NOT_FOUND))
    b.on_failure(err(FAIL_NOT_FOUND))
    assert b.state != DOWN
    b.on_failure(err(FAIL_NOT_FOUND))
    assert b.state == DOWN and "not_found" in (b.reason or "")
    with pytest.raises(BackendDown):
        asyncio.run(b.admit())


def test_breaker_transient_opens_probes_with_backoff_and_gives_up():
    now = [0.0]
    b = Breaker(threshold=3, give_up_after_s=10.0, probe_base_s=1.0, clock=lambda: now[0])
    for _ in range(3):
        b.on_failure(err(FAIL_CONNECTION))
    assert b.state == OPEN and b.next_probe_at == 1.0
    now[0] = 1.0
    asyncio.run(b.admit())  # the probe
    b.on_failure(err(FAIL_CONNECTION))
    assert b.next_probe_at == 3.0  # 1.0 + 2
    now[0] = 3.0
    asyncio.run(b.admit())
    b.on_success()
    assert b.state == "closed"
    for _ in range(3):
        b.on_failure(err(FAIL_TIMEOUT))
    now[0] = 14.0
    b.on_failure(err(FAIL_TIMEOUT))
    assert b.state == DOWN and "unreachable for 10s" in (b.reason or "")


def test_breaker_admit_stops():
    b = Breaker()
    with pytest.raises(CallStopped):
        asyncio.run(b.admit(lambda: True))
