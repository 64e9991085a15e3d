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
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

from rich.console import Console
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from watcher.monitor.snapshot import Snapshot
from watcher.run.control import RunControl
from watcher.tui.screens import (
    BusyScreen,
    DetailScreen,
    GateScreen,
    HelpScreen,
    LogScreen,
    QuitScreen,
    TrainScreen,
)
from watcher.tui.widgets import (
    WORKER_COLS,
    FailuresView,
    FeedView,
    FinishView,
    GroupsView,
    RunHeader,
    WorkersView,
    finish_header,
    groups_header,
)

T = TypeVar("T")
RUNNING_STATES = frozenset({"starting", "running"})
PAUSED_STATES = frozenset({"pausing", "paused"})


class MainScreen(Screen[None]):
    """Header, per-group table, finish_reasons, failures, workers and the live feed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", tooltip="Pause the workers (in-flight calls finish)"),
        Binding("r", "resume", "Resume", tooltip="Resume the workers"),
        Binding("g", "gate", "Gate", tooltip="Run the quality gate on the data so far"),
        Binding("t", "train", "Train", tooltip="Training panel"),
        Binding("plus", "add_worker", "Worker", key_display="+", tooltip="Add a worker"),
        Binding("minus", "remove_worker", "Worker", key_display="-", tooltip="Remove a worker"),
        Binding("l", "logs", "Logs", tooltip="Log of the selected worker"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit", tooltip="Stop the workers or detach"),
    ]

    # bindings=True: the footer re-checks `check_action` when the state changes (Pause <-> Resume).
    run_state: reactive[str] = reactive("starting", bindings=True)

    def __init__(self, title: str) -> None:
        super().__init__(id="main")
        self.app_title = title
        self._group_label: str | None = None

    @property
    def wapp(self) -> WatcherApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield RunHeader(self.app_title, id="header")
        with Horizontal(id="top"):
            with Vertical(id="groups-box", classes="panel") as box:
                box.border_title = "forms"
                yield Static(groups_header("form"), id="groups-head", classes="thead")
                yield GroupsView(id="groups")
            with Vertical(id="side"):
                with Vertical(id="finish-box", classes="panel") as box:
                    box.border_title = "finish_reason"
                    yield Static(finish_header(False), id="finish-head", classes="thead")
                    yield FinishView(id="finish")
                with Vertical(id="failures-box", classes="panel") as box:
                    box.border_title = "failures"
                    yield FailuresView(id="failures")
        with Vertical(id="workers-box", classes="panel") as box:
            box.border_title = "workers"
            yield Static(WORKER_COLS, id="workers-head", classes="thead")
            yield WorkersView(id="workers")
        feed = FeedView(id="feed", classes="panel")
        feed.border_title = "feed"
        yield feed
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FeedView).focus()
        # After the first refresh: nested containers may still be mounting during on_mount.
        self.call_after_refresh(self.wapp.start_polling)

    def on_resize(self) -> None:
        # A narrow footer drops its padding so every key hint still fits in 80 columns.
        footer = self.query_one(Footer)
        footer.compact = self.size.width < 110
        footer.show_command_palette = self.size.width >= 110  # ctrl+p still works; the help lists it

    def on_screen_resume(self) -> None:
        if self.wapp.last_snapshot is not None:
            self.apply(self.wapp.last_snapshot)  # ticks skip the main screen while it is covered

    def apply(self, s: Snapshot) -> None:
        try:
            self._apply(s)
        except NoMatches:
            pass  # still mounting (or closing): the next tick applies a fresher snapshot anyway

    def _apply(self, s: Snapshot) -> None:
        self.run_state = s.state
        self.query_one(RunHeader).apply(s)
        if s.group_label != self._group_label:
            self._group_label = s.group_label
            self.query_one("#groups-box").border_title = f"{s.group_label}s"
            self.query_one("#groups-head", Static).update(groups_header(s.group_label))
        self.query_one(GroupsView).apply(s)
        finish = self.query_one(FinishView)
        if finish.apply(s):
            self.query_one("#finish-head", Static).update(finish_header(finish.with_other))
        self.query_one(FailuresView).apply(s)
        self.query_one(WorkersView).apply(s)
        self.query_one(FeedView).apply(s)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return self.run_state in RUNNING_STATES
        if action == "resume":
            return self.run_state in PAUSED_STATES
        return True

    # -- actions ---------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.run_state = "pausing"  # optimistic: the footer flips now; the next snapshot confirms
        self.wapp.command("pause", self.wapp.control.pause)

    def action_resume(self) -> None:
        self.run_state = "running"
        self.wapp.command("resume", self.wapp.control.resume)

    def action_add_worker(self) -> None:
        self.wapp.command("add worker", self.wapp.control.add_worker)
        self.notify("adding a worker…", timeout=2)

    def action_remove_worker(self) -> None:
        self.wapp.command("remove worker", self.wapp.control.remove_worker)
        self.notify("removing a worker…", timeout=2)

    def action_gate(self) -> None:
        self.app.push_screen(GateScreen())

    def action_train(self) -> None:
        self.app.push_screen(TrainScreen(refresh_s=self.wapp.interval))

    def action_help(self) -> None:
        if not self.app.is_screen_installed("help"):
            self.app.install_screen(HelpScreen(), "help")  # built once, kept: later opens are instant
        self.app.push_screen("help")

    def action_logs(self) -> None:
        wid = self.query_one(WorkersView).selected_id
        if wid is None:
            self.notify("no worker to show", severity="warning")
            return
        self.app.push_screen(LogScreen(wid))

    def on_feed_view_selected(self, event: FeedView.Selected) -> None:
        self.app.push_screen(DetailScreen(event.item))


class WatcherApp(App[str | None]):
    """`app.run()` returns "stop" or "detach" (the user's choice in the quit dialog), or None.

    on_exit_choice: called with the choice (on the control thread) before the app exits; when None
    the app itself calls `control.stop()` or `control.detach()`.
    """

    CSS_PATH = "watcher.tcss"
    TITLE = "watcher"
    # Breakpoints put -narrow/-wide and -short/-tall on screens; watcher.tcss hides low-priority panels.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-narrow"), (110, "-wide")]
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
        self._announced_state: str | None = None
        self.exiting = False
        self.main: MainScreen

    def get_default_screen(self) -> Screen[Any]:
        self.main = MainScreen(self.title)
        return self.main

    def start_polling(self) -> None:
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

    def _announce(self, snap: Snapshot) -> None:
        for msg in snap.messages:
            if msg not in self._seen_messages:
                self._seen_messages.add(msg)
                self.notify(msg, severity="warning", timeout=8)
        if snap.state != self._announced_state:
            if self._announced_state is not None and snap.state in ("done", "failed"):
                self.notify(f"run {snap.state}: press g for the quality gate, q to quit",
                            severity="information" if snap.state == "done" else "error", timeout=15)
            self._announced_state = snap.state

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
                ("Help", "List the keys", screen.action_help),
            ):
                yield SystemCommand(title, help_, action)

    async def action_quit(self) -> None:
        if self.exiting or isinstance(self.screen, QuitScreen):
            return
        self.push_screen(QuitScreen(), self._quit_chosen)

    def _quit_chosen(self, choice: str | None) -> None:
        if choice in ("stop", "detach"):
            self.run_worker(self._finish(choice), group="exit", exit_on_error=False)

    async def _finish(self, choice: str) -> None:
        self.exiting = True
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
        """The current screen as plain text (what a terminal would show), e.g. for assertions."""
        width, height = self.size
        console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
        console.print(self.screen._compositor.render_update(full=True, screen_stack=self._background_screens))
        return console.export_text()
