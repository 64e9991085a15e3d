"""The form verifier: corpus positives pass, negatives fail, perturbations always cost score, bad input
never crashes."""

from __future__ import annotations

import random
import re

import pytest

from watcher.verify.forms import (
    DEFAULT_FORMS,
    RubricItem,
    UnknownFormError,
    VerifyResult,
    get_form,
    list_forms,
    verify,
)
from watcher.verify.forms.constraints.base import Poem
from watcher.verify.forms.phonetics import line_rhyme_score
from watcher.verify.forms.phonetics import line_syllable_range as syllable_range

CORPUS = [(f.name, i, p) for f in list_forms() for i, p in enumerate(f.corpus(), 1)]
IDS = [f"{f}-{i:02d}" for f, i, _ in CORPUS]

PROSE = (
    "The quarterly report was delayed because the finance team needed more time to reconcile the "
    "accounts from the regional offices. We expect to publish it next Tuesday, together with a short "
    "summary of the changes to the budget process and a note on hiring for the second half of the year."
)
FREE_VERSE = """I went out to the yard this morning
and the dog was already there, nose deep in the wet grass,
sniffing out whatever the night had left.

The neighbor's radio, a train somewhere,
my coffee going cold on the porch rail while I stood and did nothing at all
for what felt like a long time.

Later I will answer the emails.
Later I will call my sister about the house
and the papers, and the roof, and what our father wanted."""


def lines_of(text: str) -> list[str]:
    return Poem(text).lines


def rebuild(text: str, new_lines: list[str]) -> str:
    """Put new lines into the original stanza slots (stanza breaks kept where they were)."""
    out, k = [], 0
    for st in Poem(text).stanzas:
        chunk = new_lines[k:k + len(st)]
        k += len(st)
        if chunk:
            out.append("\n".join(chunk))
    return "\n\n".join(out)


def test_corpus_counts() -> None:
    for f in list_forms():
        need = 3 if f.name in DEFAULT_FORMS else 1
        assert len(f.corpus()) >= need, f.name


@pytest.mark.parametrize(("form", "idx", "poem"), CORPUS, ids=IDS)
def test_corpus_passes_own_form(form: str, idx: int, poem: str) -> None:
    res = verify(poem, form)
    assert res.passed and res.score >= 0.85, (form, idx, [r.to_dict() for r in res.failing()])


@pytest.mark.parametrize("form", [f.name for f in list_forms()])
def test_prose_and_free_verse_fail(form: str) -> None:
    for text in (PROSE, FREE_VERSE):
        res = verify(text, form)
        assert res.score < 0.5 and not res.passed, (form, res.score)


MISMATCHES = [
    ("Haiku", "Sonnet"), ("Shakespearean sonnet", "Haiku"), ("Limerick", "Villanelle"),
    ("Villanelle", "Sonnet"), ("Sestina", "Limerick"), ("Tanka", "Cinquain"), ("Clerihew", "Haiku"),
    ("Triolet", "Sonnet"), ("Quatrain", "Villanelle"), ("Ghazal", "Sestina"), ("Terza rima", "Triolet"),
    ("Shakespearean sonnet", "Villanelle"), ("Cinquain", "Limerick"), ("Haiku", "Tanka"),
    ("Ballade", "Sestina"), ("Rondeau", "Pantoum"),
]


@pytest.mark.parametrize(("source", "target"), MISMATCHES)
def test_poem_against_other_form_fails(source: str, target: str) -> None:
    poem = get_form(source).corpus()[0]
    res = verify(poem, target)
    assert res.score < 0.5 and not res.passed, (source, target, res.score)


