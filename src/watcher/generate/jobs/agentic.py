"""Seed 001: agentic tool-use training conversations by category, verified for structure (+ optional judge).

Each item asks the model for ONE complete conversation as JSON in OpenAI chat format with tool calls;
the system prompt carries the category's instructions, a scenario and the declared tool schemas.
`verify_agentic` checks the structure; `judge` (async, optional) blends in an LLM's quality score.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Awaitable, Callable
from typing import Any

from watcher.config import Category, RunConfig
from watcher.errors import ConfigError
from watcher.generate.jobs.base import Evaluation, WorkItem, retry_messages, run_judge, sim_meta
from watcher.providers.base import Completion, Request
from watcher.run.records import item_id
from watcher.verify.agentic import (
    JUDGE_SYSTEM,
    Limits,
    blend_judge,
    judge_prompt,
    verify_example,
)

TOOLS_OPEN, TOOLS_CLOSE = "<tools>", "</tools>"

# Seed 001: Rust is the primary language, then TypeScript, Python, Go (weights pick per item).
LANGUAGES = (("Rust", 4), ("TypeScript", 2), ("Python", 2), ("Go", 2))
DOMAINS = (
    "command-line tool", "HTTP API service", "config file parser", "background job queue",
    "terminal UI app", "database migration tool", "log processing pipeline", "plugin system",
    "caching layer", "authentication module", "file synchroniser", "metrics exporter",
)
THINK_REQUEST = (
    "Before the JSON, think step by step inside a <think>...</think> section: plan the user's request, "
    "the tool calls and their results, and the final answer. After </think>, write only the JSON."
)
_BULLET_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$")


def bullets(instructions: str) -> list[str]:
    """The sub-topics a category's instructions list as bullets; the whole text when there are none."""
    out = [m.group(1) for ln in instructions.splitlines() if (m := _BULLET_RE.match(ln))]
    return out or [" ".join(instructions.split())]


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def tool_schema_json(tools: list[dict[str, Any]]) -> str:
    """Declared tools as OpenAI function schemas, one per line: compact, for the prompt."""
    return "\n".join(json.dumps({"type": "function", "function": t}, ensure_ascii=False) for t in tools)


