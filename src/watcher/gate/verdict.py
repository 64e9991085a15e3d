"""The gate's verdict on a run as front ends show it: passed or failed, and whether it is stale.

Read from `gate/report.json` without re-running anything. A report is stale when the dataset was
written after it: the run went on (or was resumed) since the gate last looked, so its verdict and
its export describe fewer records than the run now holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from watcher.run.files import read_json
from watcher.run.paths import RunPaths


@dataclass(frozen=True, slots=True)
class GateVerdict:
    passed: bool | None  # None: the gate has not run on this run
    kept: int = 0
    total: int = 0
    stale: bool = False  # the dataset changed after the report was written
    reasons: tuple[str, ...] = ()

    @property
    def word(self) -> str:
        """One word for tables: PASSED, FAILED, STALE (an out-of-date verdict) or -- (never ran)."""
        if self.passed is None:
            return "--"
        return "STALE" if self.stale else "PASSED" if self.passed else "FAILED"

    def caution(self) -> str | None:
        """What a command that uses the export (train, export) says first; None when it is current
        and passed."""
        if self.passed is False:
            return f"the gate FAILED for this run ({'; '.join(self.reasons) or 'see gate/report.json'})"
        if self.stale:
            return "the dataset has records the gate has not seen (run `watcher gate` again to include them)"
        return None

    @property
    def safe_to_train(self) -> bool:
        """Training on this export needs no question: the gate passed on the data as it is now."""
        return self.passed is True and not self.stale


def _mtime(p: Path) -> float | None:
    try:
        return p.stat().st_mtime
    except OSError:
        return None


def read_gate_verdict(run_dir: Path) -> GateVerdict:
    paths = RunPaths(Path(run_dir))
    report_t = _mtime(paths.gate_report)
    report = read_json(paths.gate_report, None) if report_t is not None else None
    if not isinstance(report, dict) or report_t is None:
        return GateVerdict(passed=None)
    data_t = _mtime(paths.dataset)
    return GateVerdict(passed=bool(report.get("passed")), kept=int(report.get("kept") or 0),
                       total=int(report.get("total") or 0),
                       stale=data_t is not None and data_t > report_t,
                       reasons=tuple(str(r) for r in report.get("reasons") or ()))
