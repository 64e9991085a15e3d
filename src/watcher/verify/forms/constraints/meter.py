"""The meter constraint: stress patterns per line against a metrical foot."""

from __future__ import annotations

from functools import lru_cache

from watcher.verify.forms.constraints.base import Constraint, Poem, pct


class Meter(Constraint):
    """Stress pattern per line (e.g. iambic pentameter '0101010101'). Monosyllables may take either
    stress, an inverted first foot and a feminine ending are allowed: only clear clashes count."""

    criterion = "meter"

    def __init__(self, pattern: str = "01" * 5, name: str = "iambic pentameter", weight: float = 0.5,
                 pass_at: float = 0.7) -> None:
        super().__init__(weight, pass_at)
        self.pattern, self.name = pattern, name

    def expected(self) -> str:
        return f"{self.name} ({self.pattern})"

    def instruction(self) -> str:
        return f"Write in {self.name}: each line follows the stress pattern {self._words()}."

    def _words(self) -> str:
        return " ".join("da-DUM" if self.pattern[i:i + 2] == "01" else self.pattern[i:i + 2]
                        for i in range(0, len(self.pattern), 2))

    def _clashes(self, stress: str) -> int:
        return _meter_clashes(stress, self.pattern)

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        total, bad = 0.0, []
        pat = self.pattern
        for i, f in enumerate(poem.facts):  # f[3]: the line's stress string
            c = _meter_clashes(f[3], pat)
            total += max(0.0, 1.0 - max(0, c - 1) / 3)
            if c > 1 and len(bad) < 3:
                bad.append(f"line {i + 1} ({c} stress clashes)")
        score = total / n
        why = f"lines scan as {self.name}" if not bad else "off meter: " + ", ".join(bad)
        return score, f"{pct(score)} scan", why


@lru_cache(maxsize=65536)
def _meter_clashes(stress: str, pat: str) -> int:
    """Clear stress clashes against a pattern, forgiving an inverted first foot and one extra
    (feminine) syllable; missing syllables count as clashes."""

    def count(p: str) -> int:
        c = sum(1 for s, e in zip(stress, p, strict=False) if s != "?" and s != e)
        extra = len(stress) - len(p)
        return c + (max(0, extra - 1) if extra > 0 else -extra)

    inverted = pat[1] + pat[0] + pat[2:] if len(pat) >= 2 else pat
    return min(count(pat), count(inverted))
