"""clean_poem: the poem survives, titles, markdown, reasoning and chatter do not."""

from __future__ import annotations

from watcher.verify.forms import clean_poem, verify

POEM = """Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:

So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee."""


def test_plain_poem_unchanged() -> None:
    assert clean_poem(POEM) == POEM


def test_titles_removed() -> None:
    for title in ("# Sonnet 18", "## A Summer's Day", "**A Summer's Day**", '"A Summer\'s Day"',
                  "Title: A Summer's Day", "*A Summer's Day*", "The House on the Hill"):
        assert clean_poem(f"{title}\n\n{POEM}") == POEM, title


def test_markdown_emphasis_and_fences() -> None:
    text = "```\n**Shall** I compare thee to a *summer's* day?\n_Thou_ art more lovely and more temperate:\n```"
    assert clean_poem(text) == ("Shall I compare thee to a summer's day?\n"
                                "Thou art more lovely and more temperate:")
    fenced = f"Here is your sonnet:\n\n```text\n{POEM}\n```\n\nI hope you enjoy it!"
    assert clean_poem(fenced) == POEM


def test_think_blocks() -> None:
    assert clean_poem(f"<think>\nI need 14 lines.\nABAB...\n</think>\n\n{POEM}") == POEM
    assert clean_poem(f"<think>plan</think>{POEM}") == POEM
    # Reasoning with only a closing tag (some providers strip the opening one).
    assert clean_poem(f"Let me plan the rhymes first.\n</think>\n{POEM}") == POEM
    # Reasoning that never closed: the reply was cut off, there is no poem.
    assert clean_poem("<think>\nI will write about the sea and") == ""


def test_chatter_before_and_after() -> None:
    text = (f"Sure! Here's a sonnet about summer in a tender tone:\n\n{POEM}\n\n"
            "I hope you enjoy this poem! Let me know if you'd like changes.")
    assert clean_poem(text) == POEM
    text = f"Certainly!\n\n**Summer**\n\n{POEM}\n\n---\n\nThis sonnet uses the ABAB rhyme scheme."
    assert clean_poem(text) == POEM
    text = f"Here is a sonnet:\n{POEM}\n\nNote: the couplet resolves the argument."
    assert clean_poem(text) == POEM


def test_poem_lines_that_look_like_chatter_survive() -> None:
    poem = "Let me not to the marriage of true minds\nAdmit impediments. Love is not love"
    assert clean_poem(poem) == poem
    poem = "Okay the rain\nfalls on the roof"
    assert clean_poem(poem) == poem


def test_stanza_breaks_kept_and_normalised() -> None:
    text = "a b c\n\n\n\nd e f  \r\ng h i\n"
    assert clean_poem(text) == "a b c\n\nd e f\ng h i"


def test_verify_cleans_by_default() -> None:
    haiku = "Morning frost on glass\nthe kettle begins to sing\nsteam blurs the window"
    wrapped = f"<think>5-7-5</think>\n# Frost\n\nHere is a haiku:\n\n{haiku}\n\nI hope you like it!"
    res = verify(wrapped, "Haiku")
    assert res.passed and res.text == haiku
    assert not verify(wrapped, "Haiku", clean=False).passed
