"""Small terminals: the main screen's panels go behind tabs (`v` or a click); charts keep their height."""

from __future__ import annotations

from fakes import TRAINING_STATE, FakeControl
from pilot_helpers import settle, start, text

from watcher.tui.app import WatcherApp
from watcher.tui.screens.main import PANELS
from watcher.tui.widgets.loss_chart import LossChart

TITLES = {"groups-box": "─ forms ", "finish-box": "─ finish_reason ", "failures-box": "─ failures ",
          "workers-box": "─ workers ", "batches-box": "─ batches "}
# Without batches (not batch mode) the batches tab is hidden, its panel too, and `v` skips it.
ONLINE = [bid for _, bid in PANELS if bid != "batches-box"]


def shown(app: WatcherApp) -> list[str]:
    return [bid for _, bid in PANELS if app.query_one(f"#{bid}").display and TITLES[bid] in text(app)]


async def test_v_and_clicks_show_one_panel_at_a_time_at_80x24() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        order = ONLINE
        assert shown(app) == order[:1] and "batches" not in text(app)
        for bid in [*order[1:], order[0]]:  # v cycles through every panel and back
            await pilot.press("v")
            await pilot.pause()
            assert shown(app) == [bid], bid
            lines = text(app).splitlines()
            assert len(lines) == 24 and "[612/1000]" in "\n".join(lines)  # the feed stays in view
        await pilot.click("#tab-failures-box")
        await pilot.pause()
        assert shown(app) == ["failures-box"] and "below min score" in text(app)


async def test_every_panel_shows_at_once_on_a_big_screen_and_v_is_not_offered() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        assert shown(app) == ONLINE
        assert not app.query_one("#panel-tabs-bar").display
        assert app.screen.check_action("next_panel", ()) is False


async def test_workers_last_error_is_readable_at_80x24() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        await pilot.press("v", "v", "v")  # the workers tab
        await settle(pilot)
        t = text(app)
        assert "last error" in t and " pid " not in t  # the pid makes room for the error column
        assert "worker 0: 429 Retry-After 2s (27s ago)" in t  # the selected worker's, whole, on the box
    async with WatcherApp(FakeControl()).run_test(size=(120, 40)) as pilot:
        await start(pilot)
        t = text(pilot.app)
        assert " pid " in t and "429 Retry-After 2s (27s ago)" in t and "worker 0:" not in t


async def test_train_chart_keeps_its_height_beside_the_evaluation_at_80x24() -> None:
    app = WatcherApp(FakeControl(training=TRAINING_STATE))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert app.screen.query_one(LossChart).size.height >= 10
        t = text(app)
        assert "evaluation: base vs adapter" in t and "+0.22" in t and "sonnets" in t
