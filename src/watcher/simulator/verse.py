"""Topic-bearing poems for the simulator: the demo's forms written about the prompt's topic.

The bundled corpus has a handful of poems per form, so recombining it repeats itself within a few
dozen items and ignores the topic. Here a poem is composed from phrase banks around the topic
(which appears verbatim, and its head noun recurs), with syllables, stress and rhymes measured by
the verifier's own phonetics, and kept only if the real verifier scores it 1.0: the simulator's
good poems are genuinely well-formed. Written here rather than with a text-generation library
because the output must satisfy the verifier's exact counts, which no such library targets.
"""

from __future__ import annotations

import random
from functools import lru_cache

from watcher.verify.forms import verify
from watcher.verify.forms.constraints.meter import _meter_clashes
from watcher.verify.forms.phonetics import line_stress, line_syllable_range, rhyme_score

SUBJECTS = (
    "the wind", "the rain", "a gull", "the gate", "the lamp", "my breath", "a crow", "the road", "the hill",
    "a bell", "the dark", "the light", "an owl", "the stone", "the field", "the cloud", "a child", "the roof",
    "your hand", "the river", "the glass", "the shade", "a dog", "the hush", "the dawn", "the dusk",
    "the frost", "the smoke", "the moon", "a star", "the door", "the clock", "the sea", "the grass",
    "a moth", "the leaf", "a train", "the street", "the snow", "the sky", "my heart", "the old song",
    "a kettle", "the garden", "a window", "the morning", "the evening", "a sparrow", "the shadow",
)
VERBS = (
    "goes still", "leans in", "keeps watch", "grows thin", "burns low", "holds its breath", "turns to gold",
    "comes back", "drifts past", "settles down", "waits for me", "hums all night", "spills over", "fades out",
    "forgets its name", "remembers us", "wakes slowly", "breaks open", "sings softly", "answers no one",
    "carries on", "lingers here", "trembles once", "opens wide", "falls away", "shines again", "sleeps at last",
    "keeps its secret", "goes on alone", "calls my name", "turns away", "begins again", "is listening",
)
PLACES = (
    "at dusk", "before the rain", "in the cold", "after midnight", "by the door", "all evening",
    "under the eaves", "on the sill", "in early light", "beyond the hill", "at the edge of town",
    "across the square", "along the wall", "through the window", "in the long grass", "near the water",
    "past the station", "behind the house", "above the roofs", "at first light", "in the quiet",
    "on the far shore", "all afternoon", "until the dark", "in the doorway", "down the hallway",
)
TONES = {
    "melancholic": ("nothing stays", "so much is gone", "the ache remains", "all of it lost"),
    "joyful": ("what a bright day", "everything sings", "laughter and light", "all of it glad"),
    "wistful": ("if only once", "the way it was", "almost again", "not quite the same"),
    "playful": ("a game of tag", "just for the fun", "a wink, a grin", "hide and go seek"),
    "solemn": ("we bow our heads", "a bell for the dead", "silence is kept", "the slow procession"),
    "hopeful": ("still, it may come", "tomorrow, maybe", "a door ajar", "the first green shoot"),
    "ironic": ("of course it does", "how very kind", "as if it cared", "so much for plans"),
    "tender": ("gently, gently", "your hand in mine", "a soft hello", "held close and warm"),
    "angry": ("enough of this", "it burns in me", "I will not bend", "the fist, the shout"),
    "serene": ("all is at rest", "calm as the lake", "nothing to do", "the still water"),
    "nostalgic": ("years ago now", "the summers past", "when we were young", "the old photograph"),
    "whimsical": ("a hat of moss", "the teacups dance", "a snail on stilts", "moonbeam pudding"),
}
CLOSERS_2 = ("at last", "again", "so still", "and gone", "like that", "for now", "once more", "goodbye")
OPENERS_2 = ("Listen", "Evening", "Morning", "Softly", "Always", "Quiet", "Somewhere", "After")
# Nouns in full-rhyme families (checked against the verifier's rhyme score at first use).
RHYMES = (
    ("bay", "day", "hay", "clay", "way", "spray", "tray", "gray"),
    ("night", "light", "kite", "height", "fight", "sight", "flight"),
    ("town", "gown", "crown", "clown", "down", "brown"),
    ("street", "heat", "wheat", "feet", "seat", "sheet"),
    ("lane", "rain", "train", "crane", "plain", "drain", "chain"),
    ("hill", "mill", "sill", "till", "chill", "will"),
    ("door", "floor", "shore", "store", "core", "war"),
    ("bed", "shed", "bread", "thread", "head", "sled"),
    ("cat", "hat", "mat", "bat", "hat", "flat"),
    ("cake", "lake", "rake", "snake", "wake", "flake"),
    ("boat", "coat", "goat", "note", "throat", "moat"),
    ("bell", "shell", "well", "spell", "cell", "smell"),
    ("tree", "bee", "sea", "key", "knee", "tea"),
    ("stone", "bone", "throne", "phone", "cone", "drone"),
    ("sky", "pie", "tie", "eye", "fly", "lie"),
    ("ground", "sound", "mound", "hound", "round", "pound"),
)
PREPS_2 = ("beyond", "across", "along", "upon", "beneath", "against", "toward", "between", "around")


