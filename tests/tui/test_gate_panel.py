"""The gate panel: opens on the failing check, examples show their text (duplicates beside the
record they copy), Enter opens the records, the table shows every check, marks follow the status."""

from __future__ import annotations

from fakes import GATE_REPORT, FakeControl
from pilot_helpers import settle, start, text
from textual.widgets import DataTable

from watcher.tui.app import WatcherApp
from watcher.tui.screens.detail import DetailScreen
from watcher.tui.screens.gate import GateScreen
from watcher.tui.screens.main import MainScreen

CHECKS = [c["name"] for c in GATE_REPORT["checks"]]


async def _open_gate(pilot) -> GateScreen:  # type: ignore[no-untyped-def]
    await start(pilot)
    await pilot.press("g")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, GateScreen)
    return screen


async def test_gate_panel_opens_on_the_failing_check_with_every_row() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_gate(pilot)
        table = screen.query_one(DataTable)
        assert table.row_count == len(CHECKS) == 13
        assert CHECKS[table.cursor_row] == "balance"  # the first check that fails the gate
        t = text(app)
        for needle in ("FAILED · 455 of 649 records kept", "only 455/649 records (70.1%) survive",
                       "export: train 411 · valid 22 · test 22", "kept_share",  # the last row is on screen
                       "Limerick      16       100     80    ✗ short"):  # the balance table
            assert needle in t, needle
        assert "None" not in t and "line 0" not in t and "Open records" in t
        rows = {CHECKS[i]: table.get_row_at(i)[0].plain for i in range(table.row_count)}
        assert rows["exact_duplicate"] == "▾ drop"  # 22% dropped: not a ✓, not a gate failure
        assert rows["kept_share"] == "✗ FAIL" and rows["valid_json"] == "✓ ok" and rows["token_budget"] == "· skip"
        await pilot.press("r")
        await settle(pilot)
        assert fake.called("run_gate") == 2
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_duplicates_show_beside_the_record_they_copy_and_enter_opens_them() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_gate(pilot)
        table = screen.query_one(DataTable)
        table.move_cursor(row=CHECKS.index("exact_duplicate"))
        await settle(pilot)
        t = text(app)
        assert "line 231 · dropped" in t and "line 31 · kept" in t
        assert t.count("A gull from the pier at St Ives") == 2  # both texts, side by side on one row
        table.move_cursor(row=CHECKS.index("min_score"))
        await settle(pilot)
        t = text(app)
        assert "line 12 · id a0012 · score 0.620 < 0.8" in t and "The harbor keeps its boats asleep" in t
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        t = text(app)
        assert "min_score · line 12 · score 0.620 < 0.8" in t and "The harbor keeps its boats asleep" in t
        await pilot.press("n")
        await settle(pilot)
        assert "Do not go gently" in text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, GateScreen)


async def test_gate_panel_at_80x24_keeps_room_for_the_examples() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_gate(pilot)
        assert screen.query_one("#gate-examples").size.height >= 6
        assert "Limerick" in text(app)
