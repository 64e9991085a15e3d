"""Turn a model's reply into just the poem: no reasoning, title, markdown or chatter; stanza breaks kept."""

from __future__ import annotations

import re

from watcher.verify.text import strip_think

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_RULE = re.compile(r"^\s*([-*_=])(\s*\1){2,}\s*$")
_RULE_CHARS = frozenset("-*_=")
_TITLE_LABEL = re.compile(r"^\s*\**\s*(title|poem|form|topic|tone)\s*\**\s*:", re.I)
_WRAPPED = re.compile(r"""^\s*(\*\*|__|\*|_|["“”'‘])(.+?)(\*\*|__|\*|_|["“”'’])\s*[.:]?\s*$""")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPH = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_HTML = re.compile(r"</?(br|p|em|i|b|strong|span|div)\b[^>]*>", re.I)

_LEAD_CHATTER = re.compile(
    r"^\s*(here(’|')?s|here is|here are|below is|sure\b|certainly|of course|okay|ok\b|absolutely|great\b|"
    r"i(’|')?ve written|i have written|i wrote|i(’|')?ll write|this is a|the following|"
    r"as requested|happy to|alright|all right)", re.I)
_TRAIL_CHATTER = re.compile(
    r"^\s*(i hope|hope you|let me know|feel free|this (poem|sonnet|haiku|villanelle|piece|version)|"
    r"the poem|in this (poem|piece)|note:|notes:|explanation|analysis|\(?word count|enjoy|i tried|i aimed|"
    r"i(’|')?ve (tried|aimed|used|kept)|would you like|if you(’|')?d like|want me to|"
    r"rhyme scheme:|syllable count|form:|structure:)", re.I)


_POEM_WORD = re.compile(
    r"\b(here|poem|sonnet|haiku|tanka|villanelle|limerick|triolet|quatrain|cinquain|clerihew|terza|sestina|"
    r"pantoum|ghazal|rondeau|ballade|blues|ottava|rhyme|verse|stanza|lines?|request|attempt|version)\b", re.I)


def _is_lead_chatter(line: str) -> bool:
    """An opener ("Here is", "Sure!") that is plainly about the poem, not a poem line ("Let me not...")."""
    s = line.strip()
    if not _LEAD_CHATTER.match(s):
        return False
    return s.endswith((":", "!")) or bool(_POEM_WORD.search(s)) or len(s.split()) <= 2


def _strip_fences(lines: list[str]) -> list[str]:
    fences = [i for i, ln in enumerate(lines) if _FENCE.match(ln)]
    if len(fences) >= 2:
        # The poem is inside the first fenced block; outside it is commentary.
        a, b = fences[0], fences[1]
        return lines[a + 1:b]
    return [ln for ln in lines if not _FENCE.match(ln)]


_MARKS = frozenset("*_<>\\")


def _unmark(line: str) -> str:
    if _MARKS.isdisjoint(line):  # most poem lines carry no markup: skip the regexes
        return line.rstrip()
    line = _HTML.sub("", line)
    line = re.sub(r"^\s*>\s?", "", line)  # blockquote
    line = _BOLD.sub(r"\2", line)
    line = _EMPH.sub(r"\2", line)
    line = line.rstrip("\\").rstrip()  # markdown hard breaks
    return line


def _is_titleish(line: str) -> bool:
    s = line.strip()
    if _HEADING.match(s) or _TITLE_LABEL.match(s):
        return True
    m = _WRAPPED.match(s)
    if m and len(m.group(2).split()) <= 10:
        return True
    return False


def _plain_title(line: str) -> bool:
    """A short Title-Case line with no closing punctuation, e.g. 'The House on the Hill'."""
    s = line.strip()
    ws = s.split()
    if not ws or len(ws) > 8 or s[-1] in ".,;:!?-—" or len(s) > 60:
        return False
    small = {"a", "an", "the", "of", "on", "in", "and", "to", "for", "at", "by", "with", "from", "or", "as"}
    return all(w[:1].isupper() or w.lower() in small or not w[:1].isalpha() for w in ws) and ws[0][:1].isupper()


def paragraphs(lines: list[str]) -> list[list[str]]:
    """Runs of non-blank lines (stanzas), lines kept as they are."""
    paras: list[list[str]] = []
    cur: list[str] = []
    for ln in lines:
        if ln.strip():
            cur.append(ln)
        elif cur:
            paras.append(cur)
            cur = []
    if cur:
        paras.append(cur)
    return paras


def clean_poem(text: str) -> str:
    """The poem alone: reasoning blocks, code fences, titles, markdown and chatter removed."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = strip_think(text)
    lines = text.split("\n")
    if "```" in text or "~~~" in text:  # most replies have no fences: skip the per-line regex
        lines = _strip_fences(lines)
    # Horizontal rules separate chatter from the poem; treat them as paragraph breaks.
    lines = ["" if ln.lstrip()[:1] in _RULE_CHARS and _RULE.match(ln) else ln.rstrip() for ln in lines]

    paras = paragraphs(lines)
    # Leading chatter and titles.
    while paras:
        first = paras[0]
        if _is_lead_chatter(first[0]):
            # "Here is a sonnet:" directly above the poem: drop only that line.
            rest = first[1:]
            if first[0].rstrip().endswith(":") and rest:
                paras[0] = rest
            else:
                paras.pop(0)
            continue
        if _is_titleish(first[0]) and (len(first) == 1 or len(paras) == 1):
            if len(first) == 1:
                paras.pop(0)
            else:
                paras[0] = first[1:]
            continue
        if len(first) == 1 and len(paras) > 1 and _plain_title(first[0]) and len(paras[1]) >= 2:
            paras.pop(0)
            continue
        break
    # Trailing chatter: from the first commentary paragraph after the poem has begun, cut everything.
    for i in range(1, len(paras)):
        if _TRAIL_CHATTER.match(paras[i][0]) or _is_lead_chatter(paras[i][0]):
            paras = paras[:i]
            break
    out = "\n\n".join("\n".join(_unmark(ln) for ln in p) for p in paras)
    # Unmarking can empty a line ("**" alone); keep stanza breaks single.
    if "\n\n\n" in out:
        out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip()