def syl(text: str) -> int | None:
    """The verifier's syllable count of a phrase, or None when it is ambiguous (a range): a good
    poem must scan under any reading."""
    lo, hi = line_syllable_range(text)
    return lo if lo == hi else None


@lru_cache(maxsize=1)
def _rhyme_families() -> tuple[tuple[str, ...], ...]:
    out = []
    for fam in RHYMES:
        words = tuple(dict.fromkeys(w for w in fam if syl(w) == 1))
        keep = tuple(w for w in words if all(rhyme_score(w, o) >= 0.9 for o in words if o != w))
        if len(keep) >= 3:
            out.append(keep)
    return tuple(out)


def head_noun(topic: str) -> str:
    """'a fox in the city' -> 'fox'; 'the last train home' -> 'train': the topic's first noun-ish word
    after the article and adjectives we know of."""
    skip = {"a", "an", "the", "my", "old", "last", "first", "empty", "broken", "abandoned", "winter",
            "childhood", "northern", "power", "hospital", "violin", "grandmother's", "city"}
    words = [w for w in topic.lower().replace("'s", "'s").split() if w not in skip]
    return words[0] if words else topic.split()[-1]


SHORT = ("now", "still", "here", "once", "gone", "home", "near", "again", "tonight", "alone")


@lru_cache(maxsize=64)
def _by_count(bank: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for phrase in bank:
        n = syl(phrase)
        if n is not None:
            out.setdefault(n, []).append(phrase)
    return {n: tuple(v) for n, v in out.items()}


def _finish(head: str, target: int, bank: tuple[str, ...], rng: random.Random) -> str | None:
    """`head` plus one phrase of `bank` that brings it to exactly `target` syllables (head alone if it
    already has them)."""
    n = line_syllable_range(head)[0]  # a topic may read two ways ("spring"): verify() has the last word
    if n > target:
        return None
    if n == target:
        return head
    options = _by_count(bank).get(target - n)
    return f"{head} {rng.choice(options)}" if options else None


class Composer:
    def __init__(self, topic: str, tone: str, rng: random.Random) -> None:
        self.topic, self.rng = topic.strip() or "the sea", rng
        self.noun = head_noun(self.topic)
        self.tone = TONES.get(tone.strip().lower(), TONES["serene"])
        self.used: set[str] = set()

    def tone_phrase(self) -> str:
        """One of the tone's phrases not used yet in this poem (then any)."""
        left = [p for p in self.tone if p not in self.used]
        phrase = self.rng.choice(left or list(self.tone))
        self.used.add(phrase)
        return phrase

    def subject(self) -> str:
        return f"the {self.noun}" if self.rng.random() < 0.2 else self.rng.choice(SUBJECTS)

    def line(self, n: int, topic: bool = False) -> str | None:
        r, c = self.rng, self.rng.choice
        tails = VERBS + PLACES + SHORT
        for _ in range(30):
            if topic:
                head = self.topic if r.random() < 0.6 else f"{self.topic} {c(PLACES)}"
                got = _finish(head, n, tails, r)
                if got is None and head != self.topic:
                    got = _finish(self.topic, n, tails, r)
            else:
                kind = r.randrange(4)
                if kind == 0:  # the wind ... goes still
                    got = _finish(c([self.subject(), f"and {self.subject()}", f"{c(PLACES)} {self.subject()}"]),
                                  n, VERBS, r)
                elif kind == 1:  # the wind goes still ... at dusk
                    got = _finish(f"{self.subject()} {c(VERBS)}", n, PLACES + SHORT, r)
                elif kind == 2:  # nothing stays ... at dusk
                    got = _finish(self.tone_phrase(), n, PLACES + SHORT, r)
                else:
                    got = _finish(self.subject(), n, PLACES, r)
            if got:
                return got
        return None

    def syllabic(self, counts: list[int]) -> list[str] | None:
        """Lines of exactly these syllable counts; the topic goes in the first line long enough."""
        t = line_syllable_range(self.topic)[0]
        topic_at = next((i for i, n in enumerate(counts) if n >= max(t, 3)), None)
        lines: list[str] = []
        self.used.clear()
        for i, n in enumerate(counts):
            if n == 2:
                pool = OPENERS_2 if i == 0 else CLOSERS_2
                word = self.noun if i == 0 and syl(self.noun) == 2 and self.rng.random() < 0.6 else self.rng.choice(pool)
                lines.append(word)
                continue
            ln = self.line(n, topic=i == topic_at)
            if ln is None:
                return None
            lines.append(ln)
        return lines

    def rhymed(self, starts: list[str], end_word: str, span: tuple[int, int], meter: str | None = None) -> str | None:
        """A line '<start> <end_word>' within `span` syllables (and scanning as `meter`, when given)."""
        for _ in range(80):
            start = self.rng.choice(starts)
            text = f"{start} {end_word}"
            n = line_syllable_range(text)[0]  # the topic may read two ways; verify() checks the whole poem
            if not span[0] <= n <= span[1]:
                continue
            if meter and _meter_clashes(line_stress(text), meter) > 1:
                continue
            return text
        return None


def _limerick(cp: Composer) -> list[str] | None:
    r = cp.rng
    a_fam, b_fam = r.sample(_rhyme_families(), 2)
    a, b = r.sample(a_fam, 3), r.sample(b_fam, 2)
    t = cp.topic
    l1 = [f"There once was {t} by the", f"I once knew {t} near the", f"Consider {t} and the",
          f"Now {t} lived down by the", f"{t} lived near the", f"{t}, by the"]
    l2 = ["who wandered all over the", "who sang to the moon and the", "who never quite trusted the",
          "who swore it would follow the", "that argued all day with the", "who kept a small eye on the"]
    l3 = ["It borrowed a", "It found an old", "It dreamed of a", "It painted a", "It stole a blue"]
    l4 = ["and danced with a", "then slept in a", "and sold it a", "and ate half a", "and married a"]
    l5 = ["and that was the end of the", "and laughed all the way to the", "so now it is king of the",
          "and nobody mentions the", "and still it goes back to the"]
    out = [cp.rhymed(l1, a[0], (7, 11)), cp.rhymed(l2, a[1], (7, 11)), cp.rhymed(l3, b[0], (4, 7)),
           cp.rhymed(l4, b[1], (4, 7)), cp.rhymed(l5, a[2], (7, 11))]
    return None if None in out else [ln for ln in out if ln]


def _sonnet(cp: Composer) -> list[str] | None:
    r, iamb = cp.rng, "01" * 5
    fams = r.sample(_rhyme_families(), 7)
    pairs = [r.sample(f, 2) for f in fams]
    ends = [pairs[0][0], pairs[1][0], pairs[0][1], pairs[1][1], pairs[2][0], pairs[3][0], pairs[2][1],
            pairs[3][1], pairs[4][0], pairs[5][0], pairs[4][1], pairs[5][1], pairs[6][0], pairs[6][1]]

    def starts() -> list[str]:
        out = []
        for _ in range(40):
            out.append(f"{cp.subject()} {r.choice(VERBS)} {r.choice(PREPS_2)} the")
            out.append(f"and {cp.subject()} {r.choice(VERBS)} {r.choice(PREPS_2)} the")
        return out

    def topical() -> list[str]:
        t = cp.topic
        out = [f"I think of {t} and the", f"Remember {t} and the", f"I carry {t} to the",
               f"And still {t} in the", f"I think of {t} {r.choice(PREPS_2)} the"]
        for _ in range(20):
            p = r.choice(PREPS_2)
            q = r.choice(("by", "in", "near", "through", "past", "on"))
            out += [f"and {t} {p} the", f"{t} {p} the", f"so {t} is {p} the", f"and {t} goes {p} the",
                    f"and {t} {q} the", f"{t} {q} the", f"I think of {t} {q} the", f"and all {t} {q} the",
                    f"{t} is {q} the", f"{t} went {q} the"]
            out.append(f"{t} {r.choice(VERBS)} {r.choice(PREPS_2)} the")
            out.append(f"and {t} {r.choice(VERBS)} by the")
            out.append(f"so {t} {r.choice(VERBS)} in the")
        return out

    lines = []
    for i, end in enumerate(ends):
        ln = cp.rhymed(topical() if i in (0, 12) else starts(), end, (10, 10), iamb)
        if ln is None and i == 12:
            ln = cp.rhymed(starts(), end, (10, 10), iamb)  # the topic is in line 1 already
        if ln is None:
            return None
        lines.append(ln)
    return lines


def _punctuate(lines: list[str], rng: random.Random) -> list[str]:
    out = []
    for i, ln in enumerate(lines):
        ln = ln[0].upper() + ln[1:] if i == 0 else ln
        end = "." if i == len(lines) - 1 else rng.choice([",", "", "", ";", ","])
        out.append(ln.rstrip(",;") + end)
    return out


SYLLABIC = {"haiku": [5, 7, 5], "tanka": [5, 7, 5, 7, 7], "cinquain": [2, 4, 6, 8, 2]}
STANZAS = {"shakespearean_sonnet": [4, 4, 4, 2]}
FORM_NAMES = {"haiku": "Haiku", "tanka": "Tanka", "cinquain": "Cinquain", "limerick": "Limerick",
              "shakespearean_sonnet": "Shakespearean sonnet"}


def compose(form_slug: str, topic: str, tone: str, rng: random.Random, tries: int = 16) -> str | None:
    """A poem of the form about `topic` that the verifier scores 1.0, or None when the form is not
    one we compose (the caller falls back to the corpus) or no draw verified."""
    if form_slug not in FORM_NAMES:
        return None
    cp = Composer(topic, tone, rng)
    for _ in range(tries):
        if form_slug in SYLLABIC:
            lines = cp.syllabic(SYLLABIC[form_slug])
        elif form_slug == "limerick":
            lines = _limerick(cp)
        else:
            lines = _sonnet(cp)
        if not lines or len({ln.lower() for ln in lines}) < len(lines):
            continue  # no line said twice (a villanelle's refrains are not composed here)
        head, _, rest = lines[0].partition(" ")
        if head.lower() in ("and", "or", "nor") and rest:
            # A poem does not open mid-sentence (the verifier's line_order says so too): "now" is one
            # light syllable in the conjunction's place, so metre and rhyme stay as they were.
            lines[0] = f"now {rest}"
        lines = _punctuate(lines, rng)
        shape = STANZAS.get(form_slug)
        if shape:
            parts, k = [], 0
            for n in shape:
                parts.append("\n".join(lines[k:k + n]))
                k += n
            text = "\n\n".join(parts)
        else:
            text = "\n".join(lines)
        if cp.topic.lower() in text.lower() and verify(text, FORM_NAMES[form_slug]).score >= 0.999:
            return text
    return None
