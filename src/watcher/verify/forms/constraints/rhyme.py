"""Rhyme constraints: end-rhyme schemes (terza rima's chain among them) and the ghazal's radif and
qafiya (the repeated end phrase and the rhyme before it)."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.verify.forms import phonetics as ph
from watcher.verify.forms.constraints.base import Constraint, Poem, line_similarity, pct


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
                  notes: list[str] | None, refrains: bool = False) -> tuple[float, int]:
    """Sum of rhyme scores over rhyme duties (each line after a group's first), and the duty count.
    `refrains`: the form repeats lines, so a repeated line may stand in for a rhyme; elsewhere a
    repeated line is no rhyme (a triolet's refrains do not make it ottava rima)."""
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
                if not ok_same and refrains and poem.end_word(i) == poem.end_word(j):
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
                 weight: float = 2.0, pass_at: float = 0.8, describe: str | None = None,
                 refrains: bool = False) -> None:
        super().__init__(weight, pass_at)
        self.refrains = refrains
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
            t, d = _score_groups(poem, _rhyme_groups(letters, off), self.allow_identical, notes,
                                 self.refrains)
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
        actual = f"{pct(score)} of rhymes" + (f" ({scheme})" if len(self.schemes) > 1 else "")
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
        return score, f"{pct(score)} of rhymes", why


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
        return score, f"{pct(score)} rhyme", why
