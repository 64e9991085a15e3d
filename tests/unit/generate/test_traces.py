"""SYNTH traces come from real rubric results; natural traces from the model's reasoning."""

from __future__ import annotations

from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.verify.text import split_think

RUBRIC = [
    {"criterion": "line_count", "expected": "14", "actual": "14", "score": 1.0, "instruction": "Write 14 lines."},
    {"criterion": "syllables", "expected": "10 per line", "actual": "8-11", "score": 0.85, "instruction": "Ten syllables."},
    {"criterion": "rhyme_scheme", "expected": "ABAB CDCD EFEF GG", "actual": "ABAB CDCD EFEF GH", "score": 0.0},
]


def test_synth_trace_reflects_the_rubric():
    t = build_synth_trace("Sonnet", {"form": "Sonnet", "topic": "autumn", "tone": "melancholic"}, RUBRIC, 0.62,
                          [(0.41, "rhyme_scheme: 3 of 7 pairs rhyme")])
    assert t.startswith("<think>\nSonnet requirements:") and t.endswith("</think>")
    assert "├─ line_count: 14 ●" in t and "├─ syllables: 10 per line ●" not in t
    assert "├─ syllables: 10 per line ◐" in t and "rhyme_scheme: ABAB CDCD EFEF GG ○" in t
    assert "└─ topic: autumn (melancholic)" in t
    assert "✓ line_count: 100%" in t and "☑ syllables: 85%" in t and "☐ rhyme_scheme: 0%" in t
    assert "↺ draft 1: 0.41" in t and "∴ Sonnet complete: ◐ medium confidence (0.62)" in t
    assert "→ Write 14 lines." in t


def test_split_think_and_natural_trace():
    r, text = split_think("<think>plan the rhymes</think>\n\nRoses are red")
    assert r == "plan the rhymes" and text == "Roses are red"
    assert split_think("just a poem") == (None, "just a poem")
    r, text = split_think("<think>never closed, ran out of tokens")
    assert r and text == ""
    assert natural_trace(None) == "" and natural_trace("  ") == ""
    assert natural_trace("I will write") == "<think>\nI will write\n</think>"
