"""What a responder gets (SimRequest) and gives back (SimReply): the contract between the HTTP side and content."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watcher.providers.base import SimMeta, flatten_content
from watcher.simulator.config import SimConfig


@dataclass
class SimRequest:
    meta: SimMeta  # the x-watcher-sim header; empty when the client sent none
    system: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # without system messages
    model: str = "sim-model"
    tools: list[dict[str, Any]] | None = None  # tools the request declares (protocol-level tool use)

    @property
    def retry(self) -> bool:
        """A try after a failed one, with feedback: the next answer is more often sound."""
        return self.meta.get("kind") == "retry"

    def user_texts(self) -> list[str]:
        return [flatten_content(m.get("content")) for m in self.messages if m.get("role") == "user"]


@dataclass
class SimReply:
    text: str
    reasoning: str
    defective: bool = False
    # {"id": str, "name": str, "arguments": dict}; rendered as tool calls by the protocol layer
    tool_calls: list[dict[str, Any]] | None = None


Responder = Callable[[SimRequest, random.Random, SimConfig], SimReply]
