"""SVG snapshot tests of the main screen and panels: FakeControl's fixed data and fixed clock.

Regenerate after an intended visual change with `pytest tests/test_tui_snapshots.py --snapshot-update`
(textual is pinned exactly: a new release may change the SVGs).
"""

from __future__ import annotations

from fakes import TRAINING_STATE, FakeControl
from textual.pilot import Pilot

from watcher.tui.app import WatcherApp


async def _loaded(pilot: Pilot) -> None:
    await pilot.app.poll_now()  # type: ignore[attr-defined]
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _settled(pilot: Pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_main_screen_120x40(snap_compare) -> None:
    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(120, 40), run_before=_loaded)


def test_main_screen_80x24(snap_compare) -> None:
    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(80, 24), run_before=_loaded)


def test_main_screen_paused_120x40(snap_compare) -> None:
    assert snap_compare(WatcherApp(FakeControl(state="paused", workers=3)), terminal_size=(120, 40),
                        run_before=_loaded)


def test_train_panel_120x40(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("t")
        await _settled(pilot)

    assert snap_compare(WatcherApp(FakeControl(training=TRAINING_STATE)), terminal_size=(120, 40),
                        run_before=run_before)


def test_quit_dialog_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("q")
        await pilot.pause()

    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(80, 24), run_before=run_before)


def test_main_screen_100x30(snap_compare) -> None:
    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(100, 30), run_before=_loaded)


def test_main_screen_200x50(snap_compare) -> None:
    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(200, 50), run_before=_loaded)


def test_workers_tab_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("v", "v", "v")
        await pilot.pause()

    assert snap_compare(WatcherApp(FakeControl()), terminal_size=(80, 24), run_before=run_before)


def test_train_panel_80x24(snap_compare) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _loaded(pilot)
        await pilot.press("t")
        await _settled(pilot)

    assert snap_compare(WatcherApp(FakeControl(training=TRAINING_STATE)), terminal_size=(80, 24),
                        run_before=run_before)
