"""The quality gate screen: checks, examples per check, export counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from watcher.monitor.format import pct
from watcher.tui.screens.base import SubScreen

if TYPE_CHECKING:
    pass


class GateScreen(SubScreen):
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
