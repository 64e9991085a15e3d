"""The batches panel (batch mode): one line per batch, in flight first; hidden while the run has none."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from watcher.monitor.format import fmt_duration
from watcher.run.batches import BatchLedger, ledger_summary
from watcher.tui.widgets.lines import LinesView

BATCH_COLS = (f"{'batch':<22} {'backend':<11} {'state':<11} {'ok':>6} {'err':>5} {'exp':>5} {'run':>6} "
              f"{'age':>7} {'ETA':>7}")
STATE_STYLE = {"in_progress": "cyan", "ended": "green", "ingested": "dim", "canceling": "yellow"}


def batch_line(b: dict[str, Any]) -> Text:
    t = Text(no_wrap=True)
    t.append(f"{b['id'][-22:]:<22} {b['backend'][:11]:<11} ")
    t.append(f"{b['state'][:11]:<11}", style=STATE_STYLE.get(b["state"], ""))
    t.append(f" {b['succeeded']:>6}")
    t.append(f" {b['errored']:>5}", style="red" if b["errored"] else "")
    t.append(f" {b['expired']:>5}", style="yellow" if b["expired"] else "")
    t.append(f" {b['processing']:>6} {fmt_duration(b['age_s'], coarse=True):>7} "
             f"{fmt_duration(b['eta_s']) if b['eta_s'] is not None else '—':>7}")
    return t


class BatchesPanel(Vertical):
    """Reads the run's batches.jsonl (incrementally) on each snapshot the screen applies."""

    DEFAULT_CSS: ClassVar[str] = """
    BatchesPanel { height: auto; }
    BatchesPanel.-empty { display: none; }
    BatchesPanel #batches { max-height: 5; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.add_class("-empty")  # a class, not `display`: on small terminals the tab strip shows it
        self.border_title = "batches"
        self._ledger: BatchLedger | None = None
        self._key: Any = None
        self.summary: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(BATCH_COLS, classes="thead")
        yield LinesView(id="batches")

    def apply(self, batches_path: Path | None) -> None:
        if batches_path is None:
            return
        if self._ledger is None:
            self._ledger = BatchLedger(batches_path)
        s = ledger_summary(self._ledger, recent=10)
        self.summary = s
        key = (s["total"], s["committed_usd"], tuple((b["id"], b["state"], b["processing"], b["errored"])
                                                      for b in s["batches"]), int(time.time()) // 5)
        if key == self._key:
            return
        self._key = key
        self.set_class(s["total"] == 0, "-empty")
        self.border_title = (f"batches · {s['in_flight']} in flight · committed ${s['committed_usd']:.4f}"
                             if s["in_flight"] else f"batches · {s['total']}")
        self.query_one(LinesView).set_lines([batch_line(b) for b in s["batches"]])
