"""The simulator's three batch protocols through watcher's batch clients (the official SDKs), in process."""

from __future__ import annotations

import asyncio

import pytest

from watcher.config import BackendConfig
from watcher.providers.base import Request
from watcher.providers.batch_factory import make_batch_api
from watcher.providers.batches import CANCELED, ENDED, ERRORED, EXPIRED, IN_PROGRESS, SUCCEEDED

APIS = {"anthropic": ("anthropic", "auto"), "openai": ("openai", "openai"), "openrouter": ("openai", "openrouter")}
META = {"job": "poetry", "group": "Haiku", "item": "x", "topic": "the sea", "tone": "calm"}


def client(sim, api: str):
    kind, batch_api = APIS[api]
    url = sim.base_url_anthropic if kind == "anthropic" else sim.base_url_openai
    return make_batch_api(BackendConfig(kind=kind, model="m", base_url=url, simulated=True, batch_api=batch_api,
                                        max_tokens=400, timeout_s=5), "sim-key")


def lines(api, n: int, tag: str = "i") -> list[dict]:
    req = Request(system="write", messages=[{"role": "user", "content": "a haiku"}], max_tokens=400,
                  temperature=1.0, sim_meta=META)
    return [api.line(f"{tag}{k}-1", req) for k in range(n)]


@pytest.mark.parametrize("name", list(APIS))
def test_partial_errors_expiry_and_a_malformed_line(make_sim, name):
    sim = make_sim(seed=3)
    sim.script_batches([{"errored": 1, "expired": 1, "malformed": 1}])

    async def go():
        api = client(sim, name)
        info = await api.submit(lines(api, 5), "key1")
        assert (await api.retrieve(info.id)).state == ENDED
        found = await api.find("key1", info.created_at - 1, 5, set())
        assert found is not None and found.id == info.id  # an interrupted submit is found, not redone
        res, bad = await api.results(info.id)
        await api.p.aclose()
        return res, bad

    res, bad = asyncio.run(go())
    by = {r.custom_id: r for r in res}
    assert bad == 1 and len(res) == 4  # one line unreadable: its request has no result
    assert by["i0-1"].outcome == ERRORED and by["i1-1"].outcome == EXPIRED
    ok = [r for r in res if r.outcome == SUCCEEDED]
    assert len(ok) == 2 and all(r.completion and r.completion.text.strip() for r in ok)
    assert sim.submissions() == {f"i{k}-1": 1 for k in range(5)}
    assert sim.stats()["requests"] == 0


def test_delay_progress_whole_expiry_and_cancel(make_sim):
    sim = make_sim(batch_delay_s=30)
    sim.script_batches([{}, {"expire": True, "delay_s": 0}])

    async def go():
        api = client(sim, "openai")
        slow = await api.submit(lines(api, 3, "s"), "k-slow")
        assert slow.state == IN_PROGRESS and slow.counts["processing"] == 3
        whole = await api.submit(lines(api, 3, "w"), "k-whole")
        w = await api.retrieve(whole.id)
        await api.cancel(slow.id)
        c = await api.retrieve(slow.id)
        res_w, _ = await api.results(whole.id)
        res_c, _ = await api.results(slow.id)
        await api.p.aclose()
        return w, c, res_w, res_c

    w, c, res_w, res_c = asyncio.run(go())
    assert w.status == "expired" and w.counts["expired"] == 3
    assert {r.outcome for r in res_w} == {EXPIRED}
    assert c.state == ENDED and c.status == "cancelled" and {r.outcome for r in res_c} == {CANCELED}


def test_openrouter_results_come_in_pages(make_sim, monkeypatch):
    from watcher.simulator import batches

    monkeypatch.setattr(batches, "RESULTS_PAGE", 2)
    monkeypatch.setattr("watcher.simulator.batch_routes.RESULTS_PAGE", 2)
    sim = make_sim()

    async def go():
        api = client(sim, "openrouter")
        info = await api.submit(lines(api, 5), "k")
        res, bad = await api.results(info.id)
        await api.p.aclose()
        return res, bad

    res, bad = asyncio.run(go())
    assert bad == 0 and sorted(r.custom_id for r in res) == [f"i{k}-1" for k in range(5)]


def test_errors_are_classified_with_the_url(make_sim):
    from watcher.providers.base import ProviderError

    sim = make_sim()

    async def go():
        api = client(sim, "anthropic")
        try:
            await api.retrieve("msgbatch_nope")
        finally:
            await api.p.aclose()

    with pytest.raises(ProviderError) as e:
        asyncio.run(go())
    assert e.value.kind == "not_found" and "/v1/messages/batches/msgbatch_nope" in str(e.value)
