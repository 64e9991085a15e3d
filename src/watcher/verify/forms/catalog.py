"""The form catalog: each classic form as a list of constraints, plus names, aliases and a description."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

from watcher.verify.forms.constraints.base import Constraint, Poem
from watcher.verify.forms.constraints.lines import LineCount, NamesPerson, StanzaShape, Syllables
from watcher.verify.forms.constraints.meter import Meter
from watcher.verify.forms.constraints.order import LineOrder, Unrhymed
from watcher.verify.forms.constraints.refrains import EndWordRotation, NoRepeats, Refrain, pantoum_pairs
from watcher.verify.forms.constraints.rhyme import Qafiya, Radif, RhymeScheme, TerzaRima


class UnknownFormError(ValueError):
    """An unknown form name; the message lists the known forms."""

    def __init__(self, name: str) -> None:
        self.name = name
        known = ", ".join(f.name for f in list_forms())
        super().__init__(f"unknown poetry form {name!r}; known forms: {known}")


def form_slug(name: str) -> str:
    """'Terza rima' -> 'terza_rima': the corpus directory name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def corpus_root() -> Path:
    return Path(str(resources.files("watcher"))) / "data" / "poems"


@dataclass
class Form:
    name: str
    description: str
    constraints: list[Constraint]
    aliases: tuple[str, ...] = ()
    num_lines: int | None = None
    default: bool = field(default=False)

    @property
    def slug(self) -> str:
        return form_slug(self.name)

    def instructions(self) -> list[str]:
        """Plain-English rules, one per constraint (for generation prompts)."""
        return [c.instruction() for c in self.constraints]

    def corpus(self) -> list[str]:
        """The bundled example poems of this form (may be empty)."""
        d = corpus_root() / self.slug
        if not d.is_dir():
            return []
        return [p.read_text(encoding="utf-8") for p in sorted(d.glob("*.txt"))]

    @cached_property
    def example_lines(self) -> list[str]:
        """The lines of the first bundled example, or [] (handy for few-shot prompts)."""
        poems = self.corpus()
        return Poem(poems[0]).lines if poems else []


PENTAMETER = Meter("01" * 5, "iambic pentameter")


def _sonnet_base(schemes: list[str], shapes: list[list[int]]) -> list[Constraint]:
    return [
        LineCount(14),
        StanzaShape(shapes),
        Syllables(each=10, tolerance=1),
        RhymeScheme(schemes),
        PENTAMETER,
    ]


def _blues_pairs(poem: Poem) -> list[tuple[int, int]]:
    return [(i, i + 1) for i in range(0, max(len(poem.lines), 9) - 2, 3)]


