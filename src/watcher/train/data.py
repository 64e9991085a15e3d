"""The gated export as training data: reading it, and the filters the stages and the evaluation share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from watcher.errors import TrainError
from watcher.train.config import StageConfig

_FORM_RE = re.compile(r"^\s*write an? (.+?) about\b", re.IGNORECASE)


def first_user_prompt(example: dict[str, Any]) -> str:
    for m in example.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content") or "")
    return str(example.get("prompt") or "")


def example_form(example: dict[str, Any]) -> str | None:
    """The poetry form: a `form` key, else parsed from "Write a {form} about ..."."""
    if example.get("form"):
        return str(example["form"])
    m = _FORM_RE.match(first_user_prompt(example))
    return m.group(1).strip() if m else None


def stage_matches(example: dict[str, Any], stage: StageConfig) -> bool:
    if not stage.forms and not stage.categories:
        return True
    if stage.forms:
        form = (example_form(example) or "").casefold()
        if form in {f.casefold() for f in stage.forms}:
            return True
    if stage.categories:
        cat = str(example.get("category") or "").casefold()
        if cat in {c.casefold() for c in stage.categories}:
            return True
    return False


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TrainError(f"{path}:{n}: not valid JSON ({e}); fix: re-run `watcher gate`") from None
    return out


def iter_stage_examples(examples: Iterable[dict[str, Any]], stage: StageConfig) -> list[dict[str, Any]]:
    return [e for e in examples if stage_matches(e, stage)]
