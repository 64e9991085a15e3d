"""Batch mode in the TUI: the batches panel, and stopping asks whether to cancel batches in flight."""

from __future__ import annotations

import time

from fakes import FakeControl
from pilot_helpers import settle, start, text

from watcher.run.batches import BATCH, INGESTED, STATE, batch_line
from watcher.run.paths import RunPaths
from watcher.tui.app import WatcherApp
from watcher.tui.screens.batch_cancel import CancelBatchesScreen


class BatchControl(FakeControl):
    def __init__(self, run_dir) -> None:
        super().__init__()
        self.paths = RunPaths(run_dir)

    def cancel_batches(self) -> None:
        self._call("cancel_batches")


def write_ledger(run_dir) -> None:
    t = time.time() - 120
    common = {"backend": "claude", "worker": 0, "api": "anthropic", "round": 0, "committed_usd": 0.25}
    lines = [batch_line(BATCH, key="k1", id="msgbatch_one", custom_ids=[f"a{i}-1" for i in range(10)],
                        submitted_at=t, state="in_progress", **common),
             batch_line(STATE, id="msgbatch_one", state="in_progress", status="in_progress",
                        counts={"succeeded": 4, "errored": 1, "expired": 0, "canceled": 0, "processing": 5}),
             batch_line(BATCH, key="k2", id="msgbatch_two", custom_ids=["b-1"], submitted_at=t,
                        state="ended", **common),
             batch_line(INGESTED, id="msgbatch_two", counts={"succeeded": 1, "processing": 0}, malformed=0,
                        cost_usd=0.01)]
    RunPaths(run_dir).batches.write_bytes(b"".join(lines))


async def test_batches_panel_and_cancel_on_stop(tmp_path) -> None:
    write_ledger(tmp_path)
    control = BatchControl(tmp_path)
    app = WatcherApp(control)
    async with app.run_test(size=(160, 48)) as pilot:
        await start(pilot)
        screen = text(app)
        assert "batches · 1 in flight · committed $0.2500" in screen
        assert "+ $0.25 committed" in screen  # the header: spent + committed
        row = next(line for line in screen.splitlines() if "msgbatch_one" in line)
        assert "in_progress" in row and " 4 " in row and " 5 " in row and "2m" in row  # ok, processing, age
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("s")  # stop the workers ...
        await settle(pilot)
        assert isinstance(app.screen, CancelBatchesScreen)
        await pilot.press("c")  # ... and cancel the batch in flight
        await settle(pilot)
    assert control.called("cancel_batches") == 1 and control.called("stop") == 1
    assert [n for n, _ in control.calls if n in ("cancel_batches", "stop")] == ["cancel_batches", "stop"]


async def test_batches_are_a_tab_on_a_small_terminal(tmp_path) -> None:
    write_ledger(tmp_path)
    app = WatcherApp(BatchControl(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert any("v ▸" in ln and "batches" in ln for ln in text(app).splitlines())  # the tab strip offers it
        await pilot.click("#tab-batches-box")
        await settle(pilot)
        assert "batches · 1 in flight" in text(app) and "msgbatch_one" in text(app)
