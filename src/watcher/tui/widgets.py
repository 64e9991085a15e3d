"""Widgets of the main screen: a run header, line-rendered tables, the workers table and the feed.

Every widget keeps plain data and a key of what it last drew: `apply(snapshot)` compares the key of
its slice of the snapshot and only then re-renders (4 Hz ticks with nothing new cost a tuple compare).
Tables are drawn line by line (`render_line`) from pre-built Rich `Text`, so a tick never rebuilds a
widget tree or triggers DataTable cell updates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from watcher.monitor.headless import feed_line, fmt_tokens
from watcher.monitor.snapshot import FeedItem, GroupStats, Snapshot, WorkerStats

BARS = "▁▂▃▄▅▆▇█"
PARTIAL = " ▏▎▍▌▋▊▉"  # eighths of a cell, for smooth progress bars

STATE_STYLE = {
    "running": "bold green", "starting": "bold cyan", "pausing": "bold yellow", "paused": "bold yellow",
    "done": "bold blue", "failed": "bold red", "stopped": "bold magenta", "detached": "bold magenta",
    "stopping": "bold yellow", "restarting": "yellow", "dead": "bold red",
}


# -- formatting helpers (pure functions; unit-testable without an app) --------------------------------
def fmt_hms(seconds: float) -> str:
    s = int(max(0.0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fmt_eta(seconds: float | None) -> str:
    """Coarse on purpose: an ETA that changes every tick is noise (and a repaint)."""
    if seconds is None:
        return "--"
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{round(s / 60)}m"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def bar(frac: float, width: int) -> str:
    """A progress bar `width` cells wide with eighth-cell resolution."""
    if width <= 0:
        return ""
    frac = min(1.0, max(0.0, frac))
    eighths = round(frac * width * 8)
    full, part = divmod(eighths, 8)
    s = "█" * full + (PARTIAL[part] if part and full < width else "")
    return s + "░" * (width - cell_len(s))


def histogram_bars(hist: Sequence[int]) -> str:
    top = max(hist) if hist else 0
    if not top:
        return " " * len(hist)
    return "".join(BARS[min(7, (c * 8 - 1) // top)] if c else " " for c in hist)


def short_model(model: str, width: int) -> str:
    if len(model) <= width:
        return model
    tail = model.rsplit("/", 1)[-1]  # "moonshotai/kimi-k2" -> "kimi-k2" before truncating
    return tail if len(tail) <= width else tail[: width - 1] + "…"


def pct(x: float | None) -> str:
    return f"{100 * x:.0f}%" if x is not None else "--"


def num(x: float | None, fmt: str = ".2f") -> str:
    return format(x, fmt) if x is not None else "--"


def humanize_reason(word: str) -> str:
    return word.replace("_", " ")


# -- a run header --------------------------------------------------------------------------------
class RunHeader(Widget):
    """Two lines: run/state/elapsed + overall progress bar and ETA; then rate, counts, tokens, cost."""

    DEFAULT_CSS = "RunHeader { height: 2; }"

    def __init__(self, title: str = "watcher", **kw: Any) -> None:
        super().__init__(**kw)
        self.app_title = title
        self._data: tuple[Any, ...] | None = None
        self.error: str | None = None

    def apply(self, s: Snapshot) -> None:
        data = (s.run, s.state, int(s.elapsed_s), s.accepted, s.rejected, s.errors, s.total_target,
                fmt_eta(s.eta_s), round(s.rate_per_min, 1), fmt_tokens(s.tokens_in), fmt_tokens(s.tokens_out),
                round(s.cost_usd, 2), None if s.projected_cost_usd is None else round(s.projected_cost_usd, 2),
                s.rate_limit_waits, s.malformed_lines, self.error)
        if data != self._data:
            self._data = data
            self.refresh()

    def set_error(self, error: str | None) -> None:
        if error != self.error:
            self.error = error
            self.refresh()

    def render(self) -> Text:
        width = max(20, self.size.width)
        if self._data is None:
            return Text(f" {self.app_title} · waiting for the first snapshot…", style="dim")
        (run, state, elapsed, acc, rej, errs, total, eta, rate, tin, tout, cost, proj, rl_waits, malformed,
         error) = self._data
        done = acc + rej
        frac = done / total if total else 0.0
        right = f" {done}/{total} {100 * frac:3.0f}%  ETA {eta} "
        state_txt = state.upper()
        left_fixed = f" {self.app_title} ·  · " + state_txt + f" · {fmt_hms(elapsed)} "
        bar_w = min(40, max(8, width - cell_len(left_fixed) - cell_len(run) - cell_len(right) - 1))
        room = width - cell_len(left_fixed) - bar_w - cell_len(right) - 1
        if run and run in self.app_title:
            run = ""  # the title already names the run ("watcher · <run>")
        run_txt = run if len(run) <= room else run[: max(1, room - 1)] + "…"
        line1 = Text(no_wrap=True, overflow="crop")
        line1.append(f" {self.app_title}", style="bold")
        line1.append(f" · {run_txt} · " if run_txt else " · ")
        line1.append(state_txt, style=STATE_STYLE.get(state, "bold"))
        line1.append(f" · {fmt_hms(elapsed)} ")
        line1.append(" " * max(0, width - line1.cell_len - bar_w - cell_len(right)))
        line1.append(bar(frac, bar_w), style="green" if state != "failed" else "red")
        line1.append(right, style="bold")
        cost_txt = f"${cost:.2f}" + (f" (proj. ${proj:.2f})" if proj is not None else "")
        full = (f" rate {rate:.1f}/min · accepted {acc} · rejected {rej} · errors {errs} · "
                f"tokens {tin} in / {tout} out · {cost_txt}")
        compact = cell_len(full) > width  # small terminals: same facts, shorter words
        line2 = Text(no_wrap=True, overflow="ellipsis")
        line2.append(f" {rate:.1f}/min · " if compact else f" rate {rate:.1f}/min · ")
        line2.append(f"ok {acc}" if compact else f"accepted {acc}", style="green")
        line2.append(" · ")
        line2.append(f"rej {rej}" if compact else f"rejected {rej}", style="yellow" if rej else "")
        line2.append(" · ")
        line2.append(f"err {errs}" if compact else f"errors {errs}", style="red" if errs else "")
        if compact:
            proj_txt = f" (→${proj:.2f})" if proj is not None else ""
            line2.append(f" · tok {tin}/{tout} · ${cost:.2f}{proj_txt}")
        else:
            line2.append(f" · tokens {tin} in / {tout} out · {cost_txt}")
        if malformed:
            line2.append(f" · malformed lines {malformed}", style="red")
        if error:
            line2 = Text(f" snapshot error: {error}", style="bold red", no_wrap=True, overflow="ellipsis")
        return Text("\n").join([line1, line2])


# -- line-rendered scrolling tables --------------------------------------------------------------
class LinesView(ScrollView):
    """Pre-built lines drawn per visible row: scrolling and repaints cost only the visible lines."""

    # No horizontal scrollbar: it would eat a row of a small panel; long lines are cropped.
    DEFAULT_CSS = "LinesView { height: auto; overflow-x: hidden; overflow-y: auto; }"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"lines--cursor", "lines--cursor-blur"}

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._texts: list[Text] = []
        self._strips: dict[int, Strip] = {}
        self.cursor: int | None = None

    @property
    def line_count(self) -> int:
        return len(self._texts)

    def plain_lines(self) -> list[str]:
        return [t.plain for t in self._texts]

    def set_lines(self, lines: list[Text]) -> None:
        grew = len(lines) != len(self._texts)
        self._texts = lines
        self._strips.clear()
        self._resize()
        self.refresh(layout=grew)

    def _resize(self) -> None:
        width = max((t.cell_len for t in self._texts), default=0)
        self.virtual_size = Size(width, len(self._texts))

    def _strip(self, index: int) -> Strip:
        strip = self._strips.get(index)
        if strip is None:
            text = self._texts[index]
            strip = Strip(list(text.render(self.app.console)), text.cell_len)
            self._strips[index] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._texts):
            return Strip.blank(width, base)
        strip = self._strip(index).apply_style(base).crop_extend(scroll_x, scroll_x + width, base)
        if index == self.cursor:
            cls = "lines--cursor" if self.has_focus else "lines--cursor-blur"
            cursor_style = self.get_component_rich_style(cls)
            strip = Strip(list(Segment.apply_style(strip, post_style=cursor_style)), strip.cell_length)
        return strip


class CursorView(LinesView, can_focus=True):
    """A LinesView with a row cursor (keyboard and mouse)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    DEFAULT_CSS = """
    CursorView > .lines--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    CursorView > .lines--cursor-blur { background: $block-cursor-blurred-background; }
    """

    def move_cursor(self, index: int | None) -> None:
        if not self._texts:
            index = None
        elif index is not None:
            index = max(0, min(len(self._texts) - 1, index))
        if index == self.cursor:
            return
        old, self.cursor = self.cursor, index
        for i in (old, index):
            if i is not None:
                self._strips.pop(i, None)
        self.refresh()
        if index is not None:
            self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        if self.cursor is None:
            return
        h = self.scrollable_content_region.height
        if self.cursor < self.scroll_y:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif h and self.cursor >= self.scroll_y + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        self.move_cursor((self.cursor if self.cursor is not None else len(self._texts)) + delta)

    def action_page(self, direction: int) -> None:
        h = max(1, self.scrollable_content_region.height - 1)
        self.action_cursor(direction * h)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self._texts) - 1)

    def on_click(self, event: Click) -> None:
        self.move_cursor(int(self.scroll_y) + event.y)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


