"""A one-row score histogram with a min_score marker, and the axis drawn above it, as plain cells.

The per-group table shows every attempt's score (`GroupStats.attempt_scores`, SCORE_BINS fine bins)
merged to as many columns as fit; a `┊` column at min_score splits the bins below it (role "low")
from those at or above it ("high"); the axis line has the same width, so header and rows line up.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.monitor.format import sparkline

MARK = "┊"
WIDTHS = (40, 20, 10)  # divisors of SCORE_BINS: bins of 0.025, 0.05 or 0.1


def fit_bins(room: int, min_score: float | None) -> int:
    """The most bins (of WIDTHS) that fit in `room` columns with the marker; the fewest otherwise."""
    extra = 1 if min_score is not None else 0
    return next((b for b in WIDTHS if b + extra <= room), WIDTHS[-1])


def merge_bins(counts: Sequence[int], bins: int) -> list[int]:
    """Sum adjacent fine bins into `bins` (len(counts) a multiple of bins; empty -> zeros)."""
    if not counts:
        return [0] * bins
    k = max(1, len(counts) // bins)
    return [sum(counts[i:i + k]) for i in range(0, k * bins, k)]


def marker_at(bins: int, min_score: float | None) -> int | None:
    """The bin index the marker goes before (bins below it lie wholly under min_score)."""
    if min_score is None:
        return None
    return max(0, min(bins, round(min(1.0, max(0.0, min_score)) * bins)))


def histogram_cells(counts: Sequence[int], bins: int, min_score: float | None) -> list[tuple[str, str]]:
    """(char, role) per column: bars "low"/"high" (empty bins are blanks), the marker "marker"."""
    merged = merge_bins(counts, bins)
    bars = sparkline(merged)
    mark = marker_at(bins, min_score)
    out: list[tuple[str, str]] = []
    for i, ch in enumerate(bars):
        if i == mark:
            out.append((MARK, "marker"))
        out.append((ch, "low" if mark is not None and i < mark else "high"))
    if mark == bins:
        out.append((MARK, "marker"))
    return out


def histogram_axis(bins: int, min_score: float | None) -> str:
    """`0`, `.5` and `1` over their columns and the marker over its column, same width as a row."""
    mark = marker_at(bins, min_score)
    width = bins + (1 if mark is not None else 0)

    def col(boundary: int) -> int:  # the column of the bin starting at `boundary`
        return boundary + (1 if mark is not None and boundary >= mark else 0)

    cells = [" "] * width
    if mark is not None:
        cells[mark] = MARK
    for text, start in (("0", 0), (".5", col(bins // 2) - 1), ("1", width - 1)):
        if all(cells[start + i] == " " for i in range(len(text)) if start + i < width):
            for i, ch in enumerate(text):
                if start + i < width:
                    cells[start + i] = ch
    return "".join(cells)
