"""Order-sensitive constraints that hold whatever the form: the lines read in their written order
(sentence flow), and unrhymed forms stay unrhymed.

Rhyme positions, refrain positions and per-line syllable targets already notice most reorderings;
`LineOrder` catches the rest (a haiku whose lines swap keeps 5-7-5, a limerick whose closing line
moves up keeps its rhymes) from punctuation and capitals, the only order marks a line carries.
"""

from __future__ import annotations

import re
from functools import lru_cache

from watcher.verify.forms import phonetics as ph
from watcher.verify.forms.constraints.base import Constraint, Poem

_TERMINAL = ".!?…"
_CONTINUING = ",;:-–—"
_TRAILING = "\"'’”)]»*_ "
# A poem rarely opens on a word that joins it to a sentence before it.
_CONTINUES_SENTENCE = frozenset({"and", "or", "nor"})


@lru_cache(maxsize=65536)
def _line_marks(line: str) -> tuple[bool | None, str]:
    """(starts with a capital: True/False, None when it cannot tell — "I", a digit; end mark:
    'T' terminal, 'C' continuing, 'N' none)."""
    m = re.search(r"[^\W_]", line)
    cap: bool | None = None
    if m and not m.group().isdigit():
        ch = m.group()
        rest = line[m.end():m.end() + 1]
        cap = None if ch == "I" and (not rest or not rest.isalpha()) else (ch.isupper() if ch.isalpha() else None)
        if ch.isalpha() and not (ch.isupper() or ch.islower()):  # scripts without case
            cap = None
    tail = line.rstrip(_TRAILING)
    end = "N"
    if tail and tail[-1] in _TERMINAL:
        end = "T"
    elif tail and tail[-1] in _CONTINUING:
        end = "C"
    return cap, end


class LineOrder(Constraint):
    """The poem opens on its first line and closes on its last: line 1 is capitalised when the poem
    uses capitals, the last line ends a sentence when the poem punctuates its sentences, and after a
    full stop the next line starts a sentence (unless every line starts with a capital anyway)."""

    criterion = "line_order"

    def __init__(self, weight: float = 0.0, factor_floor: float = 0.7) -> None:
        super().__init__(weight, pass_at=0.99)
        self.factor_floor = factor_floor

    def expected(self) -> str:
        return "opens and closes like a poem read in order"

    def instruction(self) -> str:
        return ("Keep the lines in reading order: start the poem with a capitalised first line, end it "
                "with a complete sentence, and start a new sentence after each full stop.")

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        marks = [_line_marks(ln) for ln in poem.lines]
        caps = [c for c, _ in marks]
        ends = [e for _, e in marks]
        checks, bad = 0, []
        if any(caps):
            checks += 1
            if caps[0] is False:
                bad.append("line 1 does not start the poem (lowercase)")
        first = poem.words(0)
        if first and first[0].lower() in _CONTINUES_SENTENCE:
            checks += 1
            bad.append(f"line 1 opens on '{first[0]}', as a line continuing a sentence does")
        if "T" in ends:
            checks += 1
            if ends[-1] != "T":
                bad.append(f"the last line ends mid-sentence ('{poem.lines[-1][-12:]}')")
        elif ends[-1] == "C":
            checks += 1
            bad.append("the last line ends on a comma or dash")
        if any(caps) and not all(c is not False for c in caps):
            # The poem capitalises sentence starts only: a full stop should be followed by one.
            for i in range(n - 1):
                if ends[i] == "T":
                    checks += 1
                    if caps[i + 1] is False:
                        bad.append(f"line {i + 2} follows a full stop in lowercase")
        if not checks:
            return 1.0, "no order marks", "no punctuation or capitals to judge the order by"
        score = (checks - len(bad)) / checks
        why = "lines read in order" if not bad else "; ".join(bad[:3])
        return score, f"{checks - len(bad)}/{checks} order marks", why


class Unrhymed(Constraint):
    """Unrhymed forms (haiku, tanka, cinquain): one chance rhyme is fine, a rhyme scheme is not."""

    criterion = "unrhymed"

    def __init__(self, weight: float = 0.0, allowed: int = 2, factor_floor: float = 0.6) -> None:
        super().__init__(weight, pass_at=0.99)
        self.allowed = allowed
        self.factor_floor = factor_floor

    def expected(self) -> str:
        return f"at most {self.allowed} rhyming lines"

    def instruction(self) -> str:
        return "Do not rhyme the lines: these forms are unrhymed."

    def evaluate(self, poem: Poem) -> tuple[float, str, str]:
        n = len(poem.lines)
        if n == 0:
            return 0.0, "no lines", "no lines"
        rhyming: set[int] = set()
        for i in range(n):
            for j in range(i + 1, min(n, i + 9)):  # near lines only: bounded on long inputs
                if ph.line_rhyme_score(poem.lines[i], poem.lines[j]) >= ph.NEAR:
                    rhyming.update((i, j))
        extra = max(0, len(rhyming) - self.allowed)
        score = 1.0 - extra / max(1, n - self.allowed)
        lines = ", ".join(str(i + 1) for i in sorted(rhyming))
        why = "unrhymed" if not extra else f"lines {lines} rhyme: a rhyme scheme in an unrhymed form"
        return score, f"{len(rhyming)} rhyming lines", why
