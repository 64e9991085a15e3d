"""`+`/`-` act on the selected worker's backend and are hidden when the run has no live workers."""

from __future__ import annotations

from fakes import FakeControl
from pilot_helpers import settle, start, text

from watcher.tui.app import WatcherApp
from watcher.tui.widgets.workers import WorkersView


async def test_plus_and_minus_use_the_selected_workers_backend() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        await pilot.press("plus")
        await settle(pilot)
        app.query_one(WorkersView).cursor = 1  # worker 1 runs on openrouter
        await pilot.press("minus")
        await settle(pilot)
        assert [c for c in fake.calls if c[0] in ("add_worker", "remove_worker")] == [
            ("add_worker", ("claude",)), ("remove_worker", ("openrouter",))]


async def test_worker_keys_and_pause_are_hidden_on_a_finished_run() -> None:
    fake = FakeControl(state="done")
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        footer = text(app).splitlines()[-1]
        assert "Worker" not in footer and "Pause" not in footer and "Resume" not in footer
        await pilot.press("plus")
        await settle(pilot)
        assert fake.called("add_worker") == 0


async def test_q_on_a_finished_run_quits_without_asking() -> None:
    fake = FakeControl(state="done")
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        await pilot.press("q")
        await settle(pilot)
    assert app.return_value == "stop" and fake.called("stop") == 1