# -- main-screen panels --------------------------------------------------------------------------
GROUP_NAME_W = 14


def groups_header(label: str) -> Text:
    return Text(f"{label:<{GROUP_NAME_W}} {'done/target':<19} {'mean':>5} {'pass':>5} {'att':>4} {'rej':>4}  "
                f"histogram", style="bold", no_wrap=True)


def group_line(g: GroupStats, min_score: float | None) -> Text:
    name = g.name if len(g.name) <= GROUP_NAME_W else g.name[: GROUP_NAME_W - 1] + "…"
    frac = g.done / g.target if g.target else 0.0
    t = Text(no_wrap=True)
    t.append(f"{name:<{GROUP_NAME_W}} ")
    t.append(bar(frac, 9), style="green" if g.done >= g.target else "cyan")
    t.append(f" {f'{g.done}/{g.target}':>9}")
    t.append(f" {num(g.mean_score):>5} {pct(g.pass_rate):>5} {num(g.attempts_per_accepted, '.1f'):>4}")
    t.append(f" {g.rejected:>4}", style="yellow" if g.rejected else "")
    t.append("  ")
    bars = histogram_bars(g.histogram)
    n = max(1, len(bars))
    for i, ch in enumerate(bars):
        low = min_score is not None and (i + 1) / n <= min_score + 1e-9  # bin lies wholly below min_score
        t.append(ch, style="red" if low else "green")
    return t


