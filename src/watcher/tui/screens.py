"""Screens over the main view: item detail, worker log, help, quit dialog, quality gate, training.

Screens never call the RunControl directly: they ask the app (`app.background`) to run the call on
its control thread in an app-scoped worker and get the result back on the event loop, so a screen
closed mid-call cannot break anything (textual #6361).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Label, Log, Static

from watcher.monitor.snapshot import FeedItem
from watcher.train.state import TrainingState
from watcher.tui.widgets import LossChart, feed_line, fmt_eta, num, pct

if TYPE_CHECKING:
    from watcher.tui.app import WatcherApp


class _Sub(Screen[None]):
    """A full screen over the main view; Escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    @property
    def wapp(self) -> WatcherApp:
        return self.app  # type: ignore[return-value]

    def action_back(self) -> None:
        self.dismiss()


# -- feed item detail ----------------------------------------------------------------------------
TEXT_KEYS = ("poem", "response", "best_text", "best_poem", "best_response", "text")
SKIP_META = {*TEXT_KEYS, "synth_trace", "natural_trace", "rubric", "prompt", "messages", "usage"}


class DetailScreen(_Sub):
    """The full record behind a feed line: text, both traces, rubric."""

    def __init__(self, item: FeedItem) -> None:
        super().__init__()
        self.item = item
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(feed_line(self.item), style="bold"), id="detail-title")
        with VerticalScroll(id="detail-body"):
            yield Static("loading record…", id="detail-meta")
            yield Static("", id="detail-prompt", classes="section")
            yield Static("", id="detail-text", classes="section")
            yield Static("", id="detail-rubric", classes="section")
            with Horizontal(id="detail-traces"):
                yield Static("", id="detail-synth", classes="section trace")
                yield Static("", id="detail-natural", classes="section trace")
        yield Footer()

    def on_mount(self) -> None:
        self.wapp.background(self.wapp.control.read_record, self.item.path, self.item.offset,
                             done=self.show_record, failed=self.show_error, owner=self)

    def show_error(self, exc: BaseException) -> None:
        self.query_one("#detail-meta", Static).update(
            Text(f"could not read the record: {type(exc).__name__}: {exc}", style="bold red"))

    def show_record(self, rec: dict[str, Any] | None) -> None:
        self.record = rec
        meta = self.query_one("#detail-meta", Static)
        if rec is None:
            meta.update(Text(f"record not found at {self.item.path}:{self.item.offset}", style="bold red"))
            return
        fields = [(k, v) for k, v in rec.items()
                  if k not in SKIP_META and v is not None and not isinstance(v, dict | list)]
        usage = rec.get("usage")
        if isinstance(usage, dict):
            fields.append(("usage", " / ".join(f"{k} {v}" for k, v in usage.items())))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold cyan")
        grid.add_column()
        for k, v in fields:
            grid.add_row(k, escape(str(v)))
        meta.update(grid)
        prompt = rec.get("prompt")
        if prompt:
            self.query_one("#detail-prompt", Static).update(_section("prompt", str(prompt)))
        body_key = next((k for k in TEXT_KEYS if rec.get(k)), None)
        body = _section(body_key or "text", str(rec.get(body_key, "")) if body_key else "(no text in the record)")
        self.query_one("#detail-text", Static).update(body)
        rubric = rec.get("rubric")
        if isinstance(rubric, list) and rubric:
            self.query_one("#detail-rubric", Static).update(_rubric_table(rubric))
        else:
            self.query_one("#detail-rubric", Static).display = False
        self.query_one("#detail-synth", Static).update(_section("synth trace", rec.get("synth_trace") or "(none)"))
        self.query_one("#detail-natural", Static).update(
            _section("natural trace", rec.get("natural_trace") or "(none)"))


def _section(title: str, body: str) -> Text:
    t = Text()
    t.append(f"{title}\n", style="bold underline")
    t.append(body)
    return t


def _rubric_table(rubric: list[dict[str, Any]]) -> Table:
    cols: list[str] = []
    for r in rubric:
        for k in r:
            if k not in cols and k != "instruction":
                cols.append(k)
    table = Table(title="rubric", title_justify="left", expand=False, show_edge=False, pad_edge=False)
    for c in cols:
        table.add_column(c, justify="right" if c == "score" else "left", overflow="fold")
    for r in rubric:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if c == "score" and isinstance(v, int | float):
                style = "green" if v >= 0.999 else "yellow" if v > 0 else "red"
                cells.append(Text(f"{v:.2f}", style=style))
            else:
                cells.append(Text(str(v) if not isinstance(v, dict | list) else json.dumps(v)))
        table.add_row(*cells)
    return table


