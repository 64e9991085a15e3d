"""judge_cache.jsonl: the same attempt of the same item is judged once per run, across restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from watcher.generate.judge_cache import JudgeCache, cache_key
from watcher.providers.base import Completion, Request


def _req(item: str, poem: str) -> Request:
    return Request(system="grade", messages=[{"role": "user", "content": f"The poem:\n{poem}"}],
                   max_tokens=100, temperature=0.0, sim_meta={"job": "poetry", "kind": "judge", "item": item})


def test_cache_survives_a_restart_and_keys_on_item_and_text(tmp_path: Path) -> None:
    calls: list[Request] = []

    async def backend(req: Request) -> Completion:
        calls.append(req)
        return Completion(text='{"score": 0.9, "reasons": "on topic"}', reasoning=None, finish_reason="stop",
                          finish_reason_raw="stop", input_tokens=50, output_tokens=9, latency_s=0.1,
                          cost_usd=0.001, model="judge-model")

    path = tmp_path / "judge_cache.jsonl"
    first = JudgeCache(path)
    comp = asyncio.run(first.wrap(backend)(_req("a", "rain on tin")))
    assert comp.cost_usd == 0.001 and len(calls) == 1
    first.close()

    again = JudgeCache(path)  # a resumed worker
    call = again.wrap(backend)
    hit = asyncio.run(call(_req("a", "rain on tin")))
    assert len(calls) == 1 and again.hits == 1
    assert hit.text == comp.text and hit.cost_usd == 0 and hit.input_tokens == hit.output_tokens == 0
    asyncio.run(call(_req("a", "snow on tin")))  # another attempt of the item
    asyncio.run(call(_req("b", "rain on tin")))  # the same text for another item
    assert len(calls) == 3
    again.close()
    assert len(path.read_text().splitlines()) == 3
    assert cache_key(_req("a", "x")) != cache_key(_req("a", "y")) and cache_key(_req("a", "x")).startswith("a:")


def test_broken_cache_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "judge_cache.jsonl"
    path.write_bytes(b'{"key": "a:1", "text": "t", "model": "m"}\n{"key": "b:2", "te')
    assert set(JudgeCache(path).entries) == {"a:1"}
