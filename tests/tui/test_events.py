"""The events screen (`e`) holds every notice; toasts are only for what is new in this session."""

from __future__ import annotations

import time

from fakes import FakeControl
from pilot_helpers import settle, start, text

from watcher.tui.app import WatcherApp
from watcher.tui.screens.events import EventsScreen
from watcher.tui.screens.main import MainScreen


async def test_events_screen_lists_old_and_new_events() -> None:
    fake = FakeControl(messages=("12:00:01 run started (round 0)", "12:00:05 worker 1 exited (code 1)"))
    app = WatcherApp(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert not app._notifications  # history: logged, not toasted
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EventsScreen)
        t = text(app)
        assert "12:00:01 run started (round 0)" in t and "12:00:05 worker 1 exited (code 1)" in t
        fake.messages = (*fake.messages, "12:00:09 pause")
        await app.poll_now()
        app.screen.refresh_events()  # type: ignore[attr-defined]
        await pilot.pause()
        assert "12:00:09 pause" in text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_events_screen_when_nothing_happened() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert "(no events yet)" in text(app)


async def test_run_finishing_is_announced_once_and_logged() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        fake.state = "done"
        await app.poll_now()
        await app.poll_now()
        msgs = [n.message for n in app._notifications]
        assert msgs == ["run done: press g for the quality gate, q to quit"]
        assert app.events[-1] == msgs[0]


async def test_screenshot_goes_to_the_run_directory(tmp_path) -> None:
    app = WatcherApp(FakeControl(run_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_screenshot()
        deadline = time.monotonic() + 10

        def written() -> bool:  # the file appears before its text is all written (another thread)
            return any("</svg>" in p.read_text() for p in (tmp_path / "screenshots").glob("*.svg"))

        while not written() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert written()


async def _toast_row_shows(pilot, needle: str) -> bool:  # type: ignore[no-untyped-def]
    """Toasts mount a frame or two after notify: poll with a deadline (no fixed sleep)."""
    deadline = time.monotonic() + 5
    while needle not in text(pilot.app).splitlines()[-2]:  # the row above the footer
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.02)
    return True


async def test_toasts_sit_above_the_footer_newest_only() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await start(pilot)
        fake.messages = ("12:00:05 worker 1 exited (code 1)",)
        await app.poll_now()
        assert await _toast_row_shows(pilot, "worker 1 exited (code 1)")
        rows = text(app).splitlines()  # over the key hints, not the data
        assert "following" in rows[-2]  # the feed's last row (its border) stays in view
        app.notify("copied", timeout=30)  # the newest replaces it; an acknowledgement is not logged
        assert await _toast_row_shows(pilot, "copied")
        app.notify("gate failed: disk full", severity="error")
        assert await _toast_row_shows(pilot, "gate failed: disk full")
        assert app.events[-1].endswith("gate failed: disk full") and not any("copied" in e for e in app.events)
        assert [n.timeout for n in app._notifications] == [12.0]  # the error's default timeout
