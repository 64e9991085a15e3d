"""Reasoning blocks in model output: the one place that knows how to take them out.

A model's reply may hold `<think>`, `<thinking>` or `<reasoning>` blocks (any case). What is left
after removing them is the answer; a closing tag without its opening one means everything before
it was reasoning (chat templates that open the block themselves), and an opening tag that never
closes means the reply ran out while still reasoning, so nothing from it on is answer.
"""

from __future__ import annotations

import re

_BLOCK = re.compile(r"<(think|thinking|reasoning)>(.*?)</\1>", re.S | re.I)
_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.I)
_CLOSE = re.compile(r"</(think|thinking|reasoning)>", re.I)


def strip_think(text: str) -> str:
    """The answer alone (not whitespace-stripped): reasoning blocks removed as described above."""
    if "<" not in text:  # the common case for plain answers: no tag can be there
        return text
    text = _BLOCK.sub("\n", text)
    closes = list(_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    m = _OPEN.search(text)
    return text[: m.start()] if m else text


def split_think(text: str) -> tuple[str | None, str]:
    """(the reasoning, or None when there is none; the stripped answer). The reasoning is the first
    closed block's content, else what follows an opening tag that never closes."""
    m = _BLOCK.search(text)
    if m:
        reasoning: str | None = m.group(2).strip()
    else:
        o = _OPEN.search(text)
        reasoning = text[o.end():].strip() if o else None
    return reasoning, strip_think(text).strip()