@pytest.mark.parametrize(("form", "idx", "poem"), CORPUS, ids=IDS)
def test_dropping_a_line_costs_score(form: str, idx: int, poem: str) -> None:
    base = verify(poem, form).score
    lines = lines_of(poem)
    ks = {0, len(lines) // 2, len(lines) - 1}
    if form == "Terza rima":
        # Terza rima may close on a couplet or a single line: dropping one closing line leaves a valid poem.
        ks = {0, len(lines) // 2, len(lines) - 3}
    for k in ks:
        dropped = lines[:k] + lines[k + 1:]
        assert verify(rebuild(poem, dropped), form).score < base, (form, idx, k)


@pytest.mark.parametrize(("form", "idx", "poem"), CORPUS, ids=IDS)
def test_shuffling_lines_costs_score(form: str, idx: int, poem: str) -> None:
    base = verify(poem, form).score
    lines = lines_of(poem)
    rng = random.Random(f"{form}{idx}")
    sylls = [syllable_range(ln) for ln in lines]

    def moves_roles(order: list[int]) -> bool:
        # A shuffle that only trades lines of the same length and rhyme (a haiku's 1st and 3rd lines)
        # is invisible to any verifier; every line must land where a different kind of line stood.
        return all(j != i and sylls[j] != sylls[i] and line_rhyme_score(lines[i], lines[j]) < 0.5
                   for i, j in enumerate(order))

    # Rotation first (a 5-7-5 haiku read 7-5-5), then random role-changing shuffles.
    orders = [lines[1:] + lines[:1]]
    idxs = list(range(len(lines)))
    for _ in range(300):
        rng.shuffle(idxs)
        if moves_roles(idxs):
            orders.append([lines[j] for j in idxs])
            if len(orders) == 4:
                break
    for order in orders:
        assert verify(rebuild(poem, order), form).score < base, (form, idx, order[:3])


WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def word_at(line: str, k: int) -> str:
    ws = WORD.findall(line)
    return ws[-k].lower() if len(ws) >= k else ""


def swap_words(line_a: str, line_b: str, k: int) -> tuple[str, str]:
    """Swap the k-th word from the end of two lines (k=1: end words; k=2: a ghazal's qafiya)."""
    ma, mb = list(WORD.finditer(line_a))[-k], list(WORD.finditer(line_b))[-k]
    a = line_a[:ma.start()] + mb.group(0) + line_a[ma.end():]
    b = line_b[:mb.start()] + ma.group(0) + line_b[mb.end():]
    return a, b


RHYMED = [c for c in CORPUS if c[0] not in ("Haiku", "Tanka", "Cinquain")]


@pytest.mark.parametrize(("form", "idx", "poem"), RHYMED, ids=[f"{f}-{i:02d}" for f, i, _ in RHYMED])
def test_swapping_end_words_breaks_rhyme(form: str, idx: int, poem: str) -> None:
    base = verify(poem, form).score
    lines = lines_of(poem)
    n = len(lines)
    # A line with a real rhyme partner, and another line whose end word rhymes with neither.
    # Ghazal lines all end on the radif: there the rhyme sits one word earlier.
    k = 2 if form == "Ghazal" else 1
    pairs = []
    for i in range(n):
        partners = [p for p in range(n) if p != i and line_rhyme_score(lines[i], lines[p]) >= 0.75]
        if not partners:
            continue
        for j in range(n):
            if j == i or word_at(lines[j], k) == word_at(lines[i], k) or not word_at(lines[j], k):
                continue
            if all(line_rhyme_score(lines[j], lines[p]) < 0.5 for p in [i, *partners]):
                pairs.append((i, j))
                break
        if len(pairs) >= 2:
            break
    assert pairs, (form, idx)
    for i, j in pairs:
        swapped = lines[:]
        swapped[i], swapped[j] = swap_words(lines[i], lines[j], k)
        assert verify(rebuild(poem, swapped), form).score < base, (form, idx, i, j)


def test_identical_end_words_are_not_rhymes() -> None:
    poem = "There once was a cat on a mat\nWho sat on the mat like a mat\nHe purred in the sun\nTill the day was done\nAnd then he lay down on the mat"
    res = verify(poem, "Limerick")
    rhyme = next(r for r in res.rubric if r.criterion == "rhyme_scheme")
    assert rhyme.score < 0.7 and "identical" in rhyme.explanation


BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\n\t  \n",
    "emoji": "🌸🌸🌸\n🌊 🌊\n🔥🔥🔥🔥",
    "chinese": "床前明月光\n疑是地上霜\n举头望明月\n低头思故乡",
    "russian": "Я помню чудное мгновенье:\nПередо мной явилась ты,\nКак мимолетное виденье,\nКак гений чистой красоты.",
    "numbers": "1 2 3\n4 5 6 7\n8 9 10",
    "markup": "```\n```\n<think></think>\n# \n**",
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_never_crashes(name: str) -> None:
    for f in list_forms():
        res = verify(BAD_INPUTS[name], f.name)
        assert 0.0 <= res.score <= 1.0
        assert isinstance(res.to_dict(), dict)
        if name in ("empty", "whitespace"):
            assert res.score == 0.0 and not res.passed


def test_huge_input() -> None:
    rng = random.Random(7)
    vocab = "the night river stone light bread window hands sea wind gray day away heart fire".split()
    text = "\n".join(" ".join(rng.choice(vocab) for _ in range(rng.randint(3, 9))) for _ in range(10_000))
    for name in ("Sonnet", "Terza rima", "Quatrain", "Pantoum", "Ghazal", "Sestina", "Blues poem"):
        res = verify(text, name)
        assert not res.passed and 0 <= res.score < 0.5


def test_unknown_form_lists_known_forms() -> None:
    with pytest.raises(UnknownFormError) as e:
        verify("a poem", "Sonet")
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "Sonet" in msg and "Villanelle" in msg and "Haiku" in msg


def test_public_api_shapes() -> None:
    sonnet = get_form("sonnet")
    assert sonnet is get_form("SHAKESPEAREAN SONNET") and sonnet.name == "Shakespearean sonnet"
    assert get_form("terza_rima").name == "Terza rima" and get_form("Italian sonnet").name == "Petrarchan sonnet"
    assert sonnet.num_lines == 14 and get_form("Terza rima").num_lines is None
    assert len(sonnet.instructions()) == len(sonnet.constraints)
    assert all(isinstance(s, str) and s.endswith(".") for f in list_forms() for s in f.instructions())
    assert len(sonnet.example_lines) == 14
    assert len(DEFAULT_FORMS) == 10 and all(get_form(n).name == n for n in DEFAULT_FORMS)
    res = verify(sonnet.corpus()[0], "Sonnet", min_score=0.99)
    assert isinstance(res, VerifyResult) and res.form == "Shakespearean sonnet"
    assert res.passed == (res.score >= 0.99)
    assert all(isinstance(r, RubricItem) for r in res.rubric)
    d = res.to_dict()
    assert set(d["rubric"][0]) >= {"criterion", "expected", "actual", "score", "passed", "explanation",
                                   "instruction", "weight"}
    assert all(not r.passed for r in res.failing())


def test_failing_items_carry_instructions() -> None:
    res = verify("Roses are red\nviolets are blue", "Villanelle")
    fails = res.failing()
    assert fails and all(r.instruction and "\n" not in r.explanation for r in fails)
    assert any("19" in r.instruction for r in fails)


def test_partial_credit_is_graded() -> None:
    poem = get_form("Villanelle").corpus()[0]
    lines = lines_of(poem)
    full = verify(poem, "Villanelle").score
    minus1 = verify(rebuild(poem, lines[:-1]), "Villanelle").score
    minus6 = verify(rebuild(poem, lines[:-6]), "Villanelle").score
    assert full > minus1 > minus6 > 0
