"""The plain chart layouts: the score histogram with its min_score marker and axis, the braille line."""

from __future__ import annotations

from watcher.monitor.braille import BrailleCanvas, line_chart, nice_ticks
from watcher.monitor.format import downsample
from watcher.monitor.histogram import fit_bins, histogram_axis, histogram_cells, merge_bins


def test_histogram_merges_bins_marks_min_score_and_aligns_with_its_axis() -> None:
    fine = [0] * 40
    fine[12], fine[13], fine[33], fine[39] = 2, 2, 4, 8  # 0.30-0.35, 0.825, 0.975
    assert merge_bins(fine, 10) == [0, 0, 0, 4, 0, 0, 0, 0, 4, 8]
    cells = histogram_cells(fine, 10, 0.8)
    assert "".join(c for c, _ in cells) == "   ▄    ┊▄█"
    assert [r for _, r in cells][:8] == ["low"] * 8 and cells[8] == ("┊", "marker")
    assert {r for _, r in cells[9:]} == {"high"}
    axis = histogram_axis(10, 0.8)
    assert len(axis) == len(cells) and axis.index("┊") == 8 and axis.startswith("0") and axis.endswith("1")
    assert axis[4:6] == ".5"  # over the bin that starts at 0.5
    assert histogram_axis(10, None) == "0   .5   1" and len(histogram_cells(fine, 10, None)) == 10
    assert [fit_bins(w, 0.8) for w in (80, 41, 40, 21, 11, 3)] == [40, 40, 20, 20, 10, 10]


def test_braille_canvas_sets_dots_and_draws_connected_lines() -> None:
    c = BrailleCanvas(2, 1)
    c.set(0, 0)
    c.set(1, 3)
    assert c.char(0, 0) == chr(0x2800 + 0x01 + 0x80) and c.char(1, 0) == " "
    c = BrailleCanvas(1, 2)
    c.line(0, 0, 0, 7)  # a steep drop stays connected: every dot of the left column
    assert c.char(0, 0) == c.char(0, 1) == chr(0x2800 + 0x01 + 0x02 + 0x04 + 0x40)


def test_nice_ticks_are_round_and_inside_the_range() -> None:
    assert nice_ticks(0, 300, 6) == [0, 50, 100, 150, 200, 250, 300]
    assert nice_ticks(1.62, 3.28, 4) == [2.0, 2.5, 3.0]
    assert nice_ticks(1.0, 1.0, 3) == [1.0]


def test_line_chart_has_axes_ticks_points_and_stage_markers() -> None:
    train = [(10, 3.2), (40, 2.4), (80, 1.9), (120, 1.7)]
    chart = line_chart(train, [(100, 1.9)], width=60, height=12, x_range=(0, 300),
                       markers=[(0, "warmup"), (100, "sonnets")])
    rows = chart.plain()
    assert len(rows) == 12 and all(len(r) == 60 for r in rows)
    assert rows[0].split() == ["warmup", "sonnets"]  # stage names over the plot
    assert rows[-1].split() == ["0", "100", "200", "300"]  # round x ticks over the whole range
    assert rows[-2].lstrip().startswith("└┬") and "┼" in rows[-2]  # the 100 tick meets the marker
    ylabels = [r.split("┤")[0].strip() for r in rows[1:-2] if "┤" in r]
    assert ylabels == ["3.00", "2.50", "2.00"]
    marker_col = rows[-2].index("┼")
    assert sum(r[marker_col] in "┊●" for r in rows[1:-2]) >= len(rows) - 5  # a marker line (the loss line crosses it)
    assert any("●" in r for r in rows) and any(0x2800 < ord(ch) <= 0x28FF for r in rows for ch in r)
    roles = {role for row in chart.rows for _, role in row}
    assert {"line", "point", "marker", "stage", "axis", "label"} <= roles


def test_downsample_sums_consecutive_groups() -> None:
    assert downsample([1, 2, 3, 4, 5, 6], 3) == [3, 7, 11]
    assert downsample([1, 2], 5) == [1, 2] and downsample([1, 2, 3], 0) == []
    assert sum(downsample(list(range(30)), 7)) == sum(range(30))
