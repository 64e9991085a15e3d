"""A braille line chart laid out as plain cells (character + role), for the TUI's loss chart.

Our own on purpose: `textual-plotext` (the Textual wrapper) pins plotext < 6 and has had no release
since 2024, and a line, a few points, ticks and vertical markers are ~150 lines here. Every cell is
(char, role); the widget maps roles to colours, so the layout is testable without a terminal.

Each character cell holds 2×4 braille dots (U+2800 + dot bits), so a chart `w` cells wide and `h`
rows high draws lines on a 2w × 4h pixel grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Dot bit of pixel (x % 2, y % 4) within a cell, y counted from the top (Unicode braille patterns).
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BLANK = " "

# Roles of cells: the renderer styles each.
AXIS, LINE, POINT, MARKER, LABEL, STAGE = "axis", "line", "point", "marker", "label", "stage"

Cell = tuple[str, str]  # (character, role); role "" for blank cells


class BrailleCanvas:
    """A grid of braille cells; pixels addressed (x, y) with y = 0 at the top."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.bits = [[0] * self.width for _ in range(self.height)]

    @property
    def px_width(self) -> int:
        return self.width * 2

    @property
    def px_height(self) -> int:
        return self.height * 4

    def set(self, x: int, y: int) -> None:
        if 0 <= x < self.px_width and 0 <= y < self.px_height:
            self.bits[y // 4][x // 2] |= _DOTS[y % 4][x % 2]

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """Bresenham: every pixel between the two ends, so a steep drop stays a connected line."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.set(x0, y0)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def char(self, col: int, row: int) -> str:
        b = self.bits[row][col]
        return chr(0x2800 + b) if b else BLANK


def nice_ticks(lo: float, hi: float, n: int) -> list[float]:
    """About `n` round values (1, 2 or 5 × 10^k apart) within [lo, hi]."""
    if n < 1 or not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def fmt_tick(v: float, span: float) -> str:
    """A tick label with just the decimals the tick spacing needs."""
    if span >= 10 or float(v).is_integer() and span >= 2:
        return f"{v:.0f}"
    decimals = max(0, min(4, 1 - math.floor(math.log10(span)))) if span > 0 else 2
    return f"{v:.{decimals}f}"


@dataclass(frozen=True)
class LineChart:
    """The chart's rows, top to bottom, each a list of cells exactly `width` wide."""

    rows: list[list[Cell]]
    width: int

    def plain(self) -> list[str]:
        return ["".join(c for c, _ in row) for row in self.rows]


def line_chart(line: Sequence[tuple[float, float]], points: Sequence[tuple[float, float]], *, width: int,
               height: int, x_range: tuple[float, float] | None = None,
               markers: Sequence[tuple[float, str]] = ()) -> LineChart:
    """`line` as connected braille dots, `points` as ● over it, `markers` as dotted vertical lines
    (named in a row above the plot); a y axis with round ticks on the left and an x axis with
    round ticks below. `x_range` fixes the x extent (e.g. 0..total iterations), else the data's.
    Needs height ≥ 4 (labels row, one plot row, axis, tick labels) and width ≥ 12."""
    pts = list(line) + list(points)
    width, height = max(12, width), max(4, height)
    ys = [p[1] for p in pts] or [0.0, 1.0]
    y_lo, y_hi = min(ys), max(ys)
    if y_hi - y_lo < 1e-9:
        y_lo, y_hi = y_lo - 0.5, y_hi + 0.5
    pad = (y_hi - y_lo) * 0.05
    y_lo, y_hi = y_lo - pad, y_hi + pad
    xs = [p[0] for p in pts] or [0.0, 1.0]
    x_lo, x_hi = x_range if x_range is not None else (min(xs), max(xs))
    if x_hi - x_lo < 1e-9:
        x_hi = x_lo + 1.0
    plot_h = height - (3 if markers else 2)  # stage names, plot rows, axis, tick labels
    y_ticks = nice_ticks(y_lo, y_hi, max(2, plot_h // 2))
    y_span = (y_ticks[1] - y_ticks[0]) if len(y_ticks) > 1 else (y_hi - y_lo)
    labels = [fmt_tick(v, y_span) for v in y_ticks]
    axis_w = max(len(s) for s in labels) + 2 if labels else 2  # "label ┤"
    plot_w = width - axis_w - 1  # one column to spare so the last x label fits
    canvas = BrailleCanvas(plot_w, plot_h)

    def px(x: float) -> int:
        return round((x - x_lo) / (x_hi - x_lo) * (canvas.px_width - 1))

    def py(y: float) -> int:  # top is y_hi
        return round((y_hi - y) / (y_hi - y_lo) * (canvas.px_height - 1))

    prev: tuple[int, int] | None = None
    for x, y in line:
        cur = (px(x), py(y))
        if prev is None:
            canvas.set(*cur)
        else:
            canvas.line(*prev, *cur)
        prev = cur
    grid: list[list[Cell]] = [[(canvas.char(c, r), LINE if canvas.bits[r][c] else "") for c in range(plot_w)]
                              for r in range(plot_h)]
    marker_cols = []
    for x, _ in markers:
        c = px(x) // 2
        if 0 < c < plot_w:  # a marker at the left edge would only hide the y axis
            marker_cols.append(c)
            for r in range(plot_h):
                if not grid[r][c][1]:
                    grid[r][c] = ("┊", MARKER)
    for x, y in points:
        c, r = px(x) // 2, py(y) // 4
        if 0 <= c < plot_w and 0 <= r < plot_h:
            grid[r][c] = ("●", POINT)

    rows: list[list[Cell]] = []
    if markers:  # stage names over the plot, each from its marker to the next
        top: list[Cell] = [(BLANK, "")] * width
        starts = [(px(x) // 2, name) for x, name in markers]
        for i, (c, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else plot_w
            room = end - c - 1
            text = name if len(name) <= room else name[: max(0, room - 1)] + "…" if room > 1 else ""
            for k, ch in enumerate(text):
                top[axis_w + c + 1 + k] = (ch, STAGE)
        rows.append(top)
    tick_rows = {py(v) // 4: s for v, s in zip(y_ticks, labels, strict=True)}
    for r in range(plot_h):
        label = tick_rows.get(r)
        head = f"{label:>{axis_w - 2}} ┤" if label is not None else " " * (axis_w - 1) + "│"
        rows.append([(ch, LABEL if i < axis_w - 2 else AXIS) for i, ch in enumerate(head)] + grid[r]
                    + [(BLANK, "")])
    x_ticks = nice_ticks(x_lo, x_hi, max(2, plot_w // 10))
    x_span = (x_ticks[1] - x_ticks[0]) if len(x_ticks) > 1 else (x_hi - x_lo)
    axis: list[Cell] = [(BLANK, "")] * (axis_w - 1) + [("└", AXIS)] + [("─", AXIS)] * plot_w + [(BLANK, "")]
    under: list[Cell] = [(BLANK, "")] * width
    for c in marker_cols:
        axis[axis_w + c] = ("┴", AXIS)
    next_free = 0
    for v in x_ticks:
        c = px(v) // 2
        axis[axis_w + c] = ("┼" if c in marker_cols else "┬", AXIS)
        s = fmt_tick(v, x_span)
        start = min(width - len(s), max(next_free, axis_w + c - len(s) // 2))
        if start < next_free:
            continue  # would overlap the previous label
        for k, ch in enumerate(s):
            under[start + k] = (ch, LABEL)
        next_free = start + len(s) + 1
    rows.append(axis)
    rows.append(under)
    return LineChart(rows=rows, width=width)
