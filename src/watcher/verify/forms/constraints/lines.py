"""Constraints on the poem's lines: how many, their stanza shape, syllables per line, and a
clerihew's named person."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.verify.forms import phonetics as ph
from watcher.verify.forms.constraints.base import Constraint, Poem


class LineCount(Constraint):
    criterion = "line_count"
    factor_floor = 0.0

    def __init__(self, n: int | None = None, min_n: int | None = None, max_n: int | None = None,
                 weight: float = 1.0) -> None:
        super().__init__(weight, pass_at=1.0)
        self.n, self.min_n, self.max_n = n, min_n if n is None else n, max_n if n is None else n

    def expected(self) -> str:
        if self.n is not None:
            return str(self.n)
        if self.max_n is None:
            return f">= {self.min_n}"
        return f"{self.min_n}-{self.max_n}"

    def instruction(self) -> str:
        if self.n is not None:
            return f"Write exactly {self.n} lines."
        if self.max_n is None:
            return f"Write at least {self.min_n} lines."
        return f"Write between {self.min_n} and {self.max_n} lines."

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        k = len(poem.lines)
        lo = self.min_n or 0
        hi = self.max_n if self.max_n is not None else 10**9
        if lo <= k <= hi:
            return 1.0, str(k), f"{k} lines"
        target = lo if k < lo else hi
        diff = abs(k - target)
        # Each missing/extra line costs twice its share: 13 of 14 lines is clearly not a sonnet.
        score = max(0.0, 1.0 - 2.0 * diff / max(target, 1))
        word = "missing" if k < lo else "too many"
        return score, str(k), f"{k} lines, {diff} {word} (expected {self.expected()})"


class StanzaShape(Constraint):
    """Stanza count and sizes: either one of several exact shapes, or `size`-line stanzas throughout
    (optionally with a different last stanza, e.g. terza rima's closing couplet)."""

    criterion = "stanzas"
    factor_floor = 0.0
    # A poem written as one block where the form wants several stanzas: the breaks are missing but the
    # lines may be right, so half credit (with the score multiplied by it, such a poem fails).
    UNBROKEN = 0.5

    def __init__(self, shapes: Sequence[Sequence[int]] | None = None, size: int | None = None,
                 last: Sequence[int] = (), min_count: int = 1, weight: float = 0.5,
                 describe: str | None = None) -> None:
        super().__init__(weight, pass_at=0.99)
        self.shapes = [list(s) for s in shapes] if shapes else []
        self.size, self.last, self.min_count = size, tuple(last), min_count
        self.describe = describe

    def expected(self) -> str:
        if self.shapes:
            return " or ".join("-".join(map(str, s)) for s in self.shapes)
        tail = f" (last may be {'/'.join(map(str, self.last))})" if self.last else ""
        return f">= {self.min_count} x {self.size}{tail}"

    def instruction(self) -> str:
        if self.describe:
            return self.describe
        if self.shapes:
            opts = " or ".join(_shape_words(s) for s in self.shapes)
            return f"Arrange the lines as {opts}, stanzas separated by a blank line."
        n = {1: "single lines", 2: "couplets", 3: "tercets", 4: "quatrains"}.get(self.size or 0,
                                                                             f"{self.size}-line stanzas")
        extra = f", ending with a {' or '.join(map(str, self.last))}-line stanza" if self.last else ""
        return f"Write in {n}{extra} (at least {self.min_count}), separated by blank lines."

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        sizes = [len(s) for s in poem.stanzas]
        actual = "-".join(map(str, sizes)) or "none"
        if not sizes:
            return 0.0, actual, "no lines"
        if len(sizes) == 1 and self._splittable(sizes[0]):
            return self.UNBROKEN, actual, f"one block of {sizes[0]} lines: stanza breaks missing " \
                f"(expected {self.expected()})"
        if self.shapes:
            best, best_shape = 0.0, self.shapes[0]
            for shape in self.shapes:
                same = sum(1 for a, b in zip(sizes, shape, strict=False) if a == b)
                s = same / max(len(sizes), len(shape))
                if s > best:
                    best, best_shape = s, shape
            why = "stanzas as expected" if best >= 1 else \
                f"stanzas {actual}, expected {'-'.join(map(str, best_shape))}"
            return best, actual, why
        ok = 0
        for i, n in enumerate(sizes):
            if n == self.size or (i == len(sizes) - 1 and i > 0 and n in self.last):
                ok += 1
        score = ok / len(sizes)
        if len(sizes) < self.min_count:
            score *= len(sizes) / self.min_count
        bad = [i + 1 for i, n in enumerate(sizes) if n != self.size
               and not (i == len(sizes) - 1 and i > 0 and n in self.last)]
        why = "stanzas as expected" if score >= 1 else (
            f"stanzas {actual}; stanza(s) {', '.join(map(str, bad[:5]))} have the wrong size" if bad
            else f"{len(sizes)} stanzas, expected at least {self.min_count}")
        return score, actual, why


    def _splittable(self, n: int) -> bool:
        """A single n-line block that a multi-stanza shape of this form could divide."""
        if self.shapes:
            return any(len(s) > 1 and sum(s) == n for s in self.shapes) and [n] not in self.shapes
        size = self.size or 0
        if size <= 0 or n <= size:
            return False
        rest = n % size
        return (rest == 0 or rest in self.last) and n // size >= self.min_count


def _shape_words(shape: Sequence[int]) -> str:
    if len(shape) == 1:
        return f"one {shape[0]}-line stanza"
    return "stanzas of " + ", ".join(map(str, shape)) + " lines"


Target = tuple[int, int]  # inclusive syllable range


class Syllables(Constraint):
    """Syllables per line: a fixed per-line list (haiku) or one range for every line, with tolerance."""

    criterion = "syllables"

    def __init__(self, per_line: Sequence[int | Target] | None = None, each: int | Target | None = None,
                 tolerance: int = 0, weight: float = 1.0, pass_at: float = 0.85,
                 factor_floor: float | None = None) -> None:
        super().__init__(weight, pass_at)
        self.factor_floor = factor_floor
        self.per_line = [t if isinstance(t, tuple) else (t, t) for t in per_line] if per_line else None
        self.each = (each if isinstance(each, tuple) else (each, each)) if each is not None else None
        self.tolerance = tolerance

    @staticmethod
    def _fmt(t: Target) -> str:
        return str(t[0]) if t[0] == t[1] else f"{t[0]}-{t[1]}"

    def expected(self) -> str:
        tol = f" (±{self.tolerance})" if self.tolerance else ""
        if self.per_line:
            return "-".join(self._fmt(t) for t in self.per_line) + tol
        assert self.each is not None
        return f"{self._fmt(self.each)} per line{tol}"

    def instruction(self) -> str:
        tol = f" (give or take {self.tolerance})" if self.tolerance else ""
        if self.per_line:
            parts = ", ".join(self._fmt(t) for t in self.per_line)
            return f"Use exactly these syllable counts, line by line: {parts}{tol}."
        assert self.each is not None
        return f"Give every line {self._fmt(self.each)} syllables{tol}."

    def _line_score(self, poem: Poem, i: int, t: Target) -> tuple[float, int]:
        f = poem.facts[i]
        lo, hi = f[1], f[2]
        a, b = t[0] - self.tolerance, t[1] + self.tolerance
        gap = a - hi if hi < a else (lo - b if lo > b else 0)
        if gap <= 0:
            return 1.0, lo if lo >= a else hi
        # One syllable off in a 5-syllable line matters more than in a 10-syllable one.
        return max(0.0, 1.0 - gap / max(2.0, t[1] * 0.5)), lo if lo > b else hi

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        if self.per_line:
            targets = self.per_line
            denom = max(len(targets), n)
            idx = range(min(len(targets), n))
        else:
            assert self.each is not None
            targets = [self.each] * n
            denom = n
            idx = range(n)
        total, counts, off = 0.0, [], []
        for i in idx:
            s, c = self._line_score(poem, i, targets[i])
            total += s
            counts.append(c)
            if s < 1:
                off.append(f"line {i + 1} has {c}, expected {self._fmt(targets[i])}")
        score = total / denom
        shown = counts if len(counts) <= 20 else counts[:20]
        actual = "-".join(map(str, shown)) + ("..." if len(counts) > 20 else "")
        if self.per_line and n != len(self.per_line):
            off.append(f"{n} lines for {len(self.per_line)} syllable targets")
        why = "syllable counts fit" if not off else "; ".join(off[:3]) + (
            f" (+{len(off) - 3} more)" if len(off) > 3 else "")
        return score, actual, why


class NamesPerson(Constraint):
    """Clerihew: the first line is (or ends with) a person's name; checked as capitalised words."""

    criterion = "subject_name"

    def __init__(self, weight: float = 0.5) -> None:
        super().__init__(weight, pass_at=1.0)

    def expected(self) -> str:
        return "line 1 is a name"

    def instruction(self) -> str:
        return ("Make the first line the name of the person the clerihew is about, and little else, "
                "e.g. 'Sir Christopher Wren'.")

    _SMALL = frozenset({"the", "of", "de", "van", "von", "la", "le", "da", "di", "and", "st"})

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        if not poem.lines:
            return 0.0, "none", "no lines"
        toks = ph.WORD_RE.findall(poem.lines[0])
        core = [t for t in toks if t.lower() not in self._SMALL]
        caps = [t for t in core if t[:1].isupper() and t != "I"]
        # A clerihew opens on the name itself: a short line of mostly capitalised words.
        if core and len(toks) <= 6 and len(caps) * 3 >= len(core) * 2:
            return 1.0, " ".join(toks), "line 1 is a name"
        later = [t for t in toks[1:] if t[:1].isupper() and t != "I"]
        if later:
            return 0.5, " ".join(later), "line 1 mentions a name but is not the name itself"
        return 0.0, "none", "no capitalised name in line 1"
