"""Plain helpers for the Pilot tests: wait on the app's workers (events, not sleeps)."""

from __future__ import annotations

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


async def start(pilot: Pilot) -> None:
    await pilot.app.poll_now()  # type: ignore[attr-defined]
    await settle(pilot)


def text(app: WatcherApp) -> str:
    return app.screen_text()
