"""RunControl for a served TUI: watches a run without owning it.

`watcher attach` adopts a run's workers (restarting dead ones); a browser session must not, so this
control reads the run's files and sends commands through the control file the workers already
obey. Only adding or removing a worker needs a supervisor: then, and only if nobody owns the run,
the session adopts it (the user asked for that work) and detaches again when the session ends.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from watcher.generate.supervisor import Supervisor
from watcher.monitor.snapshot import Snapshot
from watcher.run.files import pid_alive, read_json
from watcher.train.state import TrainingState


class ObserverControl:
    """Implements watcher.run.control.RunControl. A `Supervisor` that never started or attached
    holds no workers: its commands only write the control file and its ticks do nothing."""

    def __init__(self, run_dir: Path, env: dict[str, str] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.env = env
        self._sup = Supervisor(self.run_dir, env=env)
        self.adopted = False

    def owner_pid(self) -> int | None:
        """The pid of a live supervisor that owns the run (not detached), else None."""
        info = read_json(self._sup.paths.supervisor, {}) or {}
        pid = int(info.get("pid") or 0)
        return pid if not info.get("detached") and pid != os.getpid() and pid_alive(pid) else None

    def _adopt(self) -> Supervisor:
        if not self.adopted:
            owner = self.owner_pid()
            if owner is not None:
                raise RuntimeError(f"run is owned by pid {owner}; change its workers there")
            self._sup = Supervisor.attach(self.run_dir, env=self.env)
            self.adopted = True
        return self._sup

    def snapshot(self) -> Snapshot:
        return self._sup.snapshot()

    def pause(self) -> None:
        self._sup.pause()

    def resume(self) -> None:
        self._sup.resume()

    def add_worker(self) -> None:
        self._adopt().add_worker()

    def remove_worker(self) -> None:
        self._adopt().remove_worker()

    def stop(self, graceful: bool = True) -> None:
        # Not adopted: the workers stop themselves on the control file's stop flag.
        self._sup.stop(graceful=graceful) if self.adopted else self._sup.begin_stop(graceful)

    def detach(self) -> None:
        if self.adopted:  # leave adopted workers running; never rewrite another owner's supervisor.json
            self._sup.detach()

    def worker_log(self, worker_id: int, lines: int = 200) -> str:
        return self._sup.worker_log(worker_id, lines)

    def read_record(self, path: str, offset: int) -> dict[str, Any] | None:
        return self._sup.read_record(path, offset)

    def run_gate(self) -> dict[str, Any]:
        return self._sup.run_gate()

    def start_training(self) -> None:
        self._sup.start_training()

    def stop_training(self) -> None:
        self._sup.stop_training()

    def training_state(self) -> TrainingState | None:
        return self._sup.training_state()


class ReadOnlyError(PermissionError):
    def __init__(self) -> None:
        super().__init__("read-only: this session was served with --read-only")


class ReadOnlyControl:
    """A RunControl that shows everything and changes nothing: every command raises ReadOnlyError,
    which the TUI turns into a notification."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.run_dir = inner.run_dir

    def snapshot(self) -> Snapshot:
        return self.inner.snapshot()

    def worker_log(self, worker_id: int, lines: int = 200) -> str:
        return self.inner.worker_log(worker_id, lines)

    def read_record(self, path: str, offset: int) -> dict[str, Any] | None:
        return self.inner.read_record(path, offset)

    def training_state(self) -> TrainingState | None:
        return self.inner.training_state()

    def detach(self) -> None:
        """Leaving a read-only session changes nothing."""

    def _refuse(self, *_args: Any, **_kw: Any) -> None:
        raise ReadOnlyError()

    pause = resume = add_worker = remove_worker = stop = start_training = stop_training = _refuse

    def run_gate(self) -> dict[str, Any]:
        raise ReadOnlyError()  # the gate writes its report and export into the run