_FORMS: list[Form] = [
    Form("Haiku", "Three unrhymed lines of 5, 7 and 5 syllables, usually an image from nature.",
         [LineCount(3), Syllables([5, 7, 5], weight=3.0, factor_floor=0.3), Unrhymed()], ("hokku",), 3),
    Form("Tanka", "Five unrhymed lines of 5, 7, 5, 7 and 7 syllables, turning at the third line.",
         [LineCount(5), Syllables([5, 7, 5, 7, 7], weight=3.0, factor_floor=0.3), Unrhymed()], ("waka", "uta"), 5),
    Form("Limerick", "Five comic lines rhyming AABBA: three long anapestic lines and two short ones.",
         [LineCount(5), Syllables([(7, 11), (7, 11), (4, 7), (4, 7), (7, 11)], tolerance=0,
                    factor_floor=0.5),
          RhymeScheme("AABBA", weight=3.0, describe="Rhyme lines 1, 2 and 5 together and lines 3 and 4 together "
                      "(AABBA), with full rhymes.")], (), 5),
    Form("Shakespearean sonnet", "Fourteen lines of iambic pentameter: three quatrains and a couplet, "
         "ABAB CDCD EFEF GG.",
         _sonnet_base(["ABAB CDCD EFEF GG"], [[14], [4, 4, 4, 2], [12, 2]]),
         ("Sonnet", "English sonnet", "Elizabethan sonnet", "Shakespearian sonnet"), 14),
    Form("Petrarchan sonnet", "Fourteen lines of iambic pentameter: an octave ABBAABBA and a sestet "
         "(CDECDE, CDCDCD or similar) that turns the argument.",
         _sonnet_base(["ABBAABBA CDECDE", "ABBAABBA CDCDCD", "ABBAABBA CDEDCE", "ABBAABBA CDDCEE",
                       "ABBAABBA CDEEDC"], [[14], [8, 6], [4, 4, 3, 3], [4, 4, 6]]),
         ("Italian sonnet",), 14),
    Form("Spenserian sonnet", "Fourteen lines of iambic pentameter with linked quatrains: ABAB BCBC CDCD EE.",
         _sonnet_base(["ABAB BCBC CDCD EE"], [[14], [4, 4, 4, 2], [12, 2]]), (), 14),
    Form("Villanelle", "Nineteen lines on two rhymes: five tercets and a quatrain, with lines 1 and 3 "
         "returning as alternating refrains and closing the poem together.",
         [LineCount(19), StanzaShape([[3, 3, 3, 3, 3, 4]]),
          RhymeScheme("ABA ABA ABA ABA ABA ABAA", refrains=True),
          Refrain([(0, 5), (0, 11), (0, 17), (2, 8), (2, 14), (2, 18)], describe=(
              "Repeat line 1 as lines 6, 12 and 18, and line 3 as lines 9, 15 and 19 (the two refrains)."))],
         (), 19),
    Form("Triolet", "Eight lines on two rhymes, ABaAabAB: line 1 returns as lines 4 and 7, line 2 as line 8.",
         [LineCount(8), RhymeScheme("ABAAABAB", refrains=True),
          Refrain([(0, 3), (0, 6), (1, 7)], describe="Repeat line 1 as lines 4 and 7, and line 2 as line 8.")],
         (), 8),
    Form("Terza rima", "Interlocking tercets ABA BCB CDC ..., usually in pentameter, closed by a single "
         "line or couplet.",
         [LineCount(min_n=7), StanzaShape(size=3, last=(1, 2), min_count=2), TerzaRima(weight=3.0),
          Syllables(each=(8, 12), weight=0.5)], ("terza-rima", "terzarima"), None),
    Form("Sestina", "Thirty-nine lines: six six-line stanzas whose end words rotate 6-1-5-2-4-3, and a "
         "three-line envoi using all six words.",
         [LineCount(39), StanzaShape([[6, 6, 6, 6, 6, 6, 3]]), EndWordRotation()], (), 39),
    Form("Pantoum", "Quatrains in which lines 2 and 4 of each stanza return as lines 1 and 3 of the next; "
         "the last stanza brings back the first's lines 3 and 1.",
         [LineCount(min_n=12), StanzaShape(size=4, min_count=3),
          Refrain(pairs_fn=pantoum_pairs, criterion="repeated_lines", weight=2.5, factor_floor=0.3, describe=(
              "Repeat lines 2 and 4 of each quatrain as lines 1 and 3 of the next; in the last quatrain, "
              "use line 3 of the first stanza as line 2 and line 1 of the first stanza as the last line.")),
          RhymeScheme("ABAB", stanza=4, weight=1.0, refrains=True)], (), None),
    Form("Ghazal", "At least five couplets; both lines of the first and the second line of every couplet "
         "end on the same word or phrase (radif), preceded by a rhyme (qafiya).",
         [LineCount(min_n=10), StanzaShape(size=2, min_count=5), Radif(), Qafiya()], (), None),
    Form("Rondeau", "Fifteen lines on two rhymes in three stanzas (aabba aabR aabbaR), the refrain R "
         "being the opening words of line 1.",
         [LineCount(15), StanzaShape([[5, 4, 6]]), RhymeScheme("AABBA AAB. AABBA.", refrains=True),
          Refrain([(0, 8), (0, 14)], prefix=True, describe=(
              "Make lines 9 and 15 a short refrain: the opening words of line 1, repeated."))],
         (), 15),
    Form("Clerihew", "Four comic lines rhyming AABB about a person named in the first line; lines of "
         "any length.",
         [LineCount(4), RhymeScheme("AABB"), NamesPerson()], (), 4),
    Form("Cinquain", "Adelaide Crapsey's five unrhymed lines of 2, 4, 6, 8 and 2 syllables.",
         [LineCount(5), Syllables([2, 4, 6, 8, 2], weight=3.0, factor_floor=0.3), Unrhymed()], ("crapsey cinquain",), 5),
    Form("Ballade", "Three eight-line stanzas ababbcbC and a four-line envoi bcbC on the same rhymes, each "
         "ending with the refrain C.",
         [LineCount(28), StanzaShape([[8, 8, 8, 4]]),
          RhymeScheme("ABABBCBC ABABBCBC ABABBCBC BCBC", refrains=True),
          Refrain([(7, 15), (7, 23), (7, 27)], describe=(
              "End each stanza and the envoi with the same refrain line (lines 8, 16, 24 and 28)."))],
         (), 28),
    Form("Blues poem", "Three-line stanzas (AAB): a line, the line repeated (perhaps varied), then a "
         "rhyming line that answers it.",
         [LineCount(min_n=9), StanzaShape(size=3, min_count=3),
          Refrain(pairs_fn=_blues_pairs, threshold=0.6, describe=(
              "In each three-line stanza, repeat the first line (with at most a small change) as the second.")),
          RhymeScheme("AAA", stanza=3, refrains=True, describe=(
              "End the third line of each stanza with a word that rhymes with the first line's end word."))],
         ("blues",), None),
    Form("Ottava rima", "Eight-line stanzas of pentameter rhyming ABABABCC.",
         [LineCount(min_n=8), StanzaShape(size=8), Syllables(each=(10, 11), tolerance=1),
          RhymeScheme("ABABABCC", stanza=8), PENTAMETER], ("ottava",), None),
    Form("Rhyme royal", "Seven-line stanzas of pentameter rhyming ABABBCC (Chaucer's stanza).",
         [LineCount(min_n=7), StanzaShape(size=7), Syllables(each=10, tolerance=1),
          RhymeScheme("ABABBCC", stanza=7), PENTAMETER], ("rime royal", "rhyme royale", "troilus stanza"), None),
    Form("Quatrain", "One or more four-line stanzas rhyming ABAB, AABB, ABBA or ABCB, in lines of even length.",
         [LineCount(min_n=4), StanzaShape(size=4),
          RhymeScheme(["ABAB", "AABB", "ABBA", "ABCB"], stanza=4, weight=3.0),
          Syllables(each=(6, 12), weight=0.5)], ("quatrains",), None),
]