class AgenticJob:
    name = "agentic"
    group_label = "category"

    def __init__(self, cfg: RunConfig) -> None:
        if cfg.agentic is None:
            raise ConfigError("job = 'agentic' needs an [agentic] table with categories")
        self.cfg = cfg
        self.acfg = cfg.agentic
        self.tools: dict[str, dict[str, Any]] = {}
        for t in self.acfg.tools:
            if t.name in self.tools:
                raise ConfigError(f"field 'agentic.tools': tool '{t.name}' is declared twice; fix: keep one")
            self.tools[t.name] = {"name": t.name, "description": t.description,
                                  "parameters": t.parameters or {"type": "object", "properties": {}}}
        self.schemas = {n: t["parameters"] for n, t in self.tools.items()}  # what the verifier checks
        self.categories: dict[str, Category] = {}
        for c in self.acfg.categories:
            if c.name in self.categories:
                raise ConfigError(f"field 'agentic.categories': category '{c.name}' appears twice; fix: rename one")
            unknown = [t for t in c.tools if t not in self.tools]
            if unknown:
                raise ConfigError(
                    f"field 'agentic.categories.{c.name}.tools' names undeclared tool(s) {', '.join(unknown)}; "
                    "fix: declare them as [[agentic.tools]] or remove them")
            self.categories[c.name] = c
        j = self.acfg.judge
        if j is not None and j.backend not in cfg.backends:
            raise ConfigError(f"field 'agentic.judge.backend' names '{j.backend}' but there is no "
                              f"[backends.{j.backend}] table; fix: use one of {', '.join(cfg.backends)}")

    # -- planning ---------------------------------------------------------------------------
    def items(self) -> list[WorkItem]:
        out = []
        for cat in self.categories.values():
            topics = bullets(cat.instructions)
            for rep in range(cat.target):
                # Sub-topics round-robin (even coverage); language and domain from the item's own seed.
                rng = random.Random(f"{self.cfg.seed}|{cat.name}|{rep}")
                topic = topics[rep % len(topics)]
                lang, domain = _weighted(rng, LANGUAGES), rng.choice(DOMAINS)
                out.append(WorkItem(
                    id=item_id(self.name, cat.name, rep), job=self.name, group=cat.name,
                    key=f"{topic}|{lang}|{domain}", replicate=rep,
                    prompt=f"Write one {cat.name} training conversation: {topic} (a {lang} {domain}).",
                    meta={"topic": topic, "language": lang, "domain": domain},
                ))
        return out

    def targets(self) -> dict[str, int]:
        return {c.name: c.target for c in self.categories.values()}

    # -- requests ---------------------------------------------------------------------------
    def min_tool_calls(self, cat: Category) -> int:
        return cat.min_tool_calls if cat.min_tool_calls is not None else (1 if cat.tools else 0)

    def limits(self, cat: Category) -> Limits:
        return Limits(min_turns=self.acfg.min_turns, max_turns=self.acfg.max_turns,
                      max_chars=self.acfg.max_chars, min_tool_calls=self.min_tool_calls(cat))

    def system_prompt(self, item: WorkItem, ask_think: bool) -> str:
        cat = self.categories[item.group]
        need = self.min_tool_calls(cat)
        if cat.tools:
            tools_part = (
                "Tools the assistant may call (OpenAI function schemas, one per line); call no others:\n"
                f"{TOOLS_OPEN}\n{tool_schema_json([self.tools[t] for t in cat.tools])}\n{TOOLS_CLOSE}"
            )
        else:
            tools_part = "This category uses no tools: the assistant answers in prose only, with no tool_calls."
        fmt = (
            'Answer with ONLY one JSON object, no markdown fences and no commentary: {"messages": [...]} in '
            "OpenAI chat format.\n"
            '- An optional {"role": "system", "content": ...} first, then {"role": "user", "content": ...}, '
            "then assistant turns (more user turns may follow an assistant answer).\n"
            '- An assistant turn that uses tools: {"role": "assistant", "content": "<short note or empty>", '
            '"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "<tool>", '
            '"arguments": "<the arguments object encoded as a JSON string>"}}]}. Parallel calls go in one '
            "tool_calls list.\n"
            '- Right after it, one {"role": "tool", "tool_call_id": "call_1", "content": "<realistic tool '
            'output>"} per call, in order. Ids are unique in the conversation.\n'
            "- Arguments give every required parameter with the declared type.\n"
            "- The last message is an assistant answer without tool_calls.\n"
            f"- Between {self.acfg.min_turns} and {self.acfg.max_turns} messages after the system message, "
            f"under {self.acfg.max_chars} characters in total"
            + (f"; at least {need} tool call(s)." if need else ".")
        )
        parts = [
            "You write training data for a coding assistant that works in a user's repository through "
            "tools. Produce ONE complete, realistic conversation that teaches the behaviour below.",
            f"Category: {cat.name}\nExamples of this category must show:\n{cat.instructions.strip()}",
            f"Scenario for this example: {item.meta.get('topic', '')}. The project is a "
            f"{item.meta.get('language', '')} {item.meta.get('domain', '')}; invent concrete file names, "
            "code and tool output that fit it.",
            tools_part,
            fmt,
        ]
        if ask_think:
            parts.append(THINK_REQUEST)
        return "\n\n".join(parts)

    def request(self, item: WorkItem, max_tokens: int, temperature: float, ask_think: bool,
                history: list[tuple[str, Evaluation | None]]) -> Request:
        # Only the last try goes back as context: a whole conversation per try makes requests large fast.
        messages = retry_messages(item.prompt, history, 1, lambda ev: feedback_message(item.group, ev))
        cat = self.categories[item.group]
        meta = sim_meta(self.name, item, "retry" if len(messages) > 1 else "generate", think=ask_think,
                        topic=item.meta.get("topic", ""), language=item.meta.get("language", ""),
                        domain=item.meta.get("domain", ""), min_tool_calls=self.min_tool_calls(cat),
                        tools=[self.tools[t] for t in cat.tools])
        # No `tools=`: the model must WRITE a conversation containing tool calls, not call tools itself.
        return Request(system=self.system_prompt(item, ask_think), messages=messages,
                       max_tokens=max_tokens, temperature=temperature, sim_meta=meta)

    # -- verification -----------------------------------------------------------------------
    def evaluate(self, item: WorkItem, completion: Completion, text: str) -> Evaluation:
        cat = self.categories[item.group]
        res = verify_example(text, self.schemas, allowed=cat.tools, limits=self.limits(cat))
        failing = res.failing()
        detail = "ok" if res.passed else "; ".join(f"{r['criterion']}: {r['explanation']}" for r in failing[:3])
        return Evaluation(
            score=res.score, passed=res.passed, rubric=res.rubric, text=text.strip(),
            feedback=[r["instruction"] for r in failing if r["instruction"]], detail=detail,
            fields={"category": cat.name, "messages": res.messages, "response": res.response},
            synth_heading=f"{cat.name} example",
        )

    def judge_request(self, item: WorkItem, ev: Evaluation) -> Request:
        cat = self.categories[item.group]
        j = self.acfg.judge
        max_tokens = self.cfg.backends[j.backend].max_tokens if j else 1024
        return Request(system=JUDGE_SYSTEM,
                       messages=[{"role": "user", "content": judge_prompt(cat.name, cat.instructions,
                                                                          ev.fields.get("messages") or [])}],
                       max_tokens=max_tokens, temperature=0.0,
                       sim_meta=sim_meta(self.name, item, "judge"))

    async def judge(self, item: WorkItem, ev: Evaluation,
                    call: Callable[[Request], Awaitable[Completion]]) -> tuple[Evaluation, Completion | None]:
        """Optional hook: blend the judge backend's score into a structurally valid evaluation."""
        j = self.acfg.judge
        if j is None:
            return ev, None
        return await run_judge(ev, lambda: self.judge_request(item, ev), call, lambda e, score, reasons: blend_judge(
            e.rubric, score, reasons, j.weight, self.cfg.min_score))

    def describe(self, item: WorkItem) -> dict[str, str]:
        return {"category": item.group, "scenario": item.meta.get("topic", ""),
                "language": item.meta.get("language", ""), "project": item.meta.get("domain", "")}


def feedback_message(group: str, ev: Evaluation | None) -> str:
    if ev is None:
        return ("Your previous answer was cut off or empty. Write the complete conversation again as one "
                "JSON object, shorter, and finish it.")
    fixes = "\n".join(f"- {f}" for f in ev.feedback) or "- follow the format exactly"
    return (f"That example scored {ev.score:.2f} against the {group} checks. Fix these problems:\n{fixes}\n"
            'Write the whole conversation again as one JSON object {"messages": [...]}.')
