"""The main screen: header, per-group table, finish_reasons, failures, workers and the live feed.

Small terminals (the app's -narrow or -short breakpoint) show one panel at a time
above the feed, picked with a tab strip (`v` or a click). Every panel is listed in PANELS (its tab
label and its box's id) and its box has the class `tabbed`: adding a panel is one compose entry
plus one PANELS entry; watcher.tcss has the compact rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static, Tab, Tabs

from watcher.gate.verdict import GateVerdict
from watcher.monitor.snapshot import Snapshot
from watcher.train.state import TrainingState
from watcher.tui.screens.detail import DetailScreen
from watcher.tui.screens.events import EventsScreen
from watcher.tui.screens.gate import GateScreen
from watcher.tui.screens.help import HelpScreen
from watcher.tui.screens.log import LogScreen
from watcher.tui.screens.train import TrainScreen
from watcher.tui.screens.train_ask import TrainAskScreen
from watcher.tui.widgets.batches import BatchesPanel
from watcher.tui.widgets.failures import FailuresView
from watcher.tui.widgets.feed import FeedView
from watcher.tui.widgets.filter import FilterInput
from watcher.tui.widgets.finish import FinishView, finish_header
from watcher.tui.widgets.footer import KeysFooter
from watcher.tui.widgets.groups import GroupsPanel
from watcher.tui.widgets.header import RunHeader
from watcher.tui.widgets.workers import WorkersView, worker_cols

if TYPE_CHECKING:
    from watcher.tui.app import WatcherApp


WORKER_KEYS = Binding.Group("Worker", compact=True)
RUNNING_STATES = frozenset({"starting", "running"})
PAUSED_STATES = frozenset({"pausing", "paused"})
LIVE_STATES = RUNNING_STATES | PAUSED_STATES
# (tab label, id of the panel's box): the panels a small terminal shows one at a time
PANELS: tuple[tuple[str, str], ...] = (
    ("forms", "groups-box"), ("finish_reason", "finish-box"), ("failures", "failures-box"),
    ("workers", "workers-box"), ("batches", "batches-box"),
)


class MainScreen(Screen[None]):
    """Header, per-group table, finish_reasons, failures, workers and the live feed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", tooltip="Pause the workers (in-flight calls finish)"),
        Binding("r", "resume", "Resume", tooltip="Resume the workers"),
        Binding("g", "gate", "Gate", tooltip="Run the quality gate on the data so far"),
        Binding("t", "train", "Train", tooltip="Training panel"),
        Binding("plus", "add_worker", "Worker", key_display="+", tooltip="Add a worker on the selected backend",
                group=WORKER_KEYS),
        Binding("minus", "remove_worker", "Worker", key_display="-", group=WORKER_KEYS,
                tooltip="Remove a worker from the selected backend"),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter the feed"),
        Binding("s", "sort", "Sort", tooltip="Sort the feed: time, score"),
        Binding("l", "logs", "Logs", tooltip="Log of the selected worker"),
        Binding("e", "events", "Events", tooltip="Every event of the run"),
        # Not in the footer (80 columns are full): the tab strip shows it where it applies.
        Binding("v", "next_panel", "Panel", show=False, tooltip="Small terminals: show the next panel"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit", tooltip="Stop the workers or detach"),
    ]

    # bindings=True: the footer re-checks `check_action` when the state changes (Pause <-> Resume).
    run_state: reactive[str] = reactive("starting", bindings=True)

    def __init__(self, title: str) -> None:
        super().__init__(id="main")
        self.app_title = title
        self.panel = PANELS[0][1]  # the panel a compact screen shows

    @property
    def wapp(self) -> WatcherApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield RunHeader(self.app_title, id="header")
        with Horizontal(id="panel-tabs-bar"):
            yield Static("v ▸", id="panel-tabs-key")
            tabs = [Tab(label, id=f"tab-{box}") for label, box in PANELS]
            tabs[-1].display = False  # batches: shown once the run has one
            yield Tabs(*tabs, id="panel-tabs")
        with Horizontal(id="top"):
            yield GroupsPanel(id="groups-box", classes="panel tabbed")
            with Vertical(id="side"):
                with Vertical(id="finish-box", classes="panel tabbed") as box:
                    box.border_title = "finish_reason"
                    yield Static(finish_header(False), id="finish-head", classes="thead")
                    yield FinishView(id="finish")
                with Vertical(id="failures-box", classes="panel tabbed") as box:
                    box.border_title = "failures"
                    yield FailuresView(id="failures")
        with Vertical(id="workers-box", classes="panel tabbed") as box:
            box.border_title = "workers"
            yield Static(worker_cols(), id="workers-head", classes="thead")
            yield WorkersView(id="workers")
        yield BatchesPanel(id="batches-box", classes="panel tabbed")
        feed = FeedView(id="feed", classes="panel")
        feed.border_title = "feed"
        yield feed
        yield FilterInput(placeholder="filter the feed: form, model, word… (enter keeps it, esc clears)",
                          id="feed-filter")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False  # tab keeps moving focus between feed and workers
        self._show_panel(self.panel)
        self.query_one(FeedView).focus()
        # After the first refresh: nested containers may still be mounting during on_mount.
        self.call_after_refresh(self.wapp.start_polling)

    def on_resize(self) -> None:
        # A narrow footer drops its padding so every key hint still fits in 80 columns.
        footer = self.query_one(KeysFooter)
        footer.compact = self.size.width < 110
        footer.show_command_palette = self.size.width >= 110  # ctrl+p still works; the help lists it

    # -- panels behind tabs (small terminals) ------------------------------------------------------
    @property
    def compact(self) -> bool:
        return self.has_class("-narrow") or self.has_class("-short")

    def _show_panel(self, box_id: str) -> None:
        self.panel = box_id
        for _, bid in PANELS:
            self.query_one(f"#{bid}").set_class(bid == box_id, "-shown")
        tabs = self.query_one(Tabs)
        if tabs.active != f"tab-{box_id}":
            tabs.active = f"tab-{box_id}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tabs.id == "panel-tabs" and event.tab.id:
            self._show_panel(event.tab.id.removeprefix("tab-"))

    def action_next_panel(self) -> None:
        # Tabs hidden for now (batches, outside batch mode) are skipped.
        ids = [bid for _, bid in PANELS if self.query_one(f"#tab-{bid}").display or bid == self.panel]
        self._show_panel(ids[(ids.index(self.panel) + 1) % len(ids)])

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
        self.query_one(GroupsPanel).apply(s)
        finish = self.query_one(FinishView)
        if finish.apply(s):
            self.query_one("#finish-head", Static).update(finish_header(finish.with_other))
        self.query_one(FailuresView).apply(s)
        narrow = self.has_class("-narrow")
        workers = self.query_one(WorkersView)
        if workers.compact != narrow:
            self.query_one("#workers-head", Static).update(worker_cols(narrow))
        workers.apply(s, compact=narrow)
        # Narrow, the last error column has little room: the selected worker's is shown whole below.
        problem = workers.selected_problem if narrow else None
        subtitle = f"worker {workers.selected_id}: {problem}" if problem is not None else None
        box = self.query_one("#workers-box")
        if box.border_subtitle != subtitle:  # setting it repaints the box, same text or not
            box.border_subtitle = subtitle
        paths = getattr(self.wapp.control, "paths", None)
        panel = self.query_one(BatchesPanel)
        panel.apply(getattr(paths, "batches", None))
        self.query_one("#tab-batches-box").display = bool(panel.summary and panel.summary["total"])
        if panel.summary is not None:
            self.query_one(RunHeader).set_committed(panel.summary["committed_usd"])
        self.query_one(FeedView).apply(s)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pause":
            return self.run_state in RUNNING_STATES
        if action == "resume":
            return self.run_state in PAUSED_STATES
        if action in ("add_worker", "remove_worker"):
            return self.run_state in LIVE_STATES  # a finished or stopped run has no workers to change
        if action == "next_panel":
            return self.compact  # a big screen shows every panel
        return True

    # -- actions ---------------------------------------------------------------------------------
    def action_pause(self) -> None:
        self.run_state = "pausing"  # optimistic: the footer flips now; the next snapshot confirms
        self.wapp.command("pause", self.wapp.control.pause)

    def action_resume(self) -> None:
        self.run_state = "running"
        self.wapp.command("resume", self.wapp.control.resume)

    def _selected_backend(self) -> str | None:
        return self.query_one(WorkersView).selected_backend

    def action_add_worker(self) -> None:
        b = self._selected_backend()
        self.wapp.command("add worker", lambda: self.wapp.control.add_worker(b))
        self.notify(f"adding a {b or ''} worker…".replace("  ", " "), timeout=2)

    def action_remove_worker(self) -> None:
        b = self._selected_backend()
        self.wapp.command("remove worker", lambda: self.wapp.control.remove_worker(b))
        self.notify(f"removing a {b or ''} worker…".replace("  ", " "), timeout=2)

    def action_gate(self) -> None:
        self.app.push_screen(GateScreen())

    def action_train(self) -> None:
        """Open the training panel; ask first when the export is one the gate did not pass on the
        data as it is now (failed, never ran, or older than the dataset) and nothing is training."""

        def check() -> tuple[GateVerdict, TrainingState | None]:
            return self.wapp.control.gate_verdict(), self.wapp.control.training_state()

        def decide(result: tuple[GateVerdict, TrainingState | None]) -> None:
            verdict, training = result
            if verdict.safe_to_train or (training is not None and training.status == "running"):
                self._open_train()
            else:
                self.app.push_screen(TrainAskScreen(verdict), self._train_chosen)

        self.wapp.background(check, done=decide, owner=self)

    def _train_chosen(self, choice: str | None) -> None:
        if choice == "gate":
            self.action_gate()
        elif choice == "train":
            self._open_train()

    def _open_train(self) -> None:
        self.app.push_screen(TrainScreen(refresh_s=self.wapp.interval))

    def action_events(self) -> None:
        self.app.push_screen(EventsScreen())

    def action_help(self) -> None:
        if not self.app.is_screen_installed("help"):
            self.app.install_screen(HelpScreen(), "help")  # built once, kept: later opens are instant
        self.app.push_screen("help")

    def action_logs(self) -> None:
        wid = self.query_one(WorkersView).selected_id
        if wid is None:
            self.notify("no worker to show", severity="warning")
            return
        self.app.push_screen(LogScreen(wid, worker_ids=list(self.query_one(WorkersView).ids)))

    def action_filter(self) -> None:
        box = self.query_one(FilterInput)
        box.display = True
        box.focus()

    def action_sort(self) -> None:
        self.notify(f"feed sorted by {self.query_one(FeedView).cycle_sort()}", timeout=2)

    def on_input_changed(self, event: FilterInput.Changed) -> None:
        if event.input.id == "feed-filter":
            self.query_one(FeedView).set_view(query=event.value)

    def on_filter_input_closed(self, event: FilterInput.Closed) -> None:
        box = self.query_one(FilterInput)
        box.display = event.keep and bool(box.value.strip())  # a kept filter stays visible
        self.query_one(FeedView).focus()

    def on_feed_view_selected(self, event: FeedView.Selected) -> None:
        feed = self.query_one(FeedView)
        items = list(feed.items)  # as shown: n/p follow the filter and the sort
        index = next((i for i, it in enumerate(items) if it is event.item), None)
        self.app.push_screen(DetailScreen(items, index) if index is not None else DetailScreen(event.item))
