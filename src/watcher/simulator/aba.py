"""Simulated answers for the aba job (seed 002): multi-paragraph answers; defective ones run past the
token budget. Whether the variant's system prompt states the budget comes from the sim metadata.
"""

from __future__ import annotations

import random

from watcher.simulator.config import SimConfig
from watcher.simulator.reply import SimReply, SimRequest

_OPENERS = (
    "The short answer is that {s} comes down to a few interacting factors, and it helps to take them one at a time.",
    "To answer this well, it is worth separating what is well established about {s} from what is still debated.",
    "Let me work through {s} step by step, starting from the basic idea and then adding the details that matter.",
)
_BODY = (
    "First, consider the underlying mechanism. Most of the behaviour follows from a simple principle, and once that "
    "principle is clear the rest of the picture falls into place without much extra effort.",
    "A concrete example makes this easier to see. Imagine the simplest possible case, then change one thing at a "
    "time and watch how the outcome shifts; each change isolates one of the factors involved.",
    "There is a common misconception worth addressing here: people often assume the effect is caused by the most "
    "visible factor, when in fact a quieter one does most of the work.",
    "It is also worth weighing the trade-offs. Every approach gives something up, and the right choice depends on "
    "which costs are acceptable in the situation at hand rather than on any universal rule.",
    "In practice, the details matter. Small differences in the starting conditions can change the result, so it pays "
    "to check assumptions explicitly instead of relying on intuition alone.",
    "Historically, understanding of this developed gradually, with each new observation correcting an earlier, "
    "simpler model; the current view keeps what worked and discards what did not.",
    "From a quantitative point of view, the numbers tell a clear story once they are laid side by side, and a quick "
    "estimate is usually enough to see which factor dominates.",
)
_CLOSERS = (
    "In summary: the key idea explains most of what we see, the example shows it in action, and the caveats mark "
    "where the simple picture needs refinement.",
    "So the answer is a balance of these considerations, and the sections above give a way to decide in a specific case.",
)


def _answer(subject: str, target_tokens: int, cpt: float, rng: random.Random) -> str:
    paras = [rng.choice(_OPENERS).format(s=subject)]
    target_chars = int(target_tokens * cpt)
    while sum(len(p) + 2 for p in paras) < target_chars - 250:
        paras.append(" ".join(rng.sample(_BODY, 2)))
    paras.append(rng.choice(_CLOSERS))
    return "\n\n".join(paras)


def respond_aba(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    asks = req.user_texts()
    subject = " ".join((asks[-1] if asks else "the question").split())[:90].rstrip(" ?.!")
    subject = subject[0].lower() + subject[1:] if subject else "the question"
    stated = bool(req.meta.get("budget_stated"))
    budget = int(req.meta.get("token_budget") or 2000)
    # A budget stated in the system prompt is usually respected (that is the treatment's effect):
    # defects there are a third as frequent as under the plain control prompt.
    p_over = cfg.defect_rate / 3 if stated else cfg.defect_rate
    over = rng.random() < p_over
    target = int(budget * rng.uniform(1.2, 1.6)) if over else int(budget * rng.uniform(0.25, 0.8))
    text = _answer(subject, target, cfg.chars_per_token, rng)
    reasoning = (f"The user asks about {subject}. I explain the mechanism, give an example, note the trade-offs "
                 f"and finish with a summary{f', keeping within {budget} tokens' if stated else ''}.")
    return SimReply(text=text, reasoning=reasoning, defective=over)
