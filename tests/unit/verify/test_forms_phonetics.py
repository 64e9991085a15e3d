"""Phonetics: syllables, stress and graded rhyme, with fallbacks for unknown words."""

from __future__ import annotations

from watcher.verify.forms import phonetics as ph


def test_syllables_dictionary_and_fallback() -> None:
    assert ph.word_info("temperate").syllable_range[1] >= 3
    assert ph.syllables("day") == 1 and ph.syllables("villanelle") == 3
    assert ph.syllables("glorbification") >= 4  # not in the dictionary: vowel-group heuristic
    assert ph.line_syllable_range("Shall I compare thee to a summer's day?") == (10, 10)
    lo, hi = ph.line_syllable_range("the fire in heaven")  # variants give a range
    assert lo < hi


def test_rhyme_grades() -> None:
    assert ph.rhyme_score("day", "away") == ph.PERFECT
    assert ph.rhyme_score("night", "light") == ph.PERFECT
    assert ph.NEAR <= ph.rhyme_score("city", "sea") < ph.PERFECT
    assert 0 < ph.rhyme_score("love", "remove") < ph.NEAR  # slant: same final consonant
    assert ph.rhyme_score("day", "day") == 0.0  # identical is not a rhyme
    assert ph.rhyme_score("stone", "river") == 0.0
    assert ph.rhyme_score("flibber", "jibber") >= ph.SLANT  # spelling fallback for unknown words


def test_line_rhyme_identical_and_mosaic() -> None:
    assert ph.line_rhyme_score("I walk the road", "I walk the road") == 0.0
    assert ph.line_rhyme_score("I walk the road", "I walk the road", allow_identical=True) == 1.0
    assert ph.line_rhyme_score("sends forth a new one", "is not the true one") == 1.0
    assert ph.line_rhyme_score("as cold as stone at night", "alone at night") == 1.0


def test_stress_and_other_scripts() -> None:
    assert ph.line_stress("remember") == "010"
    assert ph.line_syllables("床前明月光") == 5
    assert ph.line_syllables("Я помню чудное мгновенье") >= 6
    assert ph.line_syllables("🙂 🙂") == 0
