"""Seed 000: poems in classic forms, verified by the form verifier, with retry feedback."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path

from watcher.config import RunConfig, bundled_file
from watcher.errors import ConfigError
from watcher.generate.jobs.base import Evaluation, WorkItem, retry_messages, run_judge, sim_meta
from watcher.providers.base import Completion, Request
from watcher.run.records import item_id
from watcher.verify.topic import JUDGE_SYSTEM, blend_judge, judge_prompt, lexical_topic

THINK_REQUEST = (
    "Before the poem, think step by step inside a <think>...</think> section: plan the form's "
    "constraints, the rhyme sounds and the imagery. After </think>, write only the poem."
)


def read_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


class PoetryJob:
    name = "poetry"
    group_label = "form"

    def __init__(self, cfg: RunConfig) -> None:
        from watcher.verify.forms import DEFAULT_FORMS, UnknownFormError, get_form

        self.cfg = cfg
        names = cfg.poetry.forms or list(DEFAULT_FORMS)
        # Canonical names, so "sonnet" and "Sonnet" make the same ids; unknown names fail here, clearly.
        try:
            self.forms = [get_form(n) for n in names]
        except UnknownFormError as e:
            raise ConfigError(f"field 'poetry.forms' (--forms): {e}") from None
        self.topics = read_lines(bundled_file(cfg.poetry.topics_file or "topics.txt"))
        self.tones = read_lines(bundled_file(cfg.poetry.tones_file or "tones.txt"))
        self.judge_cfg = cfg.poetry.judge
        if self.judge_cfg is not None and self.judge_cfg.backend not in cfg.backends:
            raise ConfigError(f"field 'poetry.judge.backend' names '{self.judge_cfg.backend}' but there is no "
                              f"[backends.{self.judge_cfg.backend}] table; fix: use one of {', '.join(cfg.backends)}")

    def warm_up(self) -> None:
        """Load the verifier's pronouncing dictionary now (0.3-1 s, once per process)."""
        from watcher.verify.forms.phonetics import load_dictionary

        load_dictionary()

    def items(self) -> list[WorkItem]:
        out = []
        for form in self.forms:
            for rep in range(self.cfg.poetry.num):
                # Topic and tone come from the item's own seed: stable whatever else changes.
                rng = random.Random(f"{self.cfg.seed}|{form.name}|{rep}")
                topic, tone = rng.choice(self.topics), rng.choice(self.tones)
                out.append(WorkItem(
                    id=item_id(self.name, form.name, rep), job=self.name, group=form.name,
                    key=f"{topic}|{tone}", replicate=rep,
                    prompt=f"Write a {form.name} about {topic} in a {tone} tone",
                    meta={"topic": topic, "tone": tone},
                ))
        return out

    def targets(self) -> dict[str, int]:
        return {f.name: self.cfg.poetry.num for f in self.forms}

    def _form(self, name: str):
        from watcher.verify.forms import get_form

        return get_form(name)

    def system_prompt(self, item: WorkItem, ask_think: bool) -> str:
        form = self._form(item.group)
        rules = "\n".join(f"- {i}" for i in form.instructions())
        parts = [
            f"You are a skilled poet. Write a {form.name}.",
            f"The {form.name} must follow these rules:\n{rules}",
            "Give no title, no commentary and no markdown: only the poem's lines, stanzas separated by a blank line.",
        ]
        if ask_think:
            parts.append(THINK_REQUEST)
        return "\n\n".join(parts)

    def request(self, item: WorkItem, max_tokens: int, temperature: float, ask_think: bool,
                history: list[tuple[str, Evaluation | None]]) -> Request:
        # The last two tries are enough context, and keep requests small.
        messages = retry_messages(item.prompt, history, 2, lambda ev: feedback_message(item.group, ev))
        meta = sim_meta(self.name, item, "retry" if len(messages) > 1 else "generate", think=ask_think,
                        topic=item.meta.get("topic", ""), tone=item.meta.get("tone", ""))
        return Request(system=self.system_prompt(item, ask_think), messages=messages,
                       max_tokens=max_tokens, temperature=temperature, sim_meta=meta)

    def evaluate(self, item: WorkItem, completion: Completion, text: str) -> Evaluation:
        from watcher.verify.forms import verify

        res = verify(text, item.group, min_score=self.cfg.min_score)
        failing = res.failing()
        detail = "ok" if res.passed else "; ".join(f"{r.criterion}: {r.explanation}" for r in failing[:3])
        rubric = [r.to_dict() for r in res.rubric]
        if self.judge_cfg is None and item.meta.get("topic"):
            # Without a judge, the lexical topic check is reported (weight 0: it never rejects).
            rubric.append(lexical_topic(res.text, item.meta["topic"]).to_dict())
        return Evaluation(
            score=round(res.score, 4), passed=res.passed, rubric=rubric,
            text=res.text, feedback=[r.instruction for r in failing], detail=detail,
            fields={"form": res.form, "poem": res.text}, synth_heading=res.form,
        )

    # -- the optional judge of topic and tone ------------------------------------------------
    def judge_request(self, item: WorkItem, ev: Evaluation) -> Request:
        j = self.judge_cfg
        max_tokens = self.cfg.backends[j.backend].max_tokens if j else 1024
        topic, tone = item.meta.get("topic", ""), item.meta.get("tone", "")
        return Request(system=JUDGE_SYSTEM,
                       messages=[{"role": "user", "content": judge_prompt(item.group, topic, tone, ev.text)}],
                       max_tokens=max_tokens, temperature=0.0,
                       sim_meta=sim_meta(self.name, item, "judge", topic=topic, tone=tone))

    async def judge(self, item: WorkItem, ev: Evaluation,
                    call: Callable[[Request], Awaitable[Completion]]) -> tuple[Evaluation, Completion | None]:
        """Blend the judge's topic-and-tone score into a poem that passed its form."""
        j = self.judge_cfg
        if j is None:
            return ev, None
        return await run_judge(ev, lambda: self.judge_request(item, ev), call, lambda e, score, reasons: blend_judge(
            e.score, e.rubric, score, reasons, j.weight, self.cfg.min_score))

    def describe(self, item: WorkItem) -> dict[str, str]:
        return {"form": item.group, "topic": item.meta.get("topic", ""), "tone": item.meta.get("tone", "")}


def feedback_message(group: str, ev: Evaluation | None) -> str:
    if ev is None:
        return ("Your previous answer was cut off or empty. Write the complete poem again, "
                "more concisely, and finish it.")
    fixes = "\n".join(f"- {f}" for f in ev.feedback) or "- follow the form exactly"
    return (f"That poem scored {ev.score:.2f} against the {group} rubric. Fix these problems:\n{fixes}\n"
            "Rewrite the whole poem.")
