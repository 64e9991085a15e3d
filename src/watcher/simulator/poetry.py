"""Simulated poetry answers: poems from the bundled corpus (recombined, some made defective).

The form, topic, tone and whether this is a retry come from the request's sim metadata, never from
the prompt's wording.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from pathlib import Path

from watcher.simulator.config import SimConfig
from watcher.simulator.reply import SimReply, SimRequest
from watcher.simulator.verse import RHYMES, SYLLABIC, compose
from watcher.verify.forms import verify
from watcher.verify.forms.catalog import UnknownFormError, get_form

POEMS_DIR = Path(__file__).resolve().parents[1] / "data" / "poems"


def slug(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@lru_cache(maxsize=4)
def _corpus(root: str, _mtime: float) -> dict[str, tuple[Path, ...]]:
    out: dict[str, tuple[Path, ...]] = {}
    base = Path(root)
    if base.is_dir():
        for d in sorted(base.iterdir()):
            files = tuple(sorted(d.glob("*.txt"))) if d.is_dir() else ()
            if files:
                out[d.name.lower()] = files
    return out


def corpus() -> dict[str, tuple[Path, ...]]:
    """form slug -> poem files; re-read when the directory changes (the corpus may grow while we run)."""
    try:
        mtime = POEMS_DIR.stat().st_mtime
    except OSError:
        return {}
    return _corpus(str(POEMS_DIR), mtime)


def find_form(name: str | None) -> str | None:
    """The corpus slug for a form name ("Shakespearean Sonnet", "Haiku", "Limericks"), or None."""
    forms = corpus()
    if not name or not forms:
        return None
    try:  # an alias ("Sonnet") names the catalog's form ("Shakespearean sonnet")
        canonical = [get_form(name).slug]
    except UnknownFormError:
        canonical = []
    s = slug(name)
    for cand in (s, s.removesuffix("s"), s.removeprefix("classic_"), *canonical):
        if cand in forms:
            return cand
    return None


def _read_poem(path: Path) -> str:
    lines = [ln.rstrip() for ln in path.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if not ln.startswith("#")]
    return "\n".join(lines).strip()


def _one_defect(poem: str, rng: random.Random) -> str:
    stanzas = [s for s in re.split(r"\n\s*\n", poem.strip()) if s.strip()]
    lines = poem.splitlines()
    content_idx = [i for i, ln in enumerate(lines) if ln.strip()]
    choices = ["drop_line", "drop_line"]
    if len(content_idx) >= 4:
        choices.append("swap_end_words")
    if len(stanzas) >= 2:
        choices.append("cut_last_stanza")
    kind = rng.choice(choices)
    if kind == "cut_last_stanza":
        return "\n\n".join(stanzas[:-1])
    if kind == "swap_end_words":
        for _ in range(10):
            a, b = rng.sample(content_idx, 2)
            wa, wb = lines[a].split(), lines[b].split()
            if wa and wb and wa[-1].strip(".,;:!?").lower() != wb[-1].strip(".,;:!?").lower():
                wa[-1], wb[-1] = wb[-1], wa[-1]
                lines = list(lines)
                lines[a], lines[b] = " ".join(wa), " ".join(wb)
                return "\n".join(lines)
    if len(content_idx) >= 2:
        drop = rng.choice(content_idx)
        return "\n".join(ln for i, ln in enumerate(lines) if i != drop)
    return poem + "\nand one line more that breaks the form"


def _score(text: str, form: str) -> float | None:
    try:
        return float(verify(text, form).score)
    except Exception:  # an unknown form or a verifier problem: the structural defect has to do
        return None


def make_defective(poem: str, rng: random.Random, form: str | None = None, max_score: float = 0.75) -> str:
    """Break the poem the way models do: a dropped line, two end words swapped, or the last stanza cut.

    Some forms tolerate one defect (a ghazal or sestina without its last stanza can still score
    high), so with a form defects are stacked until the verifier scores it below max_score:
    a "defective" poem then really sends the worker into its retry loop.
    """
    text = _one_defect(poem, rng)
    if form is None:
        return text
    for _ in range(4):
        score = _score(text, form)
        if score is None or score < max_score:
            break
        text = _one_defect(text, rng)
    return text


def make_flawed(poem: str, rng: random.Random, rhymed: bool = True) -> str:
    """A near miss, as models often write: a line or three a syllable long or short (the verifier
    marks it down a little, to about 0.75-0.95: some pass, some go back with feedback)."""
    lines = poem.splitlines()
    idx = [i for i, ln in enumerate(lines) if len(ln.split()) >= 2]
    if not idx:
        return poem
    if rhymed and len(idx) >= 4 and rng.random() < 0.6:  # a rhymed form: one end word that does not quite rhyme
        i = rng.choice(idx)
        words = lines[i].split()
        tail = words[-1][len(words[-1].rstrip(",;.")):]
        words[-1] = rng.choice(rng.choice(RHYMES)) + tail
        lines[i] = " ".join(words)
        return "\n".join(lines)
    for i in rng.sample(idx, min(len(idx), rng.choice([1, 2, 2, 3]))):
        words = lines[i].split()
        small = [k for k, w in enumerate(words[1:-1], 1) if w.lower().strip(",;.") in {"the", "a", "and", "so", "at", "in"}]
        if small and rng.random() < 0.5:
            del words[rng.choice(small)]
        else:
            words.insert(rng.randrange(1, len(words)), rng.choice(["so", "still", "now", "all"]))
        lines[i] = " ".join(words)
    return "\n".join(lines)


def _plan(form: str, topic: str, tone: str, rng: random.Random) -> str:
    opening = rng.choice([
        f"The task is a {form} about {topic}, and the tone should feel {tone}.",
        f"I need to write a {form}; the subject is {topic} and the mood {tone}.",
        f"A {form} on {topic}, {tone} in tone: first the form's constraints, then the images.",
    ])
    middle = rng.choice([
        f"The {form} fixes the number of lines and where the rhymes fall, so I will list the rhyme sounds first.",
        f"I will count syllables line by line so the {form}'s meter holds, and keep the rhyme scheme in view.",
        "Its structure matters more than ornament: line count, the repeated lines if any, and the rhyme pattern.",
    ])
    images = rng.choice([
        f"For {topic} I want concrete images rather than abstractions, something seen and heard.",
        f"I'll anchor {topic} in a single scene and let the {tone} tone come from word choice.",
        f"A turn near the end should reframe {topic}; the {tone} register stays steady throughout.",
    ])
    close = rng.choice([
        "Then I check every line against the plan before writing the final version.",
        "Last, a pass over the end words to make sure each rhyme really rhymes.",
        "I'll verify the line count once more and then write only the poem.",
    ])
    return " ".join([opening, middle, images, close])


def _generic_poem(topic: str, rng: random.Random) -> str:
    words = topic.split() or ["the", "evening"]
    lines = [f"Along the edge of {topic} the light grows thin,",
             f"and every {rng.choice(words)} keeps a quiet hour;",
             "the wind goes over it and comes again,",
             "a small, unhurried, ordinary power."]
    return "\n".join(lines)


# Line groups that are interchangeable between two poems of the same form: each group keeps its own
# rhymes (a limerick's A lines, a sonnet's quatrain) or syllable counts (a haiku's line 2).
RECOMBINE_SLOTS: dict[str, list[list[int]]] = {
    "haiku": [[0], [1], [2]],
    "tanka": [[0], [1], [2], [3], [4]],
    "cinquain": [[0], [1], [2], [3], [4]],
    "limerick": [[0, 1, 4], [2, 3]],
    "clerihew": [[0, 1], [2, 3]],
    "shakespearean_sonnet": [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13]],
}


def recombine(form_slug: str, files: tuple[Path, ...], rng: random.Random) -> str | None:
    """A new poem of the form made from slot groups of several corpus poems, so a demo's poems are
    not a handful of repeats; None when the form has no slots or the result does not verify."""
    slots = RECOMBINE_SLOTS.get(form_slug)
    if not slots:
        return None
    n = sum(len(g) for g in slots)
    poems = [lines for lines in (_read_poem(f).splitlines() for f in files) if len(lines) == n and all(lines)]
    if len(poems) < 2:
        return None
    out = [""] * n
    for group in slots:
        src = rng.choice(poems)
        for i in group:
            out[i] = src[i]
    text = "\n".join(out)
    score = _score(text, form_slug.replace("_", " "))
    return text if score is None or score >= 0.85 else None


def respond_poetry(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    meta = req.meta
    form = str(meta.get("group") or "poem").strip()
    form_slug = find_form(form)
    topic = str(meta.get("topic") or "the sea").strip()
    tone = str(meta.get("tone") or "reflective").strip()
    # A retry carries feedback: it gets a sound poem more often, so the worker's retry loop converges.
    p_defect = cfg.defect_rate / 3 if req.retry else cfg.defect_rate
    files = corpus().get(form_slug or "", ())
    # A poem about the prompt's topic where we can compose one; else the corpus (recombined).
    poem = compose(form_slug or "", topic, tone, rng)
    if poem is None:
        poem = (recombine(form_slug or "", files, rng) or _read_poem(rng.choice(files))) if files \
            else _generic_poem(topic, rng)
    roll = rng.random()
    defective = roll < p_defect
    if defective:
        poem = make_defective(poem, rng, form_slug.replace("_", " ") if form_slug else None,
                              cfg.defect_max_score)
    elif roll < p_defect + (cfg.flaw_rate / 3 if req.retry else cfg.flaw_rate):
        poem = make_flawed(poem, rng, rhymed=form_slug not in SYLLABIC)
    reasoning = _plan(form, topic, tone, rng)
    if req.retry:
        reasoning += " The previous attempt was marked down, so this time I fix the rubric items it named."
    return SimReply(text=poem, reasoning=reasoning, defective=defective)


def respond_poetry_judge(req: SimRequest, rng: random.Random, cfg: SimConfig) -> SimReply:
    """The topic-and-tone judge's grade: mostly on topic, now and then (a third of the defect rate) a
    poem that drifts from its topic."""
    topic = str(req.meta.get("topic") or "the topic").strip()
    tone = str(req.meta.get("tone") or "the asked").strip()
    low = rng.random() < cfg.defect_rate / 3
    score = round(rng.uniform(0.1, 0.35) if low else rng.uniform(0.75, 0.98), 2)
    reasons = (f"The poem drifts away from {topic}; the {tone} tone is not held." if low
               else f"The poem stays with {topic} and keeps a {tone} tone throughout.")
    return SimReply(text=json.dumps({"score": score, "reasons": reasons}),
                    reasoning=f"I check whether the poem is about {topic} and sounds {tone}.", defective=low)