# -- worker log ----------------------------------------------------------------------------------
class LogScreen(_Sub):
    """The tail of one worker's log, re-read every second while open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back"),
                                             Binding("r", "reload", "Reload")]

    def __init__(self, worker_id: int, lines: int = 500) -> None:
        super().__init__()
        self.worker_id = worker_id
        self.lines = lines
        self.text: str | None = None
        self._loading = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f"worker {self.worker_id} · log (last {self.lines} lines)", style="bold"),
                     id="log-title")
        yield Log(max_lines=self.lines * 2, highlight=False, id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.set_interval(1.0, self.action_reload)

    def action_reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        self.wapp.background(self.wapp.control.worker_log, self.worker_id, self.lines,
                             done=self.show_text, failed=self.show_error, owner=self)

    def show_text(self, text: str) -> None:
        self._loading = False
        if text == self.text:
            return  # unchanged: keep the user's scroll position
        self.text = text
        log = self.query_one(Log)
        log.clear()
        log.write_lines(text.splitlines() or ["(empty log)"])

    def show_error(self, exc: BaseException) -> None:
        self._loading = False
        self.show_text(f"could not read the log: {type(exc).__name__}: {exc}")


# -- help ----------------------------------------------------------------------------------------
HELP_KEYS: list[tuple[str, str]] = [
    ("p / r", "pause / resume the workers (cooperative: in-flight calls finish)"),
    ("g", "quality gate: run the checks on the data so far, see examples and the export counts"),
    ("t", "training panel: start/stop LoRA training, loss chart, eval before/after"),
    ("+ / -", "add / remove a worker"),
    ("l", "log of the worker selected in the workers table"),
    ("↑ ↓ PgUp PgDn", "move in the feed (stops following); End follows the newest again"),
    ("enter", "open the feed item: text, synth and natural traces, rubric"),
    ("tab", "move focus between the feed and the workers table"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
    ("q", "quit: stop the workers, or detach and leave them running"),
    ("escape", "close a panel / go back"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for k, d in HELP_KEYS:
            table.add_row(k, d)
        with Vertical(id="help-box") as box:
            box.border_title = "Keys"
            yield Static(table, id="help-keys")
            yield Label(Text("escape to close", style="dim"))

    def action_close(self) -> None:
        self.dismiss()


# -- quit ----------------------------------------------------------------------------------------
class QuitScreen(ModalScreen[str | None]):
    """Stop the workers, detach and leave them running, or cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop workers"),
        Binding("d", "choose('detach')", "Detach"),
        Binding("escape,c", "choose('')", "Cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box") as box:
            box.border_title = "Quit watcher"
            yield Static("Stop the workers (in-flight calls finish), or detach and leave them running? "
                         "`watcher attach` picks detached workers up again.", id="quit-question", markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Stop workers (s)", variant="error", id="stop")
                yield Button("Detach (d)", variant="primary", id="detach")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id if event.button.id in ("stop", "detach") else "")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice or None)