FINISH_COLS = (("stop", "stop"), ("length", "len"), ("content_filter", "filt"), ("tool_calls", "tool"),
               ("error", "err"))
FINISH_MODEL_W = 14


def finish_header(with_other: bool) -> Text:
    cols = "".join(f"{h:>6}" for _, h in FINISH_COLS) + (f"{'other':>6}" if with_other else "")
    return Text(f"{'model':<{FINISH_MODEL_W}}{cols}", style="bold", no_wrap=True)


def finish_line(model: str, counts: dict[str, int], with_other: bool) -> Text:
    t = Text(f"{short_model(model, FINISH_MODEL_W - 1):<{FINISH_MODEL_W}}", no_wrap=True)
    for key, _ in FINISH_COLS:
        n = counts.get(key, 0)
        style = "" if key == "stop" or not n else "red" if key == "error" else "yellow"
        t.append(f"{n:>6}", style=style)
    if with_other:
        t.append(f"{counts.get('other', 0):>6}")
    return t


def failure_lines(failures: dict[str, int], rl_waits: int) -> list[Text]:
    items = sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))
    if rl_waits and not any("RATE" in k.upper() for k in failures):
        items.append(("rate_limit_waits", rl_waits))
    if not items:
        return [Text("no failures", style="dim")]
    return [Text(f"{humanize_reason(k):<28}{v:>7}", no_wrap=True) for k, v in items]


WORKER_COLS = f"{'id':>3} {'backend/model':<24} {'pid':>7} {'state':<10} {'fly':>5} {'done':>6} {'rej':>4} " \
              f"{'err':>4} {'rl':>5}  last error"


def worker_line(w: WorkerStats, now: float) -> Text:
    t = Text(no_wrap=True)
    bm = f"{w.backend}/{short_model(w.model, max(6, 23 - len(w.backend)))}"[:24]
    t.append(f"{w.id:>3} {bm:<24} {w.pid:>7} ")
    state = w.state if w.alive or w.state in ("done", "failed", "dead", "restarting") else f"{w.state}?"
    t.append(f"{state:<10}", style=STATE_STYLE.get(w.state, ""))
    t.append(f" {w.in_flight:>2}/{w.concurrency:<2} {w.done:>6}")
    t.append(f" {w.rejected:>4}", style="yellow" if w.rejected else "")
    t.append(f" {w.errors:>4}", style="red" if w.errors else "")
    if w.rate_limited_until is not None and w.rate_limited_until > now:
        t.append(f" {w.rate_limited_until - now:>4.0f}s", style="bold yellow")  # waiting right now
    else:
        t.append(f" {w.rate_limit_waits or '—':>5}")
    if w.last_error:
        ago = f" ({fmt_eta(now - w.last_error_at)} ago)" if w.last_error_at else ""
        t.append(f"  {w.last_error}{ago}", style="red")
    else:
        t.append("  —", style="dim")
    if w.restarts:
        t.append(f" · {w.restarts} restarts", style="yellow")
    return t


