"""Seed 002: a prompt list answered under each variant's system prompt (control vs treatment).

Items are prompts × variants (group = variant, key = prompt id). Every attempt sends exactly the
variant's system prompt and the bare prompt, with max_tokens = max_output_tokens: feedback turns
would change what the experiment measures, so a retry is simply a fresh sample. The verifier checks
a non-empty output, finish_reason stop and output tokens within the token budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from watcher.config import RunConfig, Variant, bundled_file
from watcher.errors import ConfigError
from watcher.generate.jobs.base import Evaluation, WorkItem, sim_meta
from watcher.providers.base import Completion, Request
from watcher.run.records import item_id
from watcher.verify.rubric import RubricItem


def read_prompts(path: Path) -> list[tuple[str, str]]:
    """(id, prompt) pairs from a JSONL file of {"id": ..., "prompt": ...}; errors name the line."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{n}: not JSON ({e.msg}); fix: one {{\"id\", \"prompt\"}} object per line") from None
        if not isinstance(d, dict) or not isinstance(d.get("prompt"), str) or not d["prompt"].strip():
            raise ConfigError(f"{path}:{n}: needs a non-empty \"prompt\" string")
        pid = str(d.get("id") or f"line{n}")
        if pid in seen:
            raise ConfigError(f"{path}:{n}: duplicate id {pid!r}; fix: ids must be unique (they make item ids)")
        seen.add(pid)
        out.append((pid, d["prompt"].strip()))
    if not out:
        raise ConfigError(f"{path}: no prompts; fix: add {{\"id\", \"prompt\"}} lines")
    return out


def estimate_tokens(text: str) -> int:
    """~4 characters a token: only used when a provider reports no output token count."""
    return max(1, round(len(text) / 4)) if text else 0


class AbaJob:
    name = "aba"
    group_label = "variant"

    def __init__(self, cfg: RunConfig) -> None:
        if cfg.aba is None:
            raise ConfigError("job = 'aba' needs an [aba] table with variants")
        self.cfg = cfg
        self.acfg = cfg.aba
        if not self.acfg.variants:
            raise ConfigError("field 'aba.variants' is empty; fix: add [[aba.variants]] tables (control, treatment)")
        names = [v.name for v in self.acfg.variants]
        if len(set(names)) != len(names):
            raise ConfigError("field 'aba.variants': variant names must be unique")
        self.variants: dict[str, Variant] = {v.name: v for v in self.acfg.variants}
        self.prompts = read_prompts(bundled_file(self.acfg.prompts_file))
        if self.acfg.max_prompts:
            self.prompts = self.prompts[: self.acfg.max_prompts]

    def items(self) -> list[WorkItem]:
        out = []
        # Prompt-major order: both variants advance together, so a partial run still compares like with like.
        for pid, prompt in self.prompts:
            for v in self.acfg.variants:
                out.append(WorkItem(
                    id=item_id(self.name, f"{v.name}|{pid}", 0), job=self.name, group=v.name, key=pid,
                    replicate=0, prompt=prompt, system=self.system_prompt(v.name),
                    meta={"prompt_id": pid},
                ))
        return out

    def targets(self) -> dict[str, int]:
        return {v.name: len(self.prompts) for v in self.acfg.variants}

    def system_prompt(self, variant: str) -> str:
        # {token_budget} and {max_output_tokens} in a variant's prompt are filled from the config.
        text = self.variants[variant].system_prompt
        return (text.replace("{token_budget}", str(self.acfg.token_budget))
                .replace("{max_output_tokens}", str(self.acfg.max_output_tokens)))

    def request(self, item: WorkItem, max_tokens: int, temperature: float, ask_think: bool,
                history: list[tuple[str, Evaluation | None]]) -> Request:
        # The variant's prompt alone (no <think> request, no feedback): the experiment's conditions.
        # max_tokens is the job's max_output_tokens, not the backend's default.
        # budget_stated: the variant's prompt carries the {token_budget} placeholder (the treatment).
        meta = sim_meta(self.name, item, "generate",
                        budget_stated="{token_budget}" in self.variants[item.group].system_prompt,
                        token_budget=self.acfg.token_budget)
        return Request(system=self.system_prompt(item.group),
                       messages=[{"role": "user", "content": item.prompt}],
                       max_tokens=self.acfg.max_output_tokens, temperature=temperature, sim_meta=meta)

    def evaluate(self, item: WorkItem, completion: Completion, text: str) -> Evaluation:
        rubric = verify_aba(text, completion, self.acfg.token_budget)
        failing = [r for r in rubric if not r["passed"]]
        score = round(sum(r["score"] for r in rubric) / len(rubric), 4)
        detail = "ok" if not failing else "; ".join(f"{r['criterion']}: {r['explanation']}" for r in failing)
        return Evaluation(
            score=score, passed=not failing, rubric=rubric, text=text.strip(),
            feedback=[r["instruction"] for r in failing], detail=detail,
            fields={"variant": item.group, "response": text.strip()}, synth_heading=item.group,
        )

    def describe(self, item: WorkItem) -> dict[str, str]:
        return {"variant": item.group, "prompt id": item.key, "token budget": str(self.acfg.token_budget)}


def token_stats(completion: Completion, text: str) -> dict[str, Any]:
    """Input, output and total for ONE completion, each counted once (total = input + output).
    Seed 002's logs double-counted the input in the total; this is the one place the sum is made."""
    out = completion.output_tokens
    estimated = out <= 0 and bool(text)
    if estimated:
        out = estimate_tokens(text)
    inp = max(0, completion.input_tokens)
    return {"input": inp, "output": out, "total": inp + out, "estimated": estimated}


def verify_aba(text: str, completion: Completion, token_budget: int) -> list[dict[str, Any]]:
    """Three checks in the poetry rubric's shape: non-empty output, finish_reason stop, output ≤ budget."""
    body = text.strip()
    ts = token_stats(completion, body)
    fr = completion.finish_reason
    fr_raw = f" ({completion.finish_reason_raw})" if completion.finish_reason_raw and \
        completion.finish_reason_raw != fr else ""
    within = ts["output"] <= token_budget
    tokens_actual = (f"{ts['output']} output tokens{' (estimated)' if ts['estimated'] else ''}; "
                     f"input {ts['input']}, total {ts['total']}")

    def item(criterion: str, expected: str, actual: str, ok: bool, why: str, fix: str) -> dict[str, Any]:
        return RubricItem(criterion, expected, actual, 1.0 if ok else 0.0, ok, why, "" if ok else fix).to_dict()

    return [
        item("non_empty", "a non-empty answer", f"{len(body)} chars", bool(body),
             "the answer has content" if body else "the answer is empty",
             "Answer the question; do not return an empty message."),
        item("finish_stop", "finish_reason stop", fr + fr_raw, fr == "stop",
             "the answer ended on its own" if fr == "stop" else f"the answer ended with {fr}, not stop",
             "Finish the answer completely within the allowed length."),
        item("token_budget", f"<= {token_budget} output tokens", tokens_actual, within,
             "within the token budget" if within else f"{ts['output'] - token_budget} tokens over the budget",
             f"Keep the whole answer under {token_budget} tokens."),
    ]
