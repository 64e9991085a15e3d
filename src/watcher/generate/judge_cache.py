"""Judge replies cached in the run directory (judge_cache.jsonl), so a resumed run does not pay twice
for judging the same attempt.

The key is the item id plus a hash of the judge request's text (which embeds the attempt being
judged): the same attempt of the same item is judged once per run, whichever worker asks. A hit
answers with the cached text at no tokens and no cost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from watcher.providers.base import Completion, Request
from watcher.run.files import JsonlAppender

Call = Callable[[Request], Awaitable[Completion]]


def cache_key(req: Request) -> str:
    item = str((req.sim_meta or {}).get("item") or "")
    body = "\n".join(str(m.get("content") or "") for m in req.messages)
    return f"{item}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


def load_cache(path: Path) -> dict[str, dict[str, str]]:
    """key -> {"text", "model"}; lines a crashed writer left broken are skipped."""
    out: dict[str, dict[str, str]] = {}
    if not path.exists():
        return out
    for line in path.read_bytes().splitlines():
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(d, dict) and isinstance(d.get("key"), str) and isinstance(d.get("text"), str):
            out[d["key"]] = {"text": d["text"], "model": str(d.get("model") or "")}
    return out


class JudgeCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries = load_cache(path)
        self.hits = 0
        self._out: JsonlAppender | None = None

    def wrap(self, call: Call) -> Call:
        """`call` with the cache in front: a hit returns the stored reply, a miss calls and stores it."""

        async def cached(req: Request) -> Completion:
            key = cache_key(req)
            hit = self.entries.get(key)
            if hit is not None:
                self.hits += 1
                return Completion(text=hit["text"], reasoning=None, finish_reason="stop",
                                  finish_reason_raw="cached", input_tokens=0, output_tokens=0,
                                  latency_s=0.0, cost_usd=0.0, model=hit["model"])
            comp = await call(req)
            self.entries[key] = {"text": comp.text, "model": comp.model}
            if self._out is None:
                self._out = JsonlAppender(self.path)
            self._out.append(orjson.dumps({"key": key, "text": comp.text, "model": comp.model}) + b"\n")
            return comp

        return cached

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
