"""Is the poem about what was asked? An optional LLM judge of topic and tone (its prompt, and how its
0-1 score blends into the form score), and without one a cheap lexical check that only reports.

The lexical check looks for the topic's content words in the poem, or their near forms (a shared stem:
"rivers" for "river", "burning" for "burn"). It cannot see synonyms or imagery, so it never rejects:
its rubric item has weight 0.
"""

from __future__ import annotations

from typing import Any

from watcher.verify.forms.phonetics import WORD_RE
from watcher.verify.rubric import RubricItem

# Words that carry no topic ("a walk in the rain": walk, rain).
_STOP = frozenset("""a an the of in on at to for from by with without into onto over under and or but
nor as is are was were be been being its it this that these those their his her my our your one some
about after before during between through against among upon while when where what who whom which how
why not no very""".split())


def _stem(word: str) -> str:
    """A crude English stem: enough to match 'rivers' with 'river' and 'burning' with 'burn'. Written
    here because a stemmer library would be one more dependency for a check that only reports."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suf in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s", "y", "e"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            return w[: -len(suf)]
    return w


def topic_words(topic: str) -> list[str]:
    """The topic's content words, in order, without repeats."""
    out: list[str] = []
    for w in WORD_RE.findall(topic.lower()):
        if w not in _STOP and len(w) > 2 and w not in out:
            out.append(w)
    return out


def lexical_topic(poem: str, topic: str) -> RubricItem:
    """The share of the topic's content words found in the poem (as such or a near form). Weight 0:
    reported in the rubric, never part of the score."""
    words = topic_words(topic)
    stems = {_stem(w) for w in WORD_RE.findall(poem.lower())}
    found = [w for w in words if _stem(w) in stems]
    score = len(found) / len(words) if words else 1.0
    missing = [w for w in words if w not in found]
    why = ("no content words in the topic" if not words else
           f"topic words present: {', '.join(found)}" if not missing else
           f"topic words missing: {', '.join(missing)}" + (f" (present: {', '.join(found)})" if found else ""))
    return RubricItem(criterion="topic_words", expected=f"words of '{topic}'",
                      actual=f"{len(found)}/{len(words)} words", score=score, passed=bool(found) or not words,
                      explanation=why, instruction=f"Make the poem plainly about {topic}.", weight=0.0)


JUDGE_SYSTEM = (
    "You grade poems written for a prompt that names a form, a topic and a tone. The form is checked "
    "elsewhere: judge only whether the poem takes up the topic (it is about it, not just mentioning a "
    "word) and carries the tone. Reply with only a JSON object: "
    "{\"score\": <number 0 to 1>, \"reasons\": \"<one or two sentences>\"}."
)


def judge_prompt(form: str, topic: str, tone: str, poem: str) -> str:
    return (f"The prompt: write a {form} about {topic} in a {tone} tone.\n\nThe poem:\n{poem}\n\n"
            "Grade 0 to 1 how well it takes up the topic and the tone, as JSON.")


def blend_judge(score: float, rubric: list[dict[str, Any]], judge_score: float | None, reasons: str,
                weight: float, min_score: float) -> tuple[float, bool, list[dict[str, Any]]]:
    """(1-w) * form score + w * judge score; the judge's rubric item (weight w) carries its reasons.
    A judge that gave no score counts as 0."""
    js = judge_score if judge_score is not None else 0.0
    blended = (1 - weight) * score + weight * js
    item = RubricItem(
        criterion="topic_tone", expected=f"on topic and tone >= {min_score:.2f}",
        actual=f"{js:.2f}" if judge_score is not None else "no score", score=js,
        passed=judge_score is not None and js >= min_score,
        explanation=reasons or ("the judge gave no usable score" if judge_score is None else "judged"),
        instruction="Keep the poem on its topic and in its tone" + (f": {reasons}" if reasons else "."),
        weight=weight)
    return round(blended, 4), blended >= min_score, [*rubric, item.to_dict()]
