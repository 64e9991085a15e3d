"""The simulator's poems: about the prompt's topic, well-formed by the real verifier, varied enough
for a 50-per-form demo to pass its own gate, and first attempts that miss about a third of the time."""

from __future__ import annotations

import random

import pytest

from watcher.simulator.config import SimConfig
from watcher.simulator.dispatch import respond
from watcher.simulator.reply import SimRequest
from watcher.simulator.verse import FORM_NAMES, compose
from watcher.verify.forms import verify

TOPICS = ["a fox in the city", "bread rising", "the last train home", "a hospital waiting room", "insomnia",
          "the first day of spring", "a grandmother's kitchen", "migrating birds"]
TONES = ["wistful", "joyful", "solemn", "ironic"]


@pytest.mark.parametrize("slug", sorted(FORM_NAMES))
def test_composed_poems_follow_the_topic_verify_and_vary(slug):
    rng = random.Random(4)
    made = []
    for i in range(50):
        topic = TOPICS[i % len(TOPICS)]
        poem = compose(slug, topic, TONES[i % len(TONES)], rng)
        if poem is None:  # a topic the form cannot fit: the caller falls back to the corpus
            continue
        assert topic in poem.lower()
        assert verify(poem, FORM_NAMES[slug]).score == 1.0, poem
        made.append(poem)
    # "a hospital waiting room" cannot scan as iambic pentameter: the sonnet falls back for it.
    assert len(made) >= (40 if slug != "shakespearean_sonnet" else 35)
    assert len(set(made)) == len(made)


def test_unknown_forms_are_left_to_the_corpus():
    assert compose("villanelle", "autumn", "serene", random.Random(0)) is None


def test_first_attempts_miss_about_a_third_with_a_spread_of_scores():
    cfg = SimConfig(defect_rate=0.3, flaw_rate=0.15)  # the demo's settings (cli/launch.py)
    rng = random.Random(7)
    scores = []
    for i in range(300):
        form = ["Haiku", "Tanka", "Limerick", "Sonnet", "Cinquain"][i % 5]
        req = SimRequest({"job": "poetry", "kind": "generate", "group": form, "topic": TOPICS[i % len(TOPICS)],
                          "tone": TONES[i % len(TONES)]}, messages=[{"role": "user", "content": "a poem"}])
        scores.append(verify(respond(req, rng, cfg).text, form).score)
    failed = [s for s in scores if s < 0.8]
    assert 0.25 <= len(failed) / len(scores) <= 0.45
    assert len({int(s * 10) for s in failed}) >= 4  # not one bar: 0.3 ... 0.7
    assert any(0.8 <= s < 1.0 for s in scores)  # near misses that still pass
