"""The one reasoning-block stripper (verify/text.py) that the worker, the form cleaner and the
training evaluation share."""

from __future__ import annotations

from watcher.verify.text import split_think, strip_think


def test_closed_blocks_are_removed_and_the_first_is_the_reasoning() -> None:
    assert split_think("<think>plan the rhymes</think>\n\nRoses are red") == ("plan the rhymes", "Roses are red")
    assert split_think("<THINKING>a</THINKING>x<reasoning>b</reasoning>y") == ("a", "x\ny")
    assert split_think("just a poem") == (None, "just a poem")


def test_unclosed_reasoning_leaves_no_answer_after_it() -> None:
    assert split_think("<think>never closed, ran out of tokens") == ("never closed, ran out of tokens", "")
    assert strip_think("  <think>never closed") == "  "
    assert split_think("Roses are red\n<think>and then") == ("and then", "Roses are red")


def test_a_stray_closing_tag_ends_the_reasoning() -> None:
    # Chat templates that open the block themselves leave only the closing tag in the reply.
    assert split_think("planning first</think>\nRoses are red") == (None, "Roses are red")
    assert strip_think("a</think>b</think>poem") == "poem"


def test_plain_text_is_returned_unchanged() -> None:
    s = "  line one\n\nline two  "
    assert strip_think(s) is s
