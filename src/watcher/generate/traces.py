"""SYNTH trace (seed 000's stenographic notation) built from real verification results, and the
natural trace taken from the model's own reasoning.

Nothing in a SYNTH trace is invented: the requirement tree and verification section come from the
rubric of the accepted attempt, the strategy section from the item's real attempt history.
"""

from __future__ import annotations

from typing import Any


def confidence(score: float) -> str:
    return "●" if score >= 0.9 else "◐" if score >= 0.6 else "○"


def check_mark(score: float) -> str:
    return "✓" if score >= 0.999 else "☑" if score > 0 else "☐"


def build_synth_trace(heading: str, facts: dict[str, str], rubric: list[dict[str, Any]],
                      score: float, history: list[tuple[float | None, str]]) -> str:
    """`history` lists the item's earlier attempts as (score or None, one-line what failed)."""
    lines = ["<think>", f"{heading} requirements:"]
    reqs = [(r.get("criterion", "?"), str(r.get("expected", "")), float(r.get("score", 0.0))) for r in rubric]
    topic = facts.get("topic") or facts.get("category") or facts.get("variant") or ""
    tone = facts.get("tone", "")
    for crit, expected, s in reqs:
        lines.append(f"├─ {crit}: {expected} {confidence(s)}".rstrip())
    if topic:
        lines.append(f"└─ topic: {topic}" + (f" ({tone})" if tone else ""))
    elif reqs:
        lines[-1] = lines[-1].replace("├─", "└─", 1)
    lines += ["", "### 1. Task Analysis"]
    for k, v in facts.items():
        if v:
            lines.append(f"→ {k}: {v}")
    for r in rubric:
        instr = r.get("instruction")
        if instr:
            lines.append(f"→ {instr}")
    lines += ["", "### 2. Composition Strategy"]
    if not history:
        lines.append("⟨H≈0.5⟩ first draft against the requirement tree")
    for n, (s, why) in enumerate(history, 1):
        s_txt = f"{s:.2f}" if s is not None else "no usable text"
        lines.append(f"↺ draft {n}: {s_txt} {confidence(s or 0.0)} → {why}")
    if history:
        lines.append(f"! draft {len(history) + 1} revised against the failing items")
    lines += ["", "### 3. Verification"]
    for crit, _expected, s in reqs:
        lines.append(f"{check_mark(s)} {crit}: {round(s * 100)}%")
    lines += ["", f"∴ {heading} complete: {confidence(score)} {_conf_word(score)} confidence ({score:.2f})",
              "</think>"]
    return "\n".join(lines)


def _conf_word(score: float) -> str:
    return "high" if score >= 0.9 else "medium" if score >= 0.6 else "low"


def natural_trace(reasoning: str | None) -> str:
    """The model's own reasoning wrapped as a closed <think> block, or "" when it gave none."""
    if not reasoning or not reasoning.strip():
        return ""
    body = reasoning.strip().replace("<think>", "").replace("</think>", "")
    return f"<think>\n{body}\n</think>"
