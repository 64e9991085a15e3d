"""Batches as headless, status and the TUI show them, read from the run's ledger (run/batches.py).

One line when a batch is submitted, one when its progress moves, one when its results are read;
committed cost (submitted, not yet priced) beside the spent cost on the summary line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from watcher.monitor.format import fmt_duration, plural
from watcher.run.batches import BatchLedger, ledger_summary


def usd(v: float) -> str:
    return f"${v:.4f}"


def batch_row(b: dict[str, Any]) -> str:
    """One batch on one line: id, backend, state, counts, age and ETA."""
    done = b["requests"] - b["processing"]
    eta = f" · ETA {fmt_duration(b['eta_s'])}" if b.get("eta_s") is not None else ""
    mal = f" · malformed {b['malformed']}" if b.get("malformed") else ""
    return (f"{b['id']} {b['backend']} ({b['api']}) {b['state']}: {done}/{b['requests']} · succeeded "
            f"{b['succeeded']} · errored {b['errored']} · expired {b['expired']} · canceled {b['canceled']} · "
            f"processing {b['processing']}{mal} · age {fmt_duration(b['age_s'])}{eta}")


def committed_part(summary: dict[str, Any]) -> str:
    if not summary["in_flight"] and not summary["unresolved_intents"]:
        return ""
    return (f" · committed {usd(summary['committed_usd'])} in {plural(summary['in_flight'], 'batch', 'batches')} "
            f"({plural(summary['requests_in_flight'], 'request')})")


class BatchWatch:
    """Follows the ledger and says what changed since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ledger = BatchLedger(path)
        self.seen: dict[str, tuple[Any, ...]] = {}

    def summary(self) -> dict[str, Any]:
        return ledger_summary(self.path)

    def changes(self) -> list[tuple[str, dict[str, Any]]]:
        """(text, fields) for each batch submitted, moved or read since the last call."""
        self.ledger.poll()
        out = []
        for b in self.ledger.batches.values():
            s = b.summary()
            key = (s["state"], s["succeeded"], s["errored"], s["expired"], s["canceled"], s["processing"])
            old = self.seen.get(b.id)
            if old == key:
                continue
            self.seen[b.id] = key
            if old is None:  # seen first: say it was submitted, even when it was read meanwhile
                out.append((f"-- batch {b.id} submitted to {b.backend} ({b.api}): "
                            f"{plural(s['requests'], 'request')} · "
                            f"committed {usd(b.committed_usd)}", {**s, "event": "submitted"}))
            if s["state"] == "ingested" and s["status"] == "lost":
                out.append((f"-- batch {b.id} is unknown to the provider now (deleted, or a restarted "
                            f"simulator): its unanswered requests go out again", {**s, "event": "lost"}))
            elif s["state"] == "ingested":
                out.append((f"-- batch {b.id} read: succeeded {s['succeeded']} · errored {s['errored']} · "
                            f"expired {s['expired']} · canceled {s['canceled']} · malformed {s['malformed']} · "
                            f"{usd(s['cost_usd'])} at the batch price", {**s, "event": "read"}))
            elif old is not None:
                out.append((f"-- batch {batch_row(s)}", {**s, "event": "progress"}))
        return out

    def left_in_flight(self) -> str | None:
        """The line a stopped run ends with when batches are still out."""
        flying = self.ledger.poll().in_flight()
        if not flying:
            return None
        ids = ", ".join(b.id for b in flying[:5]) + (" ..." if len(flying) > 5 else "")
        return (f"-- {len(flying)} batches left in flight at the provider ({ids}); the same command polls "
                "them and reads their results (nothing is submitted twice)")


def status_lines(path: Path) -> list[str]:
    """`watcher status`: the batches, committed cost, and one line per batch in flight."""
    s = ledger_summary(path)
    if not s["total"]:
        return []
    out = [f"batches {s['total']} · in flight {s['in_flight']} "
           f"({plural(s['requests_in_flight'], 'request')}) · "
           f"committed {usd(s['committed_usd'])}"
           + (f" · {s['unresolved_intents']} submissions to look up" if s["unresolved_intents"] else "")]
    out += [f"  {batch_row(b)}" for b in s["batches"] if b["state"] != "ingested"]
    return out