class GroupsView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None

    def apply(self, s: Snapshot) -> bool:
        """Returns True when the header (group label) changed."""
        key = (s.groups, s.min_score)
        if key == self._key:
            return False
        self._key = key
        self.set_lines([group_line(g, s.min_score) for g in s.groups] or [Text("no groups yet", style="dim")])
        return True


class FinishView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None
        self.with_other = False

    def apply(self, s: Snapshot) -> bool:
        key = tuple((m, tuple(sorted(c.items()))) for m, c in s.finish_reasons.items())
        if key == self._key:
            return False
        self._key = key
        with_other = any(c.get("other") for c in s.finish_reasons.values())
        changed_header = with_other != self.with_other
        self.with_other = with_other
        lines = [finish_line(m, c, with_other) for m, c in sorted(s.finish_reasons.items())]
        self.set_lines(lines or [Text("no calls yet", style="dim")])
        return changed_header


class FailuresView(LinesView):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None

    def apply(self, s: Snapshot) -> None:
        key = (tuple(sorted(s.failures.items())), s.rate_limit_waits)
        if key != self._key:
            self._key = key
            self.set_lines(failure_lines(s.failures, s.rate_limit_waits))


class WorkersView(CursorView):
    """Workers, one line each; the cursor picks the worker for `l` (logs)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None
        self.ids: list[int] = []

    def apply(self, s: Snapshot) -> None:
        # now only matters while a worker is rate-limited or has a last error ("25s ago").
        key = (s.workers, int(s.now) if any(w.rate_limited_until or w.last_error_at for w in s.workers) else 0)
        if key == self._key:
            return
        self._key = key
        selected = self.selected_id
        self.ids = [w.id for w in s.workers]
        self.set_lines([worker_line(w, s.now) for w in s.workers])
        if self.ids:
            self.cursor = self.ids.index(selected) if selected in self.ids else 0
        else:
            self.cursor = None

    @property
    def selected_id(self) -> int | None:
        if self.cursor is None or not self.ids:
            return None
        return self.ids[min(self.cursor, len(self.ids) - 1)]


def feed_text(item: FeedItem) -> Text:
    line = feed_line(item)
    if item.kind == "accepted":
        return Text(line, style="green", no_wrap=True)
    return Text(line, style="yellow", no_wrap=True)


class FeedView(CursorView):
    """Accepted and rejected items, newest at the bottom, bounded; follows the end unless the user
    moved the cursor or scrolled up (End follows again). Enter opens the item."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select", "Detail", key_display="↵")]

    class Selected(Message):
        def __init__(self, item: FeedItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, max_items: int = 500, **kw: Any) -> None:
        super().__init__(**kw)
        self.max_items = max_items
        self.items: list[FeedItem] = []
        self._last_key: tuple[str, int] | None = None
        self.following = True
        self.unseen = 0

    @staticmethod
    def _key(item: FeedItem) -> tuple[str, int]:
        return (item.path, item.offset)  # the record's place on disk: unique and stable

    def new_items(self, feed: Sequence[FeedItem]) -> list[FeedItem]:
        """The tail of `feed` after the last item we showed (all of it when that item fell out)."""
        if self._last_key is None:
            return list(feed)
        for i in range(len(feed) - 1, -1, -1):
            if self._key(feed[i]) == self._last_key:
                return list(feed[i + 1:])
        return list(feed)

    def apply(self, s: Snapshot) -> None:
        if not s.feed or (self._last_key is not None and self._key(s.feed[-1]) == self._last_key):
            return  # nothing new: the common case at 4 Hz, a single compare
        self.add(self.new_items(s.feed))

    def add(self, new: Iterable[FeedItem]) -> None:
        new = list(new)[-self.max_items:]
        if not new:
            return
        self._last_key = self._key(new[-1])
        self.items.extend(new)
        self._texts.extend(feed_text(it) for it in new)
        drop = len(self.items) - self.max_items
        if drop > 0:
            del self.items[:drop]
            del self._texts[:drop]
            self._strips.clear()
            if self.cursor is not None:
                self.cursor = max(0, self.cursor - drop)
            if not self.following:  # keep the lines the user is reading in place
                self.scroll_to(y=max(0, self.scroll_y - drop), animate=False, immediate=True)
        self._resize()
        if self.following:
            self.cursor = len(self._texts) - 1
            self._strips.clear()
            # after the refresh: the scroll range is only known once the new virtual size is laid out
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        else:
            self.unseen += len(new)
        self._update_subtitle()
        self.refresh()

    def _update_subtitle(self) -> None:
        if self.following:
            self.border_subtitle = f"{len(self.items)} items · following"
        else:
            self.border_subtitle = f"{self.unseen} new · End to follow"

    def set_following(self, following: bool) -> None:
        if following == self.following:
            return
        self.following = following
        if following:
            self.unseen = 0
            super().action_last()
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)
        self._update_subtitle()

    def action_cursor(self, delta: int) -> None:
        super().action_cursor(delta)
        self.set_following(self.cursor == len(self._texts) - 1 and delta > 0)

    def action_page(self, direction: int) -> None:
        super().action_page(direction)
        self.set_following(self.cursor == len(self._texts) - 1 and direction > 0)

    def action_first(self) -> None:
        self.set_following(False)
        super().action_first()

    def action_last(self) -> None:
        self.set_following(True)
        super().action_last()

    def on_click(self, event: Click) -> None:
        super().on_click(event)
        self.set_following(self.cursor == len(self._texts) - 1)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self.set_following(False)

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self.call_after_refresh(lambda: self.set_following(self.is_vertical_scroll_end) if not self.following
                                else None)

    def action_select(self) -> None:
        if self.cursor is not None and 0 <= self.cursor < len(self.items):
            self.post_message(self.Selected(self.items[self.cursor]))

    def on_mount(self) -> None:
        self._update_subtitle()

    def on_resize(self) -> None:
        if self.following:  # the panel changed size: keep the newest line in view
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True, x_axis=False)


