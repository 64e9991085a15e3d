"""Composable form constraints. Each one scores a poem (0..1, partial credit), returns a rubric item,
and can say in plain English what it asks for: the same sentence goes into generation prompts and,
when the constraint fails, back to the model as retry feedback.

This module: the poem as the constraints see it (`Poem`), the `Constraint` base, shared helpers.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import lru_cache

from watcher.verify.forms import phonetics as ph
from watcher.verify.forms.clean import paragraphs
from watcher.verify.rubric import RubricItem


@lru_cache(maxsize=65536)
def _line_facts(line: str) -> tuple[tuple[str, ...], int, int, str]:
    """words, fewest and most syllables, stress string: cached per line string (lines recur a lot)."""
    ws = ph.line_words(line)
    lo, hi = ph.line_syllable_range(line)
    return ws, lo, hi, ph.line_stress(line)


class Poem:
    """A cleaned poem split into stanzas (blank-line separated) and non-blank lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stanzas = [[ln.strip() for ln in st] for st in paragraphs(text.splitlines())]
        self.lines = [ln for st in self.stanzas for ln in st]
        self._facts: list[tuple[tuple[str, ...], int, int, str]] | None = None

    @property
    def facts(self) -> list[tuple[tuple[str, ...], int, int, str]]:
        """Per-line facts, looked up once per poem (constraints ask for the same lines many times)."""
        if self._facts is None:
            self._facts = [_line_facts(ln) for ln in self.lines]
        return self._facts

    def words(self, i: int) -> tuple[str, ...]:
        return self.facts[i][0] if 0 <= i < len(self.lines) else ()

    def syllable_range(self, i: int) -> tuple[int, int]:
        f = self.facts[i]
        return f[1], f[2]

    def stress(self, i: int) -> str:
        return self.facts[i][3]

    def end_word(self, i: int) -> str:
        ws = self.words(i)
        return ws[-1] if ws else ""


def line_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Fuzzy equality of two lines' word sequences (refrains may vary a little)."""
    if not a or not b:
        return 0.0
    if tuple(a) == tuple(b):
        return 1.0
    return difflib.SequenceMatcher(None, list(a), list(b), autojunk=False).ratio()


def pct(x: float) -> str:
    return f"{round(x * 100)}%"


class Constraint:
    """Base: subclasses set `criterion` and implement `instruction` and `evaluate`."""

    criterion = "constraint"
    # Factors multiply the whole score by floor + (1 - floor) * their score; None: an ordinary weighted
    # criterion. Shape (line count, stanza sizes, a haiku's syllables per line) is a factor because a
    # poem of the wrong shape is not an instance of the form whatever its rhymes do; sanity checks
    # every poem passes (line order, no repeats) are factors of weight 0 so they only ever take away:
    # as weighted criteria they would lift every poem's score against every form alike.
    factor_floor: float | None = None

    def __init__(self, weight: float = 1.0, pass_at: float = 0.85) -> None:
        self.weight = weight
        self.pass_at = pass_at

    def instruction(self) -> str:
        raise NotImplementedError

    def expected(self) -> str:
        raise NotImplementedError

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        """(score, actual, explanation)."""
        raise NotImplementedError

    def check(self, poem: Poem) -> RubricItem:
        score, actual, why = self.evaluate(poem)
        score = min(1.0, max(0.0, score))
        texts = self.__dict__.get("_texts")
        if texts is None:  # expected() and instruction() depend on the constraint alone: build them once
            texts = self.__dict__["_texts"] = (self.expected(), self.instruction())
        return RubricItem(
            criterion=self.criterion, expected=texts[0], actual=actual, score=score,
            passed=score >= self.pass_at - 1e-9, explanation=why, instruction=texts[1],
            weight=self.weight,
        )
