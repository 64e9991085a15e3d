"""Text formatting shared by headless output, `watcher status`, training progress and the TUI.

Durations, bars, histogram sparklines, token counts and optional numbers each have one formatter
here; every renderer imports them so the same fact reads the same everywhere. Pure functions over
plain values (and a FeedItem): nothing here needs Textual.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.monitor.snapshot import FeedItem

BARS = "▁▂▃▄▅▆▇█"  # eighths of a cell's height: sparklines and chart columns
PARTIAL = " ▏▎▍▌▋▊▉"  # eighths of a cell's width: smooth progress bars
# Run and worker states as rich styles: the TUI and the CLI tables colour them alike.
STATE_STYLE = {
    "running": "bold green", "starting": "bold cyan", "pausing": "bold yellow", "paused": "bold yellow",
    "done": "bold blue", "failed": "bold red", "stopped": "bold magenta", "detached": "bold magenta",
    "stopping": "bold yellow", "restarting": "yellow", "dead": "bold red",
}
# The gate's verdict words (gate/verdict.py GateVerdict.word, the gate's PASS/FAIL line) as rich styles.
VERDICT_STYLE = {"PASSED": "bold green", "PASS": "bold green", "FAILED": "bold red", "FAIL": "bold red",
                 "STALE": "yellow", "--": "dim"}


# -- durations ------------------------------------------------------------------------------------
def fmt_duration(seconds: float | None, *, coarse: bool = False) -> str:
    """`45s`, `3m05s`, `2h07m`; "--" when unknown. `coarse` rounds to whole minutes under an hour
    (`3m`): an ETA that changes every tick is noise (and a repaint)."""
    if seconds is None:
        return "--"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{round(s / 60)}m" if coarse else f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def fmt_clock(seconds: float | None, *, hours: bool = True) -> str:
    """A stopwatch: `0:05:03`; with `hours=False` the hours show only from one hour on (`5:03`)."""
    if seconds is None:
        return "--"
    s = int(max(0.0, seconds))
    if hours or s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


# -- bars -----------------------------------------------------------------------------------------
def bar(frac: float, width: int) -> str:
    """A progress bar `width` cells wide with eighth-cell resolution."""
    if width <= 0:
        return ""
    frac = min(1.0, max(0.0, frac))
    eighths = round(frac * width * 8)
    full, part = divmod(eighths, 8)
    s = "█" * full + (PARTIAL[part] if part and full < width else "")
    return s + "░" * (width - len(s))  # every glyph used is one cell wide: len is the cell width


def sparkline(hist: Sequence[int]) -> str:
    """One block per bin, its height relative to the fullest bin; an empty bin is a space."""
    top = max(hist) if hist else 0
    if not top:
        return " " * len(hist)
    return "".join(BARS[min(7, (c * 8 - 1) // top)] if c else " " for c in hist)


def downsample(values: Sequence[int], n: int) -> list[int]:
    """`values` summed into `n` consecutive groups as even as can be (fewer values: unchanged)."""
    if n <= 0:
        return []
    if len(values) <= n:
        return list(values)
    return [sum(values[i * len(values) // n:(i + 1) * len(values) // n]) for i in range(n)]


# -- numbers --------------------------------------------------------------------------------------
def plural(n: int, noun: str, nouns: str = "") -> str:
    """`1 request`, `5 requests` (`nouns` where the plural is not noun + s): a count with its noun."""
    return f"{n} {noun}" if n == 1 else f"{n} {nouns or noun + 's'}"


def fmt_tokens(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else str(n)


def pct(x: float | None) -> str:
    return f"{100 * x:.0f}%" if x is not None else "--"


def num(x: float | None, fmt: str = ".2f") -> str:
    return format(x, fmt) if x is not None else "--"


# -- feed items -----------------------------------------------------------------------------------
def feed_line(item: FeedItem) -> str:
    """One accepted or rejected item, as headless prints it and the TUI feed shows it."""
    if item.kind == "accepted":
        extra = f"   attempt {item.attempts}" if item.attempts > 1 else ""
        return f"[{item.index}/{item.total}] {item.group}: score={item.score:.2f} ({item.model}){extra}"
    best = f"best {item.score:.2f}" if item.score is not None else (item.reason or "failed")
    return f"✗ {item.group} rejected: {best} after {item.attempts} attempts ({item.detail or item.reason})"
