"""How a run ended, as an exit code and the one final line that says which (DESIGN.md "Outcomes")."""

from __future__ import annotations

import time

from watcher.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED
from watcher.monitor.format import fmt_duration
from watcher.monitor.snapshot import Snapshot, WorkerStats


def pending_items(s: Snapshot) -> int:
    """Items not yet ended: never tried, in flight when stopped, or failed in transport."""
    return max(0, s.total_target - s.accepted - s.rejected)


def backend_status(w: WorkerStats, now: float | None = None) -> str | None:
    """'down since 12:03:04: <reason>' or 'unreachable since …, next probe in 8s: <reason>'; None if fine."""
    if w.breaker == "closed" or not w.breaker:
        return None
    now = time.time() if now is None else now
    since = time.strftime("%H:%M:%S", time.localtime(w.down_since)) if w.down_since else "?"
    if w.breaker == "down":
        return f"down since {since}: {w.down_reason or '?'}"
    probe = f", next probe in {fmt_duration(max(0.0, w.next_probe_at - now))}" if w.next_probe_at else ""
    return f"unreachable since {since}{probe}: {w.down_reason or '?'}"


def run_outcome(s: Snapshot, workers_failed: bool, interrupted: bool,
                budget: str | None = None) -> tuple[int, str]:
    """(exit code, final line): 0 every item ended; 3 items pending (the spend ceiling reached — its
    line is `budget` —, a backend down, workers failed, transport failures); 130 stopped by the user."""
    pending = pending_items(s)
    ended = f"{s.accepted} accepted, {s.rejected} rejected"
    if interrupted:
        return EXIT_INTERRUPTED, (f"watcher: stopped by the user · {ended} · {pending} pending; "
                                  "run the same command to continue")
    if budget:
        return EXIT_RUN_FAILED, f"watcher: {budget}"
    downs = sorted({f"{w.backend} {backend_status(w)}" for w in s.workers if w.breaker == "down"})
    if pending or workers_failed or downs:
        why = "; ".join(downs) if downs else ("a worker failed" if workers_failed else "calls failed in transport")
        return EXIT_RUN_FAILED, (f"watcher: not finished · {ended} · {pending} pending ({why}); "
                                 "run the same command to continue")
    return EXIT_OK, f"watcher: done · every item ended · {ended}"
