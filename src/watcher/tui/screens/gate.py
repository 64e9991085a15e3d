"""The quality gate screen: checks, examples per check (their text), export counts.

It opens on the first check that failed the gate (else the first that dropped records); each
example shows its record's text, a duplicate side by side with the kept record it copies; Enter
opens the check's example records in the detail view (n/p step through them).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static

from watcher.gate.checks import CheckResult
from watcher.monitor.format import pct
from watcher.monitor.snapshot import FeedItem
from watcher.run.records import GROUP_FIELD
from watcher.tui.screens.base import SubScreen
from watcher.tui.screens.detail import DetailScreen, record_text

# CheckResult.status as a mark and a colour; the word stays so the colour is not the only cue.
STATUS_MARK = {"FAIL": ("✗ FAIL", "bold red"), "drop": ("▾ drop", "yellow"), "ok": ("✓ ok", "green"),
               "skip": ("· skip", "dim")}
TEXT_LINES = 16  # of one example's text; the detail view (Enter) has the rest


def first_check_to_show(checks: list[CheckResult]) -> int:
    """The first check that failed the gate, else the first that dropped records, else the first."""
    for status in ("FAIL", "drop"):
        i = next((i for i, c in enumerate(checks) if c.status == status), None)
        if i is not None:
            return i
    return 0


def example_label(ex: dict[str, Any]) -> Text:
    """`line 12 · id a0012 · score 0.62 < 0.8`; a dataset-level example (line 0, no id) is its why."""
    t = Text()
    line, rid = ex.get("line"), ex.get("id")
    if isinstance(line, int) and line > 0:
        t.append(f"line {line}", style="bold cyan")
        t.append(" · ")
    if rid:
        t.append(f"id {rid}", style="cyan")
        t.append(" · ")
    t.append(str(ex.get("why") or ""))
    return t


def _clip(text: str, lines: int = TEXT_LINES) -> Text:
    rows = text.strip("\n").splitlines()
    t = Text("\n".join(rows[:lines]))
    if len(rows) > lines:
        t.append(f"\n… {len(rows) - lines} more lines (enter opens the record)", style="dim")
    return t


class GateScreen(SubScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back"),
                                             Binding("g,r", "run", "Run again"),
                                             # priority: the table would take Enter; the footer shows it
                                             Binding("enter", "open", "Open records", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.report: dict[str, Any] | None = None
        self.checks: list[CheckResult] = []
        self.running = False
        self.current = -1
        # Records read for the examples, by byte offset in the dataset (None: unreadable).
        self.records: dict[int, dict[str, Any] | None] = {}
        self._loading: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Static(Text("Quality gate", style="bold"), id="gate-title")
        with VerticalScroll(id="gate-body"):
            yield Static("", id="gate-status")
            yield Static("", id="gate-export")
            table: DataTable[Any] = DataTable(id="gate-checks", cursor_type="row", zebra_stripes=True)
            table.add_columns("status", "check", "count", "share", "description")
            yield table
            with VerticalScroll(id="gate-examples"):
                yield Static("", id="gate-examples-body")
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
        self.records.clear()  # a new gate run: the dataset may have grown, offsets are its own
        self.checks = [CheckResult(**c) for c in report.get("checks") or []]
        passed = bool(report.get("passed"))
        status = Text()
        status.append("PASSED" if passed else "FAILED", style="bold green" if passed else "bold red")
        status.append(f" · {report.get('kept', 0)} of {report.get('total', 0)} records kept")
        for reason in report.get("reasons") or []:
            status.append(f"\n  {reason}", style="red")
        self.query_one("#gate-status", Static).update(status)
        table = self.query_one("#gate-checks", DataTable)
        table.clear()
        for i, c in enumerate(self.checks):
            mark, style = STATUS_MARK[c.status]
            table.add_row(Text(mark, style=style), c.name, str(c.count), pct(c.share), c.description, key=str(i))
        exported = report.get("exported") or {}
        export = ("export: " + " · ".join(f"{k} {v}" for k, v in exported.items())) if exported else \
            "export: nothing written"
        self.query_one("#gate-export", Static).update(Text(export, style="bold"))
        self.current = -1
        first = first_check_to_show(self.checks)
        table.move_cursor(row=first, animate=False)
        self._show_examples(first)
        table.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_examples(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    # -- examples --------------------------------------------------------------------------------
    def _show_examples(self, index: int) -> None:
        body = self.query_one("#gate-examples-body", Static)
        if not 0 <= index < len(self.checks):
            body.update("")
            return
        if index != self.current:
            self.current = index
            self.query_one("#gate-examples", VerticalScroll).scroll_home(animate=False)
        c = self.checks[index]
        body.update(self._render_examples(c))
        self._load_records(c)

    def _render_examples(self, c: CheckResult) -> RenderableType:
        title = Text()
        title.append(f"{c.name}", style="bold underline")
        title.append(f" · {c.description}", style="dim")
        parts: list[RenderableType] = [title]
        if c.name == "balance":
            parts.append(self._balance_table())
        elif c.name == "kept_share":
            parts.append(Text(f"{c.count} of {(self.report or {}).get('total', 0)} records kept ({pct(c.share)})"))
        if not c.examples and c.name not in ("balance", "kept_share"):
            parts.append(Text("no records counted by this check" if c.enabled else "this check is off", style="dim"))
        for ex in c.examples:
            if c.name == "balance":
                continue  # the table above says it per group
            parts.append(Text(""))
            parts.append(example_label(ex))
            parts.append(self._example_body(ex))
        if any("offset" in ex for ex in c.examples):
            parts.append(Text("\nenter: open these records (n/p step through them)", style="dim"))
        return Group(*parts)

    def _text_at(self, offset: Any, fallback: str) -> Text:
        if isinstance(offset, int) and offset in self.records:
            rec = self.records[offset]
            text = record_text(rec) if rec is not None else ""
            if text:
                return _clip(text)
        return Text(fallback or "(no text)", style="dim" if not fallback else "")

    def _example_body(self, ex: dict[str, Any]) -> RenderableType:
        own = self._text_at(ex.get("offset"), str(ex.get("excerpt") or ""))
        if "of_line" not in ex:
            return own
        # A duplicate beside the kept record it copies: the reader judges the match at a glance.
        grid = Table(expand=True, show_edge=False, pad_edge=False, box=None, padding=(0, 2))
        grid.add_column(f"line {ex.get('line')} · dropped", ratio=1, header_style="bold yellow")
        grid.add_column(f"line {ex['of_line']} · kept", ratio=1, header_style="bold green")
        grid.add_row(own, self._text_at(ex.get("of_offset"), "(not read)"))
        return grid

    def _balance_table(self) -> RenderableType:
        rows = (self.report or {}).get("balance") or []
        if not rows:
            return Text("no targets to judge", style="dim")
        table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2), header_style="bold")
        for col, justify in (("group", "left"), ("kept", "right"), ("target", "right"), ("min", "right"),
                             ("", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for b in rows:
            table.add_row(str(b.get("group", "")), str(b.get("kept", 0)), str(b.get("target", 0)),
                          str(b.get("min", 0)), Text("ok", style="green") if b.get("ok") else
                          Text("✗ short", style="bold red"))
        return table

    def _wanted(self, c: CheckResult) -> list[int]:
        offs = [o for ex in c.examples for o in (ex.get("offset"), ex.get("of_offset")) if isinstance(o, int)]
        return [o for o in dict.fromkeys(offs) if o not in self.records and o not in self._loading]

    def _load_records(self, c: CheckResult, then: Any = None) -> None:
        """Read the check's example records on the control thread, then redraw (or call `then`)."""
        wanted = self._wanted(c)
        if not wanted:
            if then is not None:
                then()
            return
        path = str((self.report or {}).get("dataset") or "")
        control = self.wapp.control
        self._loading.update(wanted)

        def read() -> dict[int, dict[str, Any] | None]:
            return {o: control.read_record(path, o) for o in wanted}

        def done(found: dict[int, dict[str, Any] | None]) -> None:
            self._loading.difference_update(found)
            self.records.update(found)
            if 0 <= self.current < len(self.checks) and self.checks[self.current] is c:
                self._show_examples(self.current)
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            self._loading.difference_update(wanted)
            self.notify(f"could not read the examples: {exc}", severity="error")

        self.wapp.background(read, done=done, failed=failed, owner=self)

    # -- open the records --------------------------------------------------------------------------
    def action_open(self) -> None:
        if not 0 <= self.current < len(self.checks):
            return
        c = self.checks[self.current]
        if not any(isinstance(ex.get("offset"), int) for ex in c.examples):
            self.notify("no records to open for this check", timeout=3)
            return
        self._load_records(c, then=lambda: self._open(c))

    def _open(self, c: CheckResult) -> None:
        report = self.report or {}
        path, total = str(report.get("dataset") or ""), int(report.get("total") or 0)
        gfield = GROUP_FIELD.get(str(report.get("job") or ""), "form")
        items = []
        for ex in c.examples:
            off = ex.get("offset")
            if not isinstance(off, int):
                continue
            rec = self.records.get(off) or {}
            score = rec.get("score")
            items.append(FeedItem("accepted", int(ex.get("line") or 0), total, str(rec.get(gfield) or ""),
                                  score if isinstance(score, int | float) else None, str(rec.get("model") or ""),
                                  int(rec.get("attempts") or 1), str(ex.get("id") or rec.get("id") or ""),
                                  reason=c.name, detail=str(ex.get("why") or ""), path=path, offset=off))
        self.app.push_screen(DetailScreen(items, 0, label=_detail_label))


def _detail_label(item: FeedItem) -> str:
    return f"{item.reason} · line {item.index} · {item.detail}"