# The "top 10 learnable" forms: short or strongly patterned, checkable almost entirely by the verifier
# (line and syllable counts, rhyme, refrains), so a model can learn them from a few hundred examples and
# the score means something. Long forms (sestina, ballade) and loosely defined ones (ghazal, blues)
# are left to explicit --forms.
DEFAULT_FORMS: tuple[str, ...] = (
    "Haiku", "Tanka", "Limerick", "Shakespearean sonnet", "Villanelle",
    "Triolet", "Quatrain", "Cinquain", "Clerihew", "Terza rima",
)

_INDEX: dict[str, Form] = {}


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


for _f in _FORMS:
    _f.constraints.append(LineOrder())  # every form reads in order: see constraints/order.py
    if not any(isinstance(c, Refrain | EndWordRotation | Radif) for c in _f.constraints):
        _f.constraints.append(NoRepeats())
    _f.default = _f.name in DEFAULT_FORMS
    for _n in (_f.name, _f.slug, *_f.aliases):
        _INDEX[_key(_n)] = _f


def get_form(name: str) -> Form:
    """Look a form up by name or alias, case-insensitively ('sonnet', 'terza_rima', 'Terza Rima')."""
    form = _INDEX.get(_key(name or ""))
    if form is None:
        raise UnknownFormError(name)
    return form


def list_forms() -> list[Form]:
    return list(_FORMS)


def corpus_poems(name: str) -> list[str]:
    """Bundled example poems for a form name or alias (the simulated provider answers with these)."""
    return get_form(name).corpus()
