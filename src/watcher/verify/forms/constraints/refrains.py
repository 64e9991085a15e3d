"""Repetition constraints: refrain lines (villanelle, rondeau, triolet), pantoum line pairs, and
the sestina's end-word rotation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from watcher.verify.forms.constraints.base import Constraint, Poem, line_similarity


class Refrain(Constraint):
    """Repeated lines: each (source, repeat) pair of 0-based line indexes should be (nearly) the same
    line. `prefix` compares the repeat with the opening words of the source (rondeau's rentrement).
    `pairs_fn` computes pairs from the poem for forms whose length varies (pantoum)."""

    criterion = "refrain"

    def __init__(self, pairs: Sequence[tuple[int, int]] = (), describe: str = "", criterion: str = "refrain",
                 prefix: bool = False, threshold: float = 0.8, weight: float = 1.5,
                 pairs_fn: Callable[[Poem], list[tuple[int, int]]] | None = None,
                 factor_floor: float | None = None) -> None:
        super().__init__(weight, pass_at=0.85)
        self.factor_floor = factor_floor  # the pantoum's repeats are its shape
        self.pairs = list(pairs)
        self.describe = describe
        self.criterion = criterion
        self.prefix = prefix
        self.threshold = threshold
        self.pairs_fn = pairs_fn

    def expected(self) -> str:
        if self.pairs_fn:
            return "repeated lines in place"
        return ", ".join(f"{b + 1}={a + 1}" for a, b in self.pairs)

    def instruction(self) -> str:
        return self.describe

    def _sim(self, poem: Poem, a: int, b: int) -> float:
        wa, wb = poem.words(a), poem.words(b)
        if self.prefix and wb:
            if len(wb) > max(1, len(wa) * 2 // 3):
                return 0.5 * line_similarity(wa[:len(wb)], wb)  # the refrain is a fragment, not the line
            wa = wa[:len(wb)]
        r = line_similarity(wa, wb)
        if r >= self.threshold:
            return 1.0
        return max(0.0, (r - 0.3) / (self.threshold - 0.3)) * 0.8

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        pairs = self.pairs_fn(poem) if self.pairs_fn else self.pairs
        if not pairs:
            return 0.0, "no lines", "not enough lines for the repeated lines"
        n = len(poem.lines)
        total, bad = 0.0, []
        for a, b in pairs:
            s = self._sim(poem, a, b) if a < n and b < n else 0.0
            total += s
            if s < 1:
                bad.append(f"line {b + 1} should repeat line {a + 1}" + (" (missing)" if b >= n else ""))
        score = total / len(pairs)
        ok = len(pairs) - len(bad)
        why = "all repeats in place" if not bad else "; ".join(bad[:3]) + (
            f" (+{len(bad) - 3} more)" if len(bad) > 3 else "")
        return score, f"{ok}/{len(pairs)} repeats", why


def pantoum_pairs(poem: Poem) -> list[tuple[int, int]]:
    """Lines 2 and 4 of each quatrain return as lines 1 and 3 of the next; the last quatrain's 2 and 4
    bring back the first's 3 and 1 (the classic circular close)."""
    k = max(len(poem.lines) // 4, 2)
    pairs: list[tuple[int, int]] = []
    for s in range(k - 1):
        b = 4 * s
        pairs += [(b + 1, b + 4), (b + 3, b + 6)]
    last = 4 * (k - 1)
    pairs += [(2, last + 1), (0, last + 3)]
    return pairs


def _stem(w: str) -> str:
    w = w.lower().strip("'")
    for suf in ("'s", "es", "s"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


SESTINA_ORDER = (5, 0, 4, 1, 3, 2)  # retrogradatio cruciata: 6 1 5 2 4 3


class EndWordRotation(Constraint):
    criterion = "end_words"

    def __init__(self, weight: float = 2.5) -> None:
        super().__init__(weight, pass_at=0.85)

    def expected(self) -> str:
        return "6 end words rotating 615243; envoi uses all six"

    def instruction(self) -> str:
        return ("Choose six end words in the first stanza and end the lines of each later stanza with the "
                "same six words in the order 6-1-5-2-4-3 of the stanza before; in the three-line envoi, "
                "use all six words (two per line, one of them at the line's end).")

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n < 6:
            return 0.0, f"{n} lines", "the first stanza needs six lines"
        order = [_stem(poem.end_word(i)) for i in range(6)]
        hits = checks = 0
        bad: list[str] = []
        for st in range(1, 6):
            order = [order[k] for k in SESTINA_ORDER]
            for k in range(6):
                i = st * 6 + k
                checks += 1
                got = _stem(poem.end_word(i)) if i < n else ""
                if got and got == order[k]:
                    hits += 1
                elif len(bad) < 3:
                    bad.append(f"line {i + 1} should end with '{order[k]}'" + ("" if i < n else " (missing)"))
        envoi_words = {_stem(w) for i in range(36, min(n, 39)) for w in poem.words(i)}
        first = {_stem(poem.end_word(i)) for i in range(6)}
        for w in first:
            checks += 1
            if w in envoi_words:
                hits += 1
        if len(first) < 6:
            bad.insert(0, "the first stanza's six end words are not all different")
        score = hits / checks * (len(first) / 6)
        why = "end words rotate correctly" if score >= 1 else "; ".join(bad[:3]) or "envoi misses end words"
        return score, f"{hits}/{checks} end words", why


class NoRepeats(Constraint):
    """Forms without refrains: a line repeated (nearly) word for word is padding, not a new line,
    and must not pass for a rhyme either (a triolet is not ottava rima)."""

    criterion = "no_repeats"

    def __init__(self, weight: float = 0.0, threshold: float = 0.8, factor_floor: float = 0.4) -> None:
        super().__init__(weight, pass_at=0.99)
        self.threshold = threshold
        self.factor_floor = factor_floor

    def expected(self) -> str:
        return "no repeated lines"

    def instruction(self) -> str:
        return "Do not repeat lines: this form has no refrain."

    def _near(self, a: tuple[str, ...], b: tuple[str, ...]) -> bool:
        # The similarity ratio is at most 2*min/(len a + len b): skip the matcher when that is too low.
        if 2 * min(len(a), len(b)) < self.threshold * (len(a) + len(b)):
            return False
        return line_similarity(a, b) >= self.threshold

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        ends = [poem.end_word(i) for i in range(n)]
        if len(set(ends)) == n:  # a repeat ends on an earlier line's end word: none can occur
            return 1.0, "0 repeated", "no repeated lines"
        # Linear, for inputs of any length: exact repeats by a dict, near repeats (a refrain varied a
        # little) only among the last few earlier lines with the same end word and a similar length.
        repeats: list[tuple[int, int]] = []
        seen: dict[tuple[str, ...], int] = {}
        by_end: dict[str, list[int]] = {}
        for i in range(n):
            ws = poem.words(i)
            j = seen.get(ws) if ws else None
            if j is None and ws:
                j = next((k for k in reversed(by_end.get(ws[-1], [])[-3:])
                          if self._near(ws, poem.words(k))), None)
            if j is not None:
                repeats.append((j, i))
            elif ws:
                seen[ws] = i
                by_end.setdefault(ws[-1], []).append(i)
        # Each repeat costs twice its share of the lines: two repeats in eight lines halve the score.
        score = max(0.0, 1.0 - 2.0 * len(repeats) / n)
        why = "no repeated lines" if not repeats else "; ".join(
            f"line {i + 1} repeats line {j + 1}" for j, i in repeats[:3])
        return score, f"{len(repeats)} repeated", why
