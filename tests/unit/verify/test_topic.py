"""The lexical topic check (reported, never rejecting) and the judge's blend."""

from __future__ import annotations

import pytest

from watcher.verify.topic import blend_judge, lexical_topic, topic_words


def test_topic_words_drop_function_words() -> None:
    assert topic_words("the burning of old letters") == ["burning", "old", "letters"]
    assert topic_words("a walk in the rain") == ["walk", "rain"]
    assert topic_words("of the") == []


def test_lexical_check_finds_near_forms_and_reports_misses() -> None:
    item = lexical_topic("I burned the letter in the grate", "the burning of old letters")
    assert item.weight == 0.0 and item.score == pytest.approx(2 / 3) and item.passed
    assert "missing: old" in item.explanation and "burning" in item.explanation
    assert lexical_topic("Rivers run through cities", "a river through a city").score == 1.0
    off = lexical_topic("The kettle hums upon the stove", "a walk in the rain")
    assert off.score == 0.0 and not off.passed and "missing: walk, rain" in off.explanation


def test_blend_weighs_the_judge_and_keeps_its_reason() -> None:
    score, passed, rubric = blend_judge(0.9, [{"criterion": "line_count"}], 0.5, "drifts", 0.5, 0.8)
    assert score == 0.7 and not passed
    assert rubric[-1]["criterion"] == "topic_tone" and rubric[-1]["explanation"] == "drifts"
    assert rubric[-1]["weight"] == 0.5 and not rubric[-1]["passed"]
    score, passed, rubric = blend_judge(0.9, [], None, "", 0.25, 0.5)
    assert score == 0.675 and passed and rubric[-1]["actual"] == "no score"  # no score counts as 0
