"""The training screen: start/stop, status, loss chart, evaluation before/after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from watcher.monitor.format import fmt_duration, num, pct
from watcher.train.state import TrainingState
from watcher.tui.screens.base import SubScreen
from watcher.tui.widgets.loss_chart import LossChart

if TYPE_CHECKING:
    pass


class TrainScreen(SubScreen):
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
        chart.set_data(state.train_loss, state.val_loss, state.stage_starts, state.total_iters)
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
    t.append(f" · ETA {fmt_duration(st.eta_s, coarse=True)}")
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
