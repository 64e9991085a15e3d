"""The header shows spent / ceiling when the run has a spend ceiling (issue 19)."""

from __future__ import annotations

from dataclasses import replace

from fakes import FakeControl

from watcher.tui.app import WatcherApp
from watcher.tui.widgets.header import RunHeader


class Capped(FakeControl):
    def snapshot(self):  # type: ignore[override]
        return replace(super().snapshot(), max_cost_usd=10.0)


async def test_header_shows_spent_and_ceiling() -> None:
    for control, want in ((Capped(), "$4.12 / $10.00 max"), (FakeControl(), None)):
        app = WatcherApp(control)
        async with app.run_test(size=(160, 40)) as pilot:
            await app.poll_now()  # type: ignore[attr-defined]
            await pilot.pause()
            line = str(app.query_one(RunHeader).render()).splitlines()[1]
            assert "$4.12" in line
            assert (want in line) if want else ("max" not in line), line
