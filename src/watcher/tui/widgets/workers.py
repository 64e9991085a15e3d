"""The workers table: one line per worker; the cursor picks the worker for `l` (logs)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from watcher.monitor.format import (
    STATE_STYLE,
    fmt_duration,
)
from watcher.monitor.outcome import backend_status
from watcher.monitor.snapshot import Snapshot, WorkerStats
from watcher.tui.widgets.lines import CursorView
from watcher.tui.widgets.text import short_model

# Narrow terminals (< 120 columns) leave out the pid and shorten backend/model, or the last error,
# the column that says what is wrong, started at column 78 and was cut off entirely at 80.
_BM_W = {False: 24, True: 18}


def worker_cols(compact: bool = False) -> str:
    pid = "" if compact else f" {'pid':>7}"
    return f"{'id':>3} {'backend/model':<{_BM_W[compact]}}{pid} {'state':<10} {'fly':>5} {'done':>6} {'rej':>4} " \
           f"{'err':>4} {'rl':>5}  last error"


def worker_problem(w: WorkerStats, now: float) -> tuple[str, str] | None:
    """The last-error column: (text, style), or None when all is well."""
    down = backend_status(w, now)
    if down:  # probing or given up: since when, why, next probe
        return down, "bold red"
    if w.last_error:
        ago = f" ({fmt_duration(now - w.last_error_at, coarse=True)} ago)" if w.last_error_at else ""
        return f"{w.last_error}{ago}", "red"
    return None


def worker_line(w: WorkerStats, now: float, compact: bool = False) -> Text:
    t = Text(no_wrap=True)
    width = _BM_W[compact]
    bm = f"{w.backend}/{short_model(w.model, max(6, width - 1 - len(w.backend)))}"[:width]
    t.append(f"{w.id:>3} {bm:<{width}} " + ("" if compact else f"{w.pid:>7} "))
    state = w.state if w.alive or w.state in ("done", "failed", "dead", "restarting") else f"{w.state}?"
    t.append(f"{state:<10}", style=STATE_STYLE.get(w.state, ""))
    t.append(f" {w.in_flight:>2}/{w.concurrency:<2} {w.done:>6}")
    t.append(f" {w.rejected:>4}", style="yellow" if w.rejected else "")
    t.append(f" {w.errors:>4}", style="red" if w.errors else "")
    if w.rate_limited_until is not None and w.rate_limited_until > now:
        t.append(f" {w.rate_limited_until - now:>4.0f}s", style="bold yellow")  # waiting right now
    else:
        t.append(f" {w.rate_limit_waits or '—':>5}")
    problem = worker_problem(w, now)
    if problem:
        t.append(f"  {problem[0]}", style=problem[1])
    else:
        t.append("  —", style="dim")
    if w.restarts:
        t.append(f" · {w.restarts} restarts", style="yellow")
    return t


class WorkersView(CursorView):
    """Workers, one line each; the cursor picks the worker for `l` (logs)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._key: Any = None
        self.problems: list[tuple[str, str] | None] = []
        self.compact = False  # the narrow layout (worker_cols); the screen keeps the header in step
        self.ids: list[int] = []
        self.backends: list[str] = []

    def apply(self, s: Snapshot, compact: bool = False) -> None:
        # now only matters while a worker is rate-limited or has a last error ("25s ago").
        key = (s.workers, compact,
               int(s.now) if any(w.rate_limited_until or w.last_error_at for w in s.workers) else 0)
        if key == self._key:
            return
        self._key = key
        self.compact = compact
        selected = self.selected_id
        self.ids = [w.id for w in s.workers]
        self.backends = [w.backend for w in s.workers]
        self.problems = [worker_problem(w, s.now) for w in s.workers]
        self.set_lines([worker_line(w, s.now, compact) for w in s.workers])
        if self.ids:
            self.cursor = self.ids.index(selected) if selected in self.ids else 0
        else:
            self.cursor = None

    @property
    def selected_id(self) -> int | None:
        if self.cursor is None or not self.ids:
            return None
        return self.ids[min(self.cursor, len(self.ids) - 1)]

    @property
    def selected_problem(self) -> str | None:
        """The selected worker's last error (or backend status), whole."""
        if self.cursor is None or not self.problems:
            return None
        problem = self.problems[min(self.cursor, len(self.problems) - 1)]
        return problem[0] if problem else None

    @property
    def selected_backend(self) -> str | None:
        """The backend `+`/`-` act on: the selected worker's."""
        if self.cursor is None or not self.backends:
            return None
        return self.backends[min(self.cursor, len(self.backends) - 1)]
