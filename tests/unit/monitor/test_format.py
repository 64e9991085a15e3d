"""The shared formatters: durations, clocks, bars, sparklines, tokens, optional numbers, feed lines."""

from __future__ import annotations

from watcher.monitor.format import (
    bar,
    feed_line,
    fmt_clock,
    fmt_duration,
    fmt_tokens,
    num,
    pct,
    plural,
    sparkline,
)
from watcher.monitor.snapshot import FeedItem


def test_fmt_duration_exact_and_coarse() -> None:
    assert fmt_duration(None) == "--" and fmt_duration(None, coarse=True) == "--"
    assert fmt_duration(0) == "0s" and fmt_duration(59) == "59s" and fmt_duration(59.9) == "59s"
    assert fmt_duration(60) == "1m00s" and fmt_duration(185) == "3m05s" and fmt_duration(3599) == "59m59s"
    assert fmt_duration(3600) == "1h00m" and fmt_duration(3900) == "1h05m" and fmt_duration(90000) == "25h00m"
    # coarse (ETAs): whole minutes under an hour, the same form above it
    assert fmt_duration(59, coarse=True) == "59s" and fmt_duration(45, coarse=True) == "45s"
    assert fmt_duration(1570, coarse=True) == "26m" and fmt_duration(89, coarse=True) == "1m"
    assert fmt_duration(3600, coarse=True) == "1h00m" and fmt_duration(90000, coarse=True) == "25h00m"
    assert fmt_duration(-5) == "0s"  # a clock skew never shows a negative duration


def test_fmt_clock_with_and_without_hours() -> None:
    assert fmt_clock(2537) == "0:42:17" and fmt_clock(59) == "0:00:59" and fmt_clock(3600) == "1:00:00"
    assert fmt_clock(90000) == "25:00:00" and fmt_clock(-1) == "0:00:00" and fmt_clock(None) == "--"
    assert fmt_clock(59, hours=False) == "0:59" and fmt_clock(754, hours=False) == "12:34"
    assert fmt_clock(3600, hours=False) == "1:00:00" and fmt_clock(90061, hours=False) == "25:01:01"


def test_bar_has_eighth_cell_resolution() -> None:
    assert bar(0.5, 10) == "█████░░░░░" and bar(0, 4) == "░░░░" and bar(1, 4) == "████"
    assert bar(1 / 16, 4) == "▎░░░" and bar(2.0, 3) == "███" and bar(-1, 3) == "░░░" and bar(0.5, 0) == ""
    assert all(len(bar(i / 37, 9)) == 9 for i in range(38))


def test_sparkline_scales_to_the_fullest_bin() -> None:
    assert sparkline((0, 1, 8)) == " ▁█" and sparkline((0, 0)) == "  " and sparkline(()) == ""
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█" and sparkline((3, 3)) == "██"


def test_numbers() -> None:
    assert fmt_tokens(999) == "999" and fmt_tokens(1000) == "1.0k" and fmt_tokens(1_940_000) == "1.9M"
    assert pct(0.944) == "94%" and pct(None) == "--" and pct(1.0) == "100%"
    assert num(0.905) == "0.91" and num(None) == "--" and num(1.25, ".1f") == "1.2"


def test_feed_line_accepted_and_rejected() -> None:
    acc = FeedItem(kind="accepted", index=17, total=200, group="Sonnet", score=0.92, model="claude-haiku-4-5",
                   attempts=1, id="a")
    assert feed_line(acc) == "[17/200] Sonnet: score=0.92 (claude-haiku-4-5)"
    assert feed_line(FeedItem(kind="accepted", index=3, total=9, group="Haiku", score=0.8, model="m", attempts=2,
                              id="b")) == "[3/9] Haiku: score=0.80 (m)   attempt 2"
    rej = FeedItem(kind="rejected", index=17, total=200, group="Limerick", score=0.62, model="m", attempts=5,
                   id="c", reason="below_min_score", detail="refrain 2 missing")
    assert feed_line(rej) == "✗ Limerick rejected: best 0.62 after 5 attempts (refrain 2 missing)"
    rej2 = FeedItem(kind="rejected", index=1, total=2, group="G", score=None, model="m", attempts=3, id="d",
                    reason="timeout")
    assert feed_line(rej2) == "✗ G rejected: timeout after 3 attempts (timeout)"


def test_plural_says_one_and_many():
    assert plural(1, "request") == "1 request" and plural(0, "request") == "0 requests"
    assert plural(3, "batch", "batches") == "3 batches" and plural(1, "batch", "batches") == "1 batch"