# -- training loss chart -------------------------------------------------------------------------
class LossChart(Widget):
    """Train loss as block columns, val loss as dots over them; y axis labelled with min/max."""

    DEFAULT_CSS = "LossChart { height: 12; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []

    def set_data(self, train: Iterable[Sequence[float]], val: Iterable[Sequence[float]]) -> None:
        t = [(float(a), float(b)) for a, b in train]
        v = [(float(a), float(b)) for a, b in val]
        if (t, v) != (self.train, self.val):
            self.train, self.val = t, v
            self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        if not self.train and not self.val:
            return Text("no loss reported yet", style="dim")
        legend = Text(no_wrap=True)
        legend.append("train ▇", style="cyan")
        legend.append("  val ●", style="magenta")
        if self.train:
            legend.append(f"   last train {self.train[-1][1]:.3f} @ {self.train[-1][0]:.0f}")
        if self.val:
            legend.append(f" · val {self.val[-1][1]:.3f} @ {self.val[-1][0]:.0f}")
        rows = max(1, h - 2)  # legend + x axis
        pts = self.train + self.val
        lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        label_lo = lo
        lo -= (hi - lo) * 0.08  # headroom below the minimum so the lowest loss is still a visible bar
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        axis_w = 8
        plot_w = max(1, w - axis_w)
        levels = rows * 8

        def level(v: float) -> int:
            return max(1, round((v - lo) / (hi - lo) * (levels - 1)) + 1)

        def col_of(it: float) -> int:
            return 0 if x1 == x0 else round((it - x0) / (x1 - x0) * (plot_w - 1))

        train_lv: list[int | None] = [None] * plot_w
        if self.train:
            j = 0
            for c in range(plot_w):  # step function: the last train point at or before this column
                while j + 1 < len(self.train) and col_of(self.train[j + 1][0]) <= c:
                    j += 1
                if col_of(self.train[j][0]) <= c:
                    train_lv[c] = level(self.train[j][1])
        val_row: dict[int, int] = {}
        for it, v in self.val:
            val_row[col_of(it)] = (level(v) - 1) // 8
        lines = [legend]
        for r in range(rows - 1, -1, -1):
            label = f"{hi:.3f}" if r == rows - 1 else f"{label_lo:.3f}" if r == 0 else ""
            line = Text(f"{label:>{axis_w - 2}} ┤", style="dim", no_wrap=True)
            for c in range(plot_w):
                if val_row.get(c) == r:
                    line.append("●", style="bold magenta")
                    continue
                lv = train_lv[c]
                if lv is None or lv <= r * 8:
                    line.append(" ")
                else:
                    line.append("█" if lv >= (r + 1) * 8 else BARS[lv - r * 8 - 1], style="cyan")
            lines.append(line)
        x_axis = f"{'':>{axis_w - 2}} └" + f"{x0:.0f}".ljust(max(1, plot_w - len(f'{x1:.0f}'))) + f"{x1:.0f}"
        lines.append(Text(x_axis, style="dim", no_wrap=True))
        return Text("\n").join(lines)
