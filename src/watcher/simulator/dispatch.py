"""Which responder answers a request: an explicit table keyed by the sim metadata's job (and judge kind).

The content modules know nothing of each other or of the server; this table is the one place that
names them, so adding a job means one module and one entry here.
"""

from __future__ import annotations

import json
import random
from typing import Any

from watcher.providers.base import SimMeta
from watcher.simulator.aba import respond_aba
from watcher.simulator.agentic import respond_agentic, respond_agentic_judge
from watcher.simulator.config import SimConfig
from watcher.simulator.poetry import respond_poetry, respond_poetry_judge
from watcher.simulator.prose import respond_prose
from watcher.simulator.reply import Responder, SimReply, SimRequest

FALLBACK = "prose"
RESPONDERS: dict[str, Responder] = {
    "poetry": respond_poetry,
    "poetry:judge": respond_poetry_judge,
    "agentic": respond_agentic,
    "agentic:judge": respond_agentic_judge,
    "aba": respond_aba,
    FALLBACK: respond_prose,
}


def parse_meta(header: str | None) -> SimMeta:
    """The x-watcher-sim header as a dict; {} when absent or not a JSON object (the answer is then prose)."""
    if not header:
        return {}
    try:
        meta: Any = json.loads(header)
    except json.JSONDecodeError:
        return {}
    return meta if isinstance(meta, dict) else {}


def responder_key(meta: SimMeta) -> str:
    job = str(meta.get("job") or FALLBACK).lower()
    return f"{job}:judge" if meta.get("kind") == "judge" else job


def respond(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    fn = RESPONDERS.get(responder_key(req.meta)) or RESPONDERS[FALLBACK]
    return fn(req, rng, cfg)
