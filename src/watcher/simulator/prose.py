"""The answer to a request with no sim metadata (or an unknown job): a short prose answer."""

from __future__ import annotations

import random

from watcher.simulator.config import SimConfig
from watcher.simulator.reply import SimReply, SimRequest


def respond_prose(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    asks = req.user_texts()
    q = " ".join((asks[-1] if asks else "your question").split())
    subject = q[:80].rstrip(" ?.!")
    text = " ".join([
        rng.choice(["Here is a short answer.", "In brief:", "A concise answer follows."]),
        f"The question was about \"{subject}\".",
        rng.choice([
            "The key point is to separate what is known from what has to be assumed, then check each step.",
            "Start from the simplest case that shows the behaviour, then add one complication at a time.",
            "The usual approach works here: define the terms, state the constraint, and test it on an example.",
        ]),
        rng.choice(["That covers the essentials.", "Details depend on the exact setting.",
                    "Ask again if a longer explanation would help."]),
    ])
    reasoning = (f"The user asks: {subject}. I should answer directly and briefly, "
                 "naming the main idea and one way to check it.")
    return SimReply(text=text, reasoning=reasoning, defective=False)
