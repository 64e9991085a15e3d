"""What a front end (TUI or headless) may ask of a run: the command side of the snapshot.

The supervisor implements this for a live run; tests implement it with fixed data. Front ends
never touch processes or files directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from watcher.gate.verdict import GateVerdict
from watcher.monitor.snapshot import Snapshot
from watcher.train.state import TrainingState


class RunControl(Protocol):
    run_dir: Path

    def snapshot(self) -> Snapshot:
        """Read what is new in the run's files and return the current immutable snapshot."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def add_worker(self, backend: str | None = None) -> None:
        """One more worker on `backend` (None: the backend with the most work left)."""

    def remove_worker(self, backend: str | None = None) -> None:
        """One worker fewer on `backend` (None: any)."""

    def stop(self, graceful: bool = True) -> None:
        """Stop the workers: graceful lets in-flight calls finish; else kill them now."""

    def detach(self) -> None:
        """Leave the workers running and forget them; `watcher attach` finds them again."""

    def worker_log(self, worker_id: int, lines: int = 200) -> str: ...

    def read_record(self, path: str, offset: int) -> dict[str, Any] | None:
        """The full record whose line starts at `offset` in `path` (feed detail screen)."""

    def run_gate(self) -> dict[str, Any]:
        """Run the quality gate on the data so far; returns the report (see gate.py)."""

    def gate_verdict(self) -> GateVerdict:
        """The last gate report's verdict and whether the dataset changed since (gate/verdict.py)."""

    def start_training(self) -> None: ...

    def stop_training(self) -> None: ...

    def training_state(self) -> TrainingState | None:
        """Training progress read from train/ (train/state.py), or None when nothing started."""
