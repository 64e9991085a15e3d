"""The watcher TUI: one main screen fed by immutable stats snapshots, commands sent to a RunControl.

Data flow (memray's live-TUI pattern): a 4 Hz timer asks the control for a snapshot on a single
background thread, then applies it to every widget inside one `batch_update()`; widgets compare their
slice of the snapshot and only re-render when it changed. All RunControl calls (snapshot and commands)
run on that one thread: the UI never blocks on file reads or process signals, and the supervisor is
never entered from two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import html
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from rich.cells import cell_len
from textual.app import App, SystemCommand
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.screen import Screen

from watcher.monitor.snapshot import Snapshot
from watcher.run.control import RunControl
from watcher.tui.screens.batch_cancel import CancelBatchesScreen
from watcher.tui.screens.busy import BusyScreen
from watcher.tui.screens.main import LIVE_STATES, MainScreen
from watcher.tui.screens.quit import QuitScreen
from watcher.tui.settings import load_settings, save_setting
from watcher.tui.widgets.batches import BatchesPanel
from watcher.tui.widgets.header import RunHeader

T = TypeVar("T")
# How long a toast of each severity stays when the caller gives none (errors are read, not glanced at).
TOAST_TIMEOUT = {"information": 4.0, "warning": 8.0, "error": 12.0}
# Rich's SVG export (rich.console.Console.export_svg): cells are 20 * 0.61 px wide; each text run
# names its line in its clip path.
_SVG_CELL_W = 20 * 0.61
_SVG_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                       r'clip-path="url\(#[^"]*-line-(\d+)\)">(.*?)</text>')


class WatcherApp(App[str | None]):
    """`app.run()` returns "stop" or "detach" (the user's choice in the quit dialog), or None.

    on_exit_choice: called with the choice (on the control thread) before the app exits; when None
    the app itself calls `control.stop()` or `control.detach()`.
    """

    CSS_PATH = "watcher.tcss"
    TITLE = "watcher"
    # Breakpoints put -narrow/-wide and -short/-tall on screens; when small, watcher.tcss puts panels behind tabs.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (32, "-tall")]

    def __init__(self, control: RunControl, *, refresh_hz: float = 4.0, title: str = "watcher",
                 on_exit_choice: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.control = control
        self.title = title
        self.interval = 1.0 / refresh_hz if refresh_hz > 0 else 0.25
        self.on_exit_choice = on_exit_choice
        self.last_snapshot: Snapshot | None = None
        self.snapshot_count = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="watcher-control")
        self._polling = False
        self._seen_messages: set[str] = set()
        self.events: list[str] = []  # the events screen's log: the run's notices, then this session's
        self._announced_state: str | None = None
        self.exiting = False
        self.main: MainScreen
        theme = load_settings().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme  # the user's last choice (command palette → Change theme)
        self._theme_loaded = True

    def watch_theme(self, theme: str) -> None:
        if getattr(self, "_theme_loaded", False):
            save_setting("theme", theme)

    def get_default_screen(self) -> Screen[Any]:
        self.main = MainScreen(self.title)
        return self.main

    def start_polling(self) -> None:
        # What exists once the screen is up (modules, styles, the widget tree) lives as long as the app:
        # frozen, it is left out of the full collections, which otherwise scanned it all and stalled
        # the UI ~100 ms a few times every 10 s under load (measured with bench/tui.py).
        gc.freeze()
        self.set_interval(self.interval, self.poll_now)
        self.run_worker(self.poll_now(), group="poll", exit_on_error=False)

    async def on_unmount(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the control thread ---------------------------------------------------------------------
    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a RunControl call on the control thread; await its result on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def background(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], Any] | None = None,
                   failed: Callable[[BaseException], Any] | None = None, owner: DOMNode | None = None) -> None:
        """Call `fn` on the control thread in an app-scoped worker; deliver the result to `done` (or the
        exception to `failed`) unless `owner` (a screen or widget) has gone away meanwhile."""

        def wanted() -> bool:
            return not self._exit and (owner is None or owner.is_attached)

        async def run() -> None:
            try:
                result = await self.call(fn, *args)
            except Exception as exc:  # a failing command must never take the UI down
                if wanted():
                    if failed is not None:
                        failed(exc)
                    else:
                        self.notify(f"{getattr(fn, '__name__', 'call')} failed: {exc}", severity="error")
                return
            if done is not None and wanted():
                done(result)

        self.run_worker(run(), group="control", exit_on_error=False)

    def command(self, name: str, fn: Callable[[], Any], then: Callable[[], Any] | None = None) -> None:
        """Send a command; errors become notifications; then poll so the effect shows at once."""

        def ok(_: Any) -> None:
            if then is not None:
                then()
            self.run_worker(self.poll_now(), group="poll", exit_on_error=False)

        def err(exc: BaseException) -> None:
            self.notify(f"{name} failed: {type(exc).__name__}: {exc}", severity="error")

        self.background(fn, done=ok, failed=err)

    async def poll_now(self) -> None:
        """One snapshot from the control, applied to the main screen (skips if one is in flight)."""
        if self._polling or self.exiting:
            return
        self._polling = True
        try:
            snap: Snapshot | None = await self.call(self.control.snapshot)
            error = None
        except Exception as exc:
            snap, error = None, f"{type(exc).__name__}: {exc}"
        finally:
            self._polling = False
        if not self.main.is_attached or self._exit:
            return  # the app closed while the call ran
        with contextlib.suppress(NoMatches):
            self.main.query_one(RunHeader).set_error(error)
        if snap is not None:
            self.apply_snapshot(snap)

    def apply_snapshot(self, snap: Snapshot) -> None:
        self.last_snapshot = snap
        self.snapshot_count += 1
        self._announce(snap)
        if self.screen is not self.main:
            return  # covered: MainScreen.on_screen_resume applies the latest snapshot
        with self.batch_update():  # one repaint for all widgets
            self.main.apply(snap)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """A toast, one line above the footer (watcher.tcss); the newest replaces the one on
        screen, so warnings and errors also go to the events log (e), where none is lost."""
        if severity != "information":
            self.events.append(f"{time.strftime('%H:%M:%S')} {message}")
        self._toast(message, severity, timeout, title=title, markup=markup)

    def _toast(self, message: str, severity: SeverityLevel, timeout: float | None = None, *,
               title: str = "", markup: bool = True) -> None:
        self.clear_notifications()
        super().notify(message, title=title, severity=severity,
                       timeout=TOAST_TIMEOUT[severity] if timeout is None else timeout, markup=markup)

    def _announce(self, snap: Snapshot) -> None:
        """New notices become toasts (and go to the events log); what the run said before this app
        attached only goes to the log: attaching or resuming must not replay old toasts."""
        first = self.snapshot_count == 1
        for msg in snap.messages:
            if msg not in self._seen_messages:
                self._seen_messages.add(msg)
                self.events.append(msg)  # notices carry their own time
                if not first:
                    self._toast(msg, "warning")
        if snap.state != self._announced_state:
            if self._announced_state is not None and snap.state in ("done", "failed"):
                msg = f"run {snap.state}: press g for the quality gate, q to quit"
                self.events.append(msg)
                self._toast(msg, "information" if snap.state == "done" else "error", 10)
            self._announced_state = snap.state

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Screenshots go to the run directory (`<run>/screenshots/`), a folder that exists, rather
        than Textual's default (~/Downloads, missing on many servers)."""
        if path is None:
            target = self.control.run_dir / "screenshots"
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.notify(f"screenshot failed: {exc}", severity="error")
                return
            path = str(target)
        self.deliver_screenshot(filename, path)
        self.notify(f"screenshot saved in {path}", timeout=4)

    # -- commands and quitting -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
            for title, help_, action in (
                ("Pause", "Pause the workers (in-flight calls finish)", screen.action_pause),
                ("Resume", "Resume the workers", screen.action_resume),
                ("Quality gate", "Run the quality gate and show its report", screen.action_gate),
                ("Training", "Open the training panel", screen.action_train),
                ("Add worker", "Start one more worker", screen.action_add_worker),
                ("Remove worker", "Stop one worker", screen.action_remove_worker),
                ("Worker log", "Show the log of the selected worker", screen.action_logs),
                ("Events", "Every event of the run", screen.action_events),
                ("Help", "List the keys", screen.action_help),
            ):
                yield SystemCommand(title, help_, action)

    async def action_quit(self) -> None:
        if self.exiting or isinstance(self.screen, QuitScreen):
            return
        if self.last_snapshot is not None and self.last_snapshot.state not in LIVE_STATES:
            self._quit_chosen("stop")  # nothing runs: nothing to stop or detach, so nothing to ask
            return
        self.push_screen(QuitScreen(), self._quit_chosen)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice == "stop" and self._batches_in_flight():
            n, reqs = self._batches_in_flight()
            self.push_screen(CancelBatchesScreen(n, reqs), self._batches_chosen)
            return
        if choice in ("stop", "detach"):
            self.run_worker(self._finish(choice), group="exit", exit_on_error=False)

    def _batches_in_flight(self) -> tuple[int, int] | None:
        """(batches, requests) in flight in batch mode, from the main screen's batches panel."""
        try:
            s = self.main.query_one(BatchesPanel).summary
        except Exception:  # no main screen or panel (test apps): no batches to ask about
            return None
        return (s["in_flight"], s["requests_in_flight"]) if s and s["in_flight"] else None

    def _batches_chosen(self, choice: str | None) -> None:
        if choice is None:
            return
        self.run_worker(self._finish("stop", cancel_batches=choice == "cancel"), group="exit", exit_on_error=False)

    async def _finish(self, choice: str, cancel_batches: bool = False) -> None:
        self.exiting = True
        if cancel_batches and hasattr(self.control, "cancel_batches"):
            await self.call(self.control.cancel_batches)
        self.push_screen(BusyScreen("stopping the workers (in-flight calls finish)…" if choice == "stop"
                                    else "detaching: the workers keep running…"))
        try:
            if self.on_exit_choice is not None:
                await self.call(self.on_exit_choice, choice)
            elif choice == "stop":
                await self.call(self.control.stop, True)
            else:
                await self.call(self.control.detach)
        except Exception as exc:
            self.exiting = False
            self.pop_screen()
            self.notify(f"{choice} failed: {type(exc).__name__}: {exc}", severity="error", timeout=15)
            return
        self.exit(result=choice)

    # -- helpers for tests and benchmarks --------------------------------------------------------
    def screen_text(self) -> str:
        """The current screen as plain text (what a terminal would show), e.g. for assertions.

        Read back from the public SVG screenshot (the frame the compositor renders, modal
        backgrounds included): Rich writes each run of non-blank cells as one <text> element at
        x = column * cell width, clipped to its line; blanks are left out and come back as spaces."""
        width, height = self.size
        rows = [[" "] * width for _ in range(height)]
        for x, y, body in _SVG_TEXT.findall(self.export_screenshot(simplify=True)):
            row, col = rows[int(y)], round(float(x) / _SVG_CELL_W)
            for ch in html.unescape(body.replace("&#160;", " ")):  # Rich writes spaces as &#160;
                cells = cell_len(ch) or 1
                if col + cells <= width:
                    row[col] = ch
                    if cells == 2:
                        row[col + 1] = ""  # a wide character fills two cells
                col += cells
        return "\n".join("".join(r) for r in rows)
