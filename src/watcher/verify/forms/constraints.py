"""Composable form constraints. Each one scores a poem (0..1, partial credit), returns a rubric item,
and can say in plain English what it asks for: the same sentence goes into generation prompts and,
when the constraint fails, back to the model as retry feedback."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
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

    def words(self, i: int) -> tuple[str, ...]:
        return _line_facts(self.lines[i])[0] if 0 <= i < len(self.lines) else ()

    def syllable_range(self, i: int) -> tuple[int, int]:
        f = _line_facts(self.lines[i])
        return f[1], f[2]

    def stress(self, i: int) -> str:
        return _line_facts(self.lines[i])[3]

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


def _pct(x: float) -> str:
    return f"{round(x * 100)}%"


class Constraint:
    """Base: subclasses set `criterion` and implement `instruction` and `evaluate`."""

    criterion = "constraint"

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
        return RubricItem(
            criterion=self.criterion, expected=self.expected(), actual=actual, score=score,
            passed=score >= self.pass_at - 1e-9, explanation=why, instruction=self.instruction(),
            weight=self.weight,
        )


class LineCount(Constraint):
    criterion = "line_count"

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


def _shape_words(shape: Sequence[int]) -> str:
    if len(shape) == 1:
        return f"one {shape[0]}-line stanza"
    return "stanzas of " + ", ".join(map(str, shape)) + " lines"


Target = tuple[int, int]  # inclusive syllable range


class Syllables(Constraint):
    """Syllables per line: a fixed per-line list (haiku) or one range for every line, with tolerance."""

    criterion = "syllables"

    def __init__(self, per_line: Sequence[int | Target] | None = None, each: int | Target | None = None,
                 tolerance: int = 0, weight: float = 1.0, pass_at: float = 0.85) -> None:
        super().__init__(weight, pass_at)
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
        lo, hi = poem.syllable_range(i)
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


def scheme_letters(scheme: str) -> list[str]:
    """'ABAB CDCD' -> ['A','B','A','B','C',...]; '.' or 'x' marks a line with no rhyme duty."""
    return [c for c in scheme if not c.isspace()]


def _rhyme_groups(labels: Sequence[str], offset: int) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(labels):
        if c in ".xX-":
            continue
        groups.setdefault(c, []).append(offset + i)
    return groups


def _score_groups(poem: Poem, groups: dict[str, list[int]], allow_identical: bool,
                  notes: list[str] | None) -> tuple[float, int]:
    """Sum of rhyme scores over rhyme duties (each line after a group's first), and the duty count."""
    total, duties = 0.0, 0
    n = len(poem.lines)
    for members in groups.values():
        for k in range(1, len(members)):
            duties += 1
            i = members[k]
            if i >= n:
                if notes is not None and len(notes) < 4:
                    notes.append(f"line {i + 1} missing")
                continue
            best = 0.0
            for j in members[:k]:
                if j >= n:
                    continue
                ok_same = allow_identical
                if not ok_same and poem.end_word(i) == poem.end_word(j):
                    # A repeated line (refrain) may end on the same word; a fresh line may not.
                    ok_same = line_similarity(poem.words(i), poem.words(j)) >= 0.8
                best = max(best, ph.line_rhyme_score(poem.lines[i], poem.lines[j], ok_same))
                if best >= 1.0:
                    break
            total += best
            if best < 1.0 and notes is not None and len(notes) < 4:
                j = members[0]
                if j < n:
                    a, b = poem.end_word(j) or "?", poem.end_word(i) or "?"
                    label = "identical" if a == b and best == 0 else ph.rhyme_label(best)
                    notes.append(f"lines {j + 1}/{i + 1} {a}/{b} {label}")
    return total, duties


class RhymeScheme(Constraint):
    """Rhyme scheme over the whole poem (one of several alternatives), or repeated per `stanza`-line
    chunk (quatrains, ottava rima). Perfect rhymes score 1, near and slant rhymes less."""

    criterion = "rhyme_scheme"

    def __init__(self, schemes: str | Sequence[str], stanza: int | None = None, allow_identical: bool = False,
                 weight: float = 2.0, pass_at: float = 0.8, describe: str | None = None) -> None:
        super().__init__(weight, pass_at)
        self.schemes = [schemes] if isinstance(schemes, str) else list(schemes)
        self.letters = [scheme_letters(s) for s in self.schemes]
        self.stanza = stanza
        self.allow_identical = allow_identical
        self.describe = describe

    def expected(self) -> str:
        s = " or ".join(self.schemes)
        return f"{s} per stanza" if self.stanza else s

    def instruction(self) -> str:
        if self.describe:
            return self.describe
        s = " or ".join(self.schemes)
        where = f"in every {self.stanza}-line stanza" if self.stanza else "across the poem"
        return (f"Follow the rhyme scheme {s} {where}: lines with the same letter end in words that rhyme "
                "fully (not just look alike), and do not reuse the same end word as its own rhyme.")

    def _run(self, poem: Poem, letters: list[str], offsets: Sequence[int]) -> tuple[float, int, list[str]]:
        total, duties, notes = 0.0, 0, []
        for off in offsets:
            t, d = _score_groups(poem, _rhyme_groups(letters, off), self.allow_identical, notes)
            total, duties = total + t, duties + d
        return total, duties, notes

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        # Stanza forms keep one scheme throughout: the best single scheme over all stanzas, not a
        # different one per stanza (which would forgive swapped lines: ABAB -> ABBA).
        offsets = range(0, n, self.stanza) if self.stanza else [0]
        best: tuple[float, str, list[str]] | None = None
        for scheme, letters in zip(self.schemes, self.letters, strict=True):
            total, duties, notes = self._run(poem, letters, offsets)
            frac = total / duties if duties else 0.0
            if best is None or frac > best[0]:
                best = (frac, scheme, notes)
        assert best is not None
        score, scheme, notes = best
        actual = f"{_pct(score)} of rhymes" + (f" ({scheme})" if len(self.schemes) > 1 else "")
        why = "all rhymes hold" if score >= 1 else "; ".join(notes[:3]) or "rhymes missing"
        return score, actual, why


class TerzaRima(RhymeScheme):
    """Interlocking tercets ABA BCB CDC ..., closed by a line or couplet on the last middle rhyme."""

    criterion = "rhyme_scheme"

    def __init__(self, weight: float = 2.0) -> None:
        super().__init__("ABA BCB CDC ...", weight=weight, describe=(
            "Use terza rima: tercets rhyming ABA BCB CDC and so on, each tercet's middle line giving the "
            "rhyme of the next tercet's first and third lines; end with a single line or a couplet "
            "rhyming with the last tercet's middle line."))

    @staticmethod
    def labels(n: int) -> list[str]:
        out: list[str] = []
        t = 0
        while len(out) + 3 <= n:
            out += [f"g{t}", f"g{t + 1}", f"g{t}"]
            t += 1
        out += [f"g{t}"] * (n - len(out))  # closing line(s) take the last middle rhyme
        return out

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n < 3:
            return 0.0, f"{n} lines", "too short for interlocking tercets"
        groups: dict[str, list[int]] = {}
        for i, g in enumerate(self.labels(n)):
            groups.setdefault(g, []).append(i)
        notes: list[str] = []
        total, duties = _score_groups(poem, groups, False, notes)
        score = total / duties if duties else 0.0
        why = "all rhymes hold" if score >= 1 else "; ".join(notes[:3])
        return score, f"{_pct(score)} of rhymes", why


class Refrain(Constraint):
    """Repeated lines: each (source, repeat) pair of 0-based line indexes should be (nearly) the same
    line. `prefix` compares the repeat with the opening words of the source (rondeau's rentrement).
    `pairs_fn` computes pairs from the poem for forms whose length varies (pantoum)."""

    criterion = "refrain"

    def __init__(self, pairs: Sequence[tuple[int, int]] = (), describe: str = "", criterion: str = "refrain",
                 prefix: bool = False, threshold: float = 0.8, weight: float = 1.5,
                 pairs_fn: Callable[[Poem], list[tuple[int, int]]] | None = None) -> None:
        super().__init__(weight, pass_at=0.85)
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


def _common_suffix(a: Sequence[str], b: Sequence[str], max_words: int = 5) -> tuple[str, ...]:
    k = 0
    while k < min(len(a), len(b), max_words) and a[-1 - k] == b[-1 - k]:
        k += 1
    if k >= min(len(a), len(b)):  # whole line repeated: not a radif
        k = min(k, max(0, min(len(a), len(b)) - 1))
    return tuple(a[len(a) - k:]) if k else ()


class Radif(Constraint):
    """Ghazal radif: both lines of the opening couplet and the second line of every couplet end with the
    same word or phrase."""

    criterion = "radif"

    def __init__(self, weight: float = 1.5) -> None:
        super().__init__(weight, pass_at=0.85)

    def expected(self) -> str:
        return "same closing word(s) on lines 1, 2 and every couplet's 2nd line"

    def instruction(self) -> str:
        return ("End both lines of the first couplet with the same word or short phrase (the radif), and end "
                "the second line of every later couplet with that same radif.")

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n < 2:
            return 0.0, "none", "needs at least one couplet"
        radif = _common_suffix(poem.words(0), poem.words(1))
        if not radif:
            return 0.0, "none", "lines 1 and 2 do not end with the same word(s)"
        k = len(radif)
        seconds = list(range(3, n, 2))
        if not seconds:
            return 0.5, " ".join(radif), "only one couplet"
        ok = [i for i in seconds if poem.words(i)[-k:] == radif]
        bad = [i + 1 for i in seconds if i not in ok]
        score = len(ok) / len(seconds)
        why = f"radif '{' '.join(radif)}' kept" if not bad else \
            f"radif '{' '.join(radif)}' missing at line(s) {', '.join(map(str, bad[:5]))}"
        return score, " ".join(radif), why


class Qafiya(Constraint):
    """Ghazal qafiya: the word just before the radif rhymes across the couplets' radif lines."""

    criterion = "qafiya"

    def __init__(self, weight: float = 1.5) -> None:
        super().__init__(weight, pass_at=0.8)

    def expected(self) -> str:
        return "rhyming word before the radif"

    def instruction(self) -> str:
        return ("Put a rhyming word (the qafiya) just before the radif in lines 1 and 2 and in the second "
                "line of every couplet; use a different rhyme word each time.")

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n < 2:
            return 0.0, "none", "needs at least one couplet"
        k = len(_common_suffix(poem.words(0), poem.words(1)))
        idx = [0, 1] + list(range(3, n, 2))

        def qword(i: int) -> str:
            ws = poem.words(i)
            return ws[-1 - k] if len(ws) > k else ""

        words = [qword(i) for i in idx]
        total, bad = 0.0, []
        for pos in range(1, len(words)):
            # Against the opening couplet's rhymes and the previous couplet's: linear, not quadratic.
            prev = {words[0], words[1], words[pos - 1]} if pos > 1 else {words[0]}
            best = max((ph.rhyme_score(words[pos], w) for w in prev if w), default=0.0)
            total += best
            if best < 1 and len(bad) < 3:
                bad.append(f"line {idx[pos] + 1} '{words[pos] or '?'}'")
        score = total / (len(words) - 1)
        why = "qafiya rhymes hold" if not bad else "weak qafiya: " + ", ".join(bad)
        return score, f"{_pct(score)} rhyme", why


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
        for i in range(n):
            c = self._clashes(poem.stress(i))
            total += max(0.0, 1.0 - max(0, c - 1) / 3)
            if c > 1 and len(bad) < 3:
                bad.append(f"line {i + 1} ({c} stress clashes)")
        score = total / n
        why = f"lines scan as {self.name}" if not bad else "off meter: " + ", ".join(bad)
        return score, f"{_pct(score)} scan", why


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
