"""Plain helpers for the Pilot tests: wait on the app's workers (events, not sleeps)."""

from __future__ import annotations

from collections.abc import Callable

from textual.pilot import Pilot

from watcher.tui.app import WatcherApp


async def settle(pilot: Pilot) -> None:
    """Wait until background control calls (and the polls they trigger) are done: events, not sleeps."""
    app = pilot.app
    for _ in range(10):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            return


async def until(pilot: Pilot, shown: Callable[[], bool], frames: int = 50) -> bool:
    """Let the app draw frame after frame until `shown()` holds (a scroll after refresh lands a frame or
    two later on a loaded machine); returns whether it did, so the test's assert says what was missing."""
    for _ in range(frames):
        if shown():
            return True
        await pilot.pause()
    return shown()


async def start(pilot: Pilot) -> None:
    await pilot.app.poll_now()  # type: ignore[attr-defined]
    await settle(pilot)


def text(app: WatcherApp) -> str:
    return app.screen_text()
