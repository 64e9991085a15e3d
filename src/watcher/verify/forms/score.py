"""verify(): clean a reply, check it against a form's constraints, and weigh the rubric into one score."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watcher.verify.forms.catalog import get_form
from watcher.verify.forms.clean import clean_poem
from watcher.verify.forms.constraints.base import Poem
from watcher.verify.rubric import RubricItem


@dataclass
class VerifyResult:
    form: str
    score: float
    passed: bool
    rubric: list[RubricItem]
    text: str
    min_score: float = 0.8
    extra: dict[str, Any] = field(default_factory=dict)

    def failing(self) -> list[RubricItem]:
        return [r for r in self.rubric if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "score": round(self.score, 4),
            "passed": self.passed,
            "min_score": self.min_score,
            "rubric": [r.to_dict() for r in self.rubric],
            "text": self.text,
        }


def verify(text: str, form: str, min_score: float = 0.8, clean: bool = True) -> VerifyResult:
    """Score `text` against `form` (name or alias). Raises UnknownFormError for an unknown form."""
    f = get_form(form)
    poem_text = clean_poem(text or "") if clean else (text or "").strip()
    poem = Poem(poem_text)
    rubric = [c.check(poem) for c in f.constraints]
    total_w = sum(r.weight for r in rubric)
    score = sum(r.score * r.weight for r in rubric) / total_w if total_w else 0.0
    # Line count and stanza shape dominate: they also multiply the weighted score, so a poem of the
    # wrong shape scores low whatever its rhymes and syllables do (cross-form checks stay below 0.5).
    for c, r in zip(f.constraints, rubric, strict=True):
        if c.factor_floor is not None:
            score *= c.factor_floor + (1.0 - c.factor_floor) * r.score
    if not poem.lines:
        score = 0.0  # nothing to judge: partial credits (e.g. "no rhyme duties") must not add up
    return VerifyResult(form=f.name, score=score, passed=score >= min_score, rubric=rubric,
                        text=poem_text, min_score=min_score)
