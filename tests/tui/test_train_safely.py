"""`t` asks before training on an export the gate did not pass on the data as it is now."""

from __future__ import annotations

import pytest
from fakes import TRAINING_STATE, FakeControl
from pilot_helpers import settle, start, text

from watcher.gate.verdict import GateVerdict
from watcher.tui.app import WatcherApp
from watcher.tui.screens.gate import GateScreen
from watcher.tui.screens.main import MainScreen
from watcher.tui.screens.train import TrainScreen
from watcher.tui.screens.train_ask import TrainAskScreen

BIG = (120, 40)
FAILED = GateVerdict(passed=False, kept=130, total=167, reasons=("kept_share: 78% < 90%",))


async def test_passed_gate_opens_the_training_panel_directly() -> None:
    fake = FakeControl(state="done")
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainScreen)


@pytest.mark.parametrize(("verdict", "needle"), [
    (FAILED, "FAILED (kept_share: 78% < 90%): 130 of 167"),
    (GateVerdict(passed=True, kept=167, total=167, stale=True), "than the dataset"),
    (GateVerdict(passed=None), "has not run"),
])
async def test_failed_stale_or_missing_gate_asks_first(verdict: GateVerdict, needle: str) -> None:
    fake = FakeControl(state="done", verdict=verdict)
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainAskScreen)
        t = text(app)
        assert needle in t
        for choice in ("Run gate (g)", "Train anyway (a)", "Cancel (esc)"):
            assert choice in t
        await pilot.press("escape")  # cancel: back on the main screen, nothing started
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert fake.called("start_training") == 0


async def test_ask_then_run_the_gate_or_train_anyway() -> None:
    fake = FakeControl(state="done", verdict=FAILED)
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        assert fake.called("run_gate") == 1
        await pilot.press("escape")
        await pilot.press("t")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("s")
        await settle(pilot)
        assert fake.called("start_training") == 1


async def test_running_training_opens_without_asking() -> None:
    fake = FakeControl(state="done", verdict=FAILED, training=TRAINING_STATE)
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainScreen)
