"""Splitting a multi-turn conversation so each assistant turn is a final message once.

mlx-lm's `mask_prompt` trains on the last message only; a tool-use conversation has several assistant
turns (tool calls, then the answer), so exported whole it trains just the closing answer. Split, the
conversation becomes one example per assistant turn: the messages up to and including that turn.
"""

from __future__ import annotations

from typing import Any


def split_turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One prefix of `messages` per assistant turn, each ending on that turn (in order). A conversation
    with no assistant turn gives none; the prefixes share the message dicts (they are not copied)."""
    return [messages[:i + 1] for i, m in enumerate(messages) if m.get("role") == "assistant"]
