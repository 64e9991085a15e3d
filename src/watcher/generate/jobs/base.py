"""What every data job provides to the one generation engine.

A job turns the config into work items, builds the request for an item (with retry feedback),
evaluates a completion with its verifier, and says which record fields hold the result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from watcher.providers.base import Completion, ProviderError, Request, SimMeta
from watcher.verify.agentic import parse_judge


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: str
    job: str
    group: str  # form, category or variant
    key: str  # what makes the item unique inside its group (e.g. topic|tone, prompt id)
    replicate: int
    prompt: str
    system: str | None = None
    backend: str = ""
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(slots=True)
class Evaluation:
    score: float
    passed: bool
    rubric: list[dict[str, Any]]
    text: str  # the cleaned output that was verified
    feedback: list[str]  # plain-English fixes for the next attempt
    detail: str  # one line: why it failed, or "ok"
    fields: dict[str, Any]  # record fields carrying the output (form/poem, category/response/messages...)
    synth_heading: str = ""  # what the SYNTH trace calls the task ("Sonnet", "tool_use example"...)


def retry_messages(prompt: str, history: list[tuple[str, Evaluation | None]], depth: int,
                   feedback: Callable[[Evaluation | None], str]) -> list[dict[str, Any]]:
    """The user prompt plus the last `depth` tries as assistant turns, each followed by its feedback.
    A try that left no text (truncated, empty) adds its "finish it, shorter" note to the prompt."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    noted = False
    for text, ev in history[-depth:] if depth else []:
        if not text:
            if not noted:
                messages[0]["content"] += "\n\n" + feedback(None)
                noted = True
            continue
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": feedback(ev)})
    return messages


def sim_meta(job: str, item: WorkItem, kind: str, **extra: Any) -> SimMeta:
    """What a simulated backend needs to answer a request in kind: the job, kind, group and item, plus
    the job's own fields (topic, tone, think...)."""
    meta: SimMeta = {"job": job, "kind": kind, "group": item.group, "item": item.id}
    meta.update(extra)  # type: ignore[typeddict-item]
    return meta


# How a job folds a judge's (score, or None when it gave none; reasons) into an evaluation:
# (blended score, passed, rubric).
Blend = Callable[[Evaluation, float | None, str], tuple[float, bool, list[dict[str, Any]]]]


def with_judge(ev: Evaluation, judge_text: str | None, blend: Blend, error: str | None = None) -> Evaluation:
    """The evaluation with the judge's reply blended in (a failed judge call counts as score 0)."""
    score, reasons = parse_judge(judge_text) if judge_text is not None else (None, error or "no reply")
    blended, passed, rubric = blend(ev, score, reasons)
    failing = [r for r in rubric if not r["passed"]]
    detail = "ok" if passed else "; ".join(f"{r['criterion']}: {r['explanation']}" for r in failing[:3])
    return Evaluation(score=blended, passed=passed, rubric=rubric, text=ev.text,
                      feedback=[r["instruction"] for r in failing if r["instruction"]], detail=detail,
                      fields=ev.fields, synth_heading=ev.synth_heading)


async def run_judge(ev: Evaluation, request: Callable[[], Request], call: Callable[[Request], Awaitable[Completion]],
                    blend: Blend) -> tuple[Evaluation, Completion | None]:
    """Ask the judge about an evaluation that passed (one that failed cannot pass anyway, so it is
    not judged) and blend its score in; the completion is returned for token and cost counts."""
    if not ev.passed:
        return ev, None
    try:
        comp = await call(request())
    except ProviderError as e:
        return with_judge(ev, None, blend, f"judge call failed: {e.short()}"), None
    return with_judge(ev, comp.text, blend), comp


class Job(Protocol):
    name: str
    group_label: str  # "form" | "category" | "variant"

    def items(self) -> list[WorkItem]:
        """Every planned item, without backend assignment, in a stable order."""

    def targets(self) -> dict[str, int]:
        """Accepted items wanted per group."""

    def request(self, item: WorkItem, max_tokens: int, temperature: float, ask_think: bool,
                history: list[tuple[str, Evaluation | None]]) -> Request:
        """The call for the next attempt; `history` holds earlier (text, evaluation) pairs of this item."""

    def evaluate(self, item: WorkItem, completion: Completion, text: str) -> Evaluation:
        """Verify one completion whose text has had any <think> section removed."""

    def describe(self, item: WorkItem) -> dict[str, str]:
        """Task facts for the SYNTH trace's analysis section (topic, tone, variant...)."""