class BusyScreen(ModalScreen[None]):
    """Shown while the app stops or detaches the workers before exiting."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="busy-box"):
            yield Label(self.message)


# -- quality gate --------------------------------------------------------------------------------
class GateScreen(_Sub):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back"),
                                             Binding("g,r", "run", "Run again")]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Quality gate", style="bold"), id="gate-title")
        yield Static("", id="gate-status")
        table: DataTable[Any] = DataTable(id="gate-checks", cursor_type="row", zebra_stripes=True)
        table.add_columns("", "check", "count", "share", "description")
        yield table
        yield Static("", id="gate-examples")
        yield Static("", id="gate-export")
        yield Footer()

    def on_mount(self) -> None:
        self.action_run()

    def action_run(self) -> None:
        if self.running:
            return
        self.running = True
        self.query_one("#gate-status", Static).update(Text("running the quality gate…", style="yellow"))
        self.wapp.background(self.wapp.control.run_gate, done=self.show_report, failed=self.show_error,
                             owner=self)

    def show_error(self, exc: BaseException) -> None:
        self.running = False
        self.query_one("#gate-status", Static).update(
            Text(f"gate failed: {type(exc).__name__}: {exc}", style="bold red"))

    def show_report(self, report: dict[str, Any]) -> None:
        self.running = False
        self.report = report
        passed = bool(report.get("passed"))
        status = Text()
        status.append("PASSED" if passed else "FAILED", style="bold green" if passed else "bold red")
        status.append(f" · {report.get('kept', '?')} of {report.get('total', '?')} records kept")
        self.query_one("#gate-status", Static).update(status)
        table = self.query_one("#gate-checks", DataTable)
        table.clear()
        for i, c in enumerate(report.get("checks") or []):
            failed = bool(c.get("failed"))
            table.add_row(Text("✗", style="bold red") if failed else Text("✓", style="green"),
                          c.get("name", "?"), str(c.get("count", 0)), pct(c.get("share")),
                          c.get("description", ""), key=str(i))
        exported = report.get("exported") or {}
        export = ("export: " + " · ".join(f"{k} {v}" for k, v in exported.items())) if exported else \
            "export: nothing written"
        self.query_one("#gate-export", Static).update(Text(export, style="bold"))
        self._show_examples(0)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_examples(event.cursor_row)

    def _show_examples(self, index: int) -> None:
        checks = (self.report or {}).get("checks") or []
        out = self.query_one("#gate-examples", Static)
        if not 0 <= index < len(checks):
            out.update("")
            return
        c = checks[index]
        t = Text()
        t.append(f"examples · {c.get('name', '?')}\n", style="bold underline")
        examples = c.get("examples") or []
        if not examples:
            t.append("none", style="dim")
        for ex in examples[:8]:
            t.append(f"line {ex.get('line', '?')}", style="cyan")
            t.append(f" · {ex.get('id', '?')} · {ex.get('why', '')}\n")
        out.update(t)


# -- training ------------------------------------------------------------------------------------
class TrainScreen(_Sub):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("s", "start", "Start training"),
        Binding("x", "stop", "Stop training"),
    ]

    def __init__(self, refresh_s: float = 0.25) -> None:
        super().__init__()
        self.refresh_s = refresh_s
        self.state: TrainingState | None = None
        self._loaded = False
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Static(Text("Training", style="bold"), id="train-title")
        yield Static("loading…", id="train-status")
        yield LossChart(id="train-chart")
        yield Static("", id="train-eval")
        yield Footer()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.refresh_s, self.poll)

    def poll(self) -> None:
        if self._polling:
            return  # one call in flight at a time: a slow read must not queue up
        self._polling = True
        self.wapp.background(self.wapp.control.training_state, done=self.show_state, failed=self.show_error,
                             owner=self)

    def action_start(self) -> None:
        self.wapp.command("start training", self.wapp.control.start_training, then=self.poll)
        self.notify("starting training…")

    def action_stop(self) -> None:
        self.wapp.command("stop training", self.wapp.control.stop_training, then=self.poll)

    def show_error(self, exc: BaseException) -> None:
        self._polling = False
        self.query_one("#train-status", Static).update(
            Text(f"training state unavailable: {type(exc).__name__}: {exc}", style="bold red"))

    def show_state(self, state: TrainingState | None) -> None:
        self._polling = False
        if self._loaded and state == self.state:
            return
        self._loaded = True
        self.state = state
        status = self.query_one("#train-status", Static)
        chart = self.query_one(LossChart)
        ev = self.query_one("#train-eval", Static)
        if state is None:
            status.update(Text("no training yet, press s to start", style="bold"))
            chart.display = False
            ev.update("")
            return
        chart.display = True
        status.update(train_status_text(state))
        chart.set_data(state.train_loss, state.val_loss)
        forms = (state.eval or {}).get("forms") or {}
        ev.update(eval_table(forms) if forms else Text("no evaluation yet (runs after training)", style="dim"))


def train_status_text(st: TrainingState) -> Text:
    t = Text()
    status = st.status
    t.append(status.upper(), style="bold green" if status in ("running", "done") else
             "bold red" if status in ("failed", "error") else "bold yellow")
    stages = st.stages
    idx = st.stage_index
    stage = st.stage or "--"
    stage_txt = f"{stage} ({(idx or 0) + 1}/{len(stages)})" if stages and idx is not None else str(stage)
    t.append(f" · stage {stage_txt}")
    t.append(f" · iteration {st.iteration}/{st.total_iters}")
    tps = st.tokens_per_second
    t.append(f" · {tps:.0f} tok/s" if isinstance(tps, int | float) else " · -- tok/s")
    mem = st.peak_memory
    t.append(f" · peak mem {mem:.2f} GB" if isinstance(mem, int | float) else "")
    t.append(f" · ETA {fmt_eta(st.eta_s)}")
    if st.error:
        t.append(f"\nerror: {st.error}", style="bold red")
    return t


def eval_table(forms: dict[str, Any]) -> Table:
    table = Table(title="evaluation: base vs adapter", title_justify="left", show_edge=False)
    for c, j in (("form", "left"), ("mean before", "right"), ("mean after", "right"), ("Δ", "right"),
                 ("pass before", "right"), ("pass after", "right"), ("n", "right")):
        table.add_column(c, justify=j)  # type: ignore[arg-type]
    for form, d in forms.items():
        b, a = d.get("before") or {}, d.get("after") or {}
        mb, ma = b.get("mean_score"), a.get("mean_score")
        delta = Text("--")
        if isinstance(mb, int | float) and isinstance(ma, int | float):
            delta = Text(f"{ma - mb:+.2f}", style="green" if ma >= mb else "red")
        table.add_row(form, num(mb), num(ma), delta, pct(b.get("pass_rate")), pct(a.get("pass_rate")),
                      str(a.get("n", b.get("n", ""))))
    return table
