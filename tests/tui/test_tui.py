"""Pilot tests of the TUI: every key and panel, against FakeControl's fixed data and clock."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import TRAINING_STATE, FakeControl, make_feed
from pilot_helpers import settle, start, text, until
from textual.widget import Widget
from textual.widgets._footer import FooterKey

from watcher.monitor.format import feed_line
from watcher.tui.app import WatcherApp
from watcher.tui.screens.detail import DetailScreen
from watcher.tui.screens.gate import GateScreen
from watcher.tui.screens.help import HelpScreen
from watcher.tui.screens.log import LogScreen
from watcher.tui.screens.main import MainScreen
from watcher.tui.screens.quit import QuitScreen
from watcher.tui.screens.train import TrainScreen
from watcher.tui.widgets.feed import FeedView
from watcher.tui.widgets.footer import KeysFooter
from watcher.tui.widgets.loss_chart import LossChart
from watcher.tui.widgets.workers import WorkersView

BIG = (120, 40)


# -- main screen -----------------------------------------------------------------------------------
async def test_main_screen_shows_the_snapshot() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        t = text(app)
        for needle in ("poetry-2026-11-21", "RUNNING", "0:42:17", "649/1000", "65%", "ETA 26m", "14.2/min",
                       "accepted 612", "1.9M in", "$4.12 (proj. $6.70)",
                       "Sonnet", "71/100", "0.91", "94%", "▁▁▂┊▄█",  # per-form row: all attempts' scores
                       "0   .5  ┊ 1", "┊ min 0.80",  # the histogram's axis and min_score marker
                       "finish_reason", "claude-haiku-4-5", "below min score", "truncated",
                       "429 Retry-After 2s (27s ago)", "2s",  # worker 0 is rate-limited for 2 more seconds
                       "[612/1000] Villanelle: score=0.96 (claude-haiku-4-5)",
                       "✗ Limerick rejected: best 0.62 after 5 attempts (refrain 2 missing at line 12)",
                       "p Pause", "q Quit"):
            assert needle in t, needle
        assert "Resume" not in t  # only the applicable one of pause/resume is offered


async def test_small_terminal_keeps_progress_eta_and_keys() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        lines = text(app).splitlines()
        assert len(lines) == 24
        assert "649/1000" in lines[0] and "65%" in lines[0] and "ETA 26m" in lines[0]
        assert "$4.12" in lines[1]
        for hint in ("p Pause", "g Gate", "t Train", "+- Worker", "/ Filter", "s Sort", "l Logs", "e Events",
                     "? Help", "q Quit"):
            assert hint in lines[-1], hint
        assert "[612/1000]" in "\n".join(lines)  # the feed follows the newest item
        assert app.screen.has_class("-narrow") and app.screen.has_class("-short")
        assert "v ▸ forms  finish_reason  failures  workers" in lines[2]  # the other panels are behind tabs
        assert not app.query_one("#finish-box").display and not app.query_one("#workers-box").display


@pytest.mark.parametrize("size", [BIG, (80, 24)])
async def test_an_unchanged_snapshot_repaints_nothing(size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle CPU: at 4 Hz the same numbers must not repaint any widget."""
    app = WatcherApp(FakeControl())
    async with app.run_test(size=size) as pilot:
        await start(pilot)
        snap = app.last_snapshot
        assert snap is not None
        refreshed: list[str] = []
        orig = Widget.refresh

        def spy(self: Widget, *a: object, **kw: object) -> object:
            refreshed.append(f"{type(self).__name__}#{self.id}")
            return orig(self, *a, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(Widget, "refresh", spy)
        for _ in range(3):
            app.apply_snapshot(snap)
            await pilot.pause()
        assert refreshed == []


async def test_snapshot_error_is_shown_not_raised() -> None:
    class Broken(FakeControl):
        def snapshot(self):  # type: ignore[override]
            raise OSError("run dir vanished")

    app = WatcherApp(Broken())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        assert "waiting for the first snapshot" in text(app)
        app.last_snapshot = FakeControl().snapshot()
        app.main.apply(app.last_snapshot)
        await pilot.pause()
        assert "snapshot error: OSError: run dir vanished" in text(app)


async def test_supervisor_messages_before_attach_are_not_replayed_as_toasts() -> None:
    fake = FakeControl(messages=("worker 1 restarted (exit code 1)",))
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        assert app._notifications == [] or not any("restarted" in n.message for n in app._notifications)
        fake.messages = (*fake.messages, "worker 0 exited (code 1)")
        await app.poll_now()
        await app.poll_now()  # the same message again is not repeated
        assert [n.message for n in app._notifications] == ["worker 0 exited (code 1)"]
        assert app.events == ["worker 1 restarted (exit code 1)", "worker 0 exited (code 1)"]


# -- keys --------------------------------------------------------------------------------------------
async def test_pause_and_resume_switch_the_binding() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("r")  # not applicable while running: hidden and inert
        await settle(pilot)
        assert fake.called("resume") == 0
        await pilot.press("p")
        await settle(pilot)
        assert fake.called("pause") == 1
        footer = text(app).splitlines()[-1]
        assert "r Resume" in footer and "p Pause" not in footer
        assert "PAUSED" in text(app)
        await pilot.press("p")  # now inert
        await pilot.press("r")
        await settle(pilot)
        assert fake.called("pause") == 1 and fake.called("resume") == 1
        footer = text(app).splitlines()[-1]
        assert "p Pause" in footer and "r Resume" not in footer


async def test_footer_is_rebuilt_only_when_its_keys_change() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        footer = app.query_one(KeysFooter)
        keys = list(footer.query(FooterKey))
        assert "palette" not in text(app).splitlines()[-1]  # no room at 80 columns
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert list(footer.query(FooterKey)) == keys  # the same keys: the same widgets, not rebuilt
        await pilot.resize_terminal(120, 40)
        await settle(pilot)
        assert "palette" in text(app).splitlines()[-1]  # shown once there is room
        await pilot.press("p")
        await settle(pilot)
        assert "r Resume" in text(app).splitlines()[-1]


async def test_add_and_remove_worker() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("plus")
        await settle(pilot)
        assert fake.called("add_worker") == 1
        assert app.query_one(WorkersView).ids == [0, 1, 2]
        await pilot.press("minus")
        await pilot.press("minus")
        await settle(pilot)
        assert fake.called("remove_worker") == 2
        assert app.query_one(WorkersView).ids == [0]


async def test_command_failure_is_a_notification() -> None:
    class NoAdd(FakeControl):
        def add_worker(self, backend: str | None = None) -> None:
            raise RuntimeError("no backend has work left")

    app = WatcherApp(NoAdd())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("plus")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("no backend has work left" in n.message for n in app._notifications)


async def test_worker_log_of_the_selected_worker() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen) and app.screen.worker_id == 0
        assert "worker 0 log line 1" in text(app) and "worker 0: 429 Retry-After 2s" in text(app)
        await pilot.press("escape")
        app.query_one(WorkersView).focus()
        await pilot.press("down", "l")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen) and app.screen.worker_id == 1
        assert "worker 1 log line 5" in text(app)


async def test_help_lists_the_keys() -> None:
    app = WatcherApp(FakeControl())
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        t = text(app)
        for needle in ("pause / resume", "quality gate", "training panel", "add / remove a worker", "quit"):
            assert needle in t
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


def test_command_palette_offers_the_actions() -> None:
    app = WatcherApp(FakeControl())
    titles = {c.title for c in app.get_system_commands(MainScreen("x"))}
    assert {"Pause", "Resume", "Quality gate", "Training", "Add worker", "Remove worker", "Worker log",
            "Help", "Quit"} <= titles


# -- feed and detail -----------------------------------------------------------------------------------
async def test_enter_on_feed_item_opens_detail_with_poem_traces_and_rubric() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 60)) as pilot:
        await start(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert fake.calls[-1][0] == "read_record"
        t = text(app)
        for needle in ("[612/1000] Villanelle", "Shall I compare the harbor to the sea,", "synth trace",
                       "Sonnet requirements:", "☑ rhyme scheme: 86%", "natural trace", "the volta at line 9",
                       "rubric", "criterion", "rhyme scheme", "ABAB CDCD EFEF GH", "0.86", "end_turn"):
            assert needle in t, needle
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_detail_of_a_rejected_item_and_feed_stops_following() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        assert feed.following and feed.cursor == len(feed.items) - 1
        await pilot.press(*["up"] * 5)  # the newest rejected item is 5 lines up
        assert not feed.following
        assert feed.items[feed.cursor].kind == "rejected"
        await pilot.press("enter")
        await settle(pilot)
        t = text(app)
        assert "A villanelle that lost its second refrain" in t and "FAIL_BELOW_MIN_SCORE" in t


async def test_feed_follows_new_items_unless_the_user_scrolled() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        feed = app.query_one(FeedView)
        more = tuple(replace(it, offset=it.offset + 10**6, index=it.index + 26) for it in make_feed(30))
        fake.add_feed(more[:5])
        await app.poll_now()
        await pilot.pause()
        assert feed.following and feed.items[-1] == more[4]
        # newest line at the bottom of the feed
        assert await until(pilot, lambda: feed_line(more[4]) in text(app).splitlines()[-3]), text(app)
        await pilot.press("up")
        fake.add_feed(more[5:8])
        await app.poll_now()
        await pilot.pause()
        assert not feed.following and feed.unseen == 3 and "3 new · End to follow" in text(app)
        await pilot.press("end")
        await pilot.pause()
        assert feed.following and feed.cursor == len(feed.items) - 1


async def test_feed_is_bounded() -> None:
    fake = FakeControl(feed=0)
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        feed = app.query_one(FeedView)
        feed.max_items = 50
        for k in range(4):
            fake.feed = tuple(replace(it, offset=it.offset + k * 10**6) for it in make_feed(40))
            await app.poll_now()
        await pilot.pause()
        assert len(feed.items) == 50 and feed.line_count == 50
        assert feed.items[-1] == fake.feed[-1]


# -- gate ------------------------------------------------------------------------------------------
async def test_gate_error_is_shown_in_the_panel() -> None:
    app = WatcherApp(FakeControl(gate_error=NotImplementedError("gate is not written yet")))
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert isinstance(app.screen, GateScreen)
        assert "gate failed: NotImplementedError: gate is not written yet" in text(app)


# -- training ----------------------------------------------------------------------------------------
async def test_train_panel_without_training_then_start_and_stop() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainScreen)
        assert "no training yet, press s to start" in text(app)
        await pilot.press("s")
        await settle(pilot)
        assert fake.called("start_training") == 1
        t = text(app)
        assert "RUNNING · stage sonnets (2/3) · iteration 120/300 · 1834 tok/s · peak mem 1.42 GB · ETA 2m" in t
        await pilot.press("x")
        await settle(pilot)
        assert fake.called("stop_training") == 1 and "STOPPED" in text(app)


async def test_train_panel_shows_losses_and_eval() -> None:
    app = WatcherApp(FakeControl(training=TRAINING_STATE))
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        chart = app.screen.query_one(LossChart)
        assert chart.train[-1] == (120.0, 1.7) and chart.val == [(50.0, 2.3), (100.0, 1.9)]
        t = text(app)
        assert chart.stages == [(0.0, "warmup"), (100.0, "sonnets")] and chart.total == 300
        for needle in ("last train 1.700 @ 120", "val 1.900 @ 100", "3.00 ┤", "●", "⠒", "┊", "warmup",
                       "sonnets", "300",  # the x axis runs to the last iteration of the last stage
                       "evaluation: base vs adapter", "Sonnet", "0.61", "0.83", "+0.22", "55%"):
            assert needle in t, needle


async def test_train_panel_polls_while_open() -> None:
    fake = FakeControl(training=TRAINING_STATE)
    app = WatcherApp(fake, refresh_hz=50)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("t")
        await settle(pilot)
        fake.training = replace(TRAINING_STATE, iteration=130, error="val set smaller than batch size")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        for _ in range(50):  # the screen's own 50 Hz timer picks the change up
            await pilot.pause(0.02)
            if screen.state and screen.state.iteration == 130:
                break
        await pilot.pause()
        assert "iteration 130/300" in text(app) and "error: val set smaller than batch size" in text(app)


# -- quitting ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "result"), [("s", "stop"), ("d", "detach")])
async def test_quit_dialog_choice_exits_with_result(key: str, result: str) -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        assert "Stop workers" in text(app) and "Detach" in text(app)
        await pilot.press(key)
        await settle(pilot)
    assert app.return_value == result
    assert fake.called(result) == 1 and fake.called({"stop": "detach", "detach": "stop"}[result]) == 0
    if result == "stop":
        assert ("stop", (True,)) in fake.calls  # graceful


async def test_quit_dialog_buttons_and_cancel() -> None:
    fake = FakeControl()
    app = WatcherApp(fake)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and fake.calls == []
        await pilot.press("q")
        await pilot.pause()
        await pilot.click("#detach")
        await settle(pilot)
    assert app.return_value == "detach" and fake.called("detach") == 1


async def test_on_exit_choice_replaces_the_control_calls() -> None:
    fake = FakeControl()
    seen: list[str] = []
    app = WatcherApp(fake, on_exit_choice=seen.append)
    async with app.run_test(size=BIG) as pilot:
        await start(pilot)
        await pilot.press("ctrl+q", "s")  # ctrl+q asks too
        await settle(pilot)
    assert app.return_value == "stop" and seen == ["stop"] and fake.called("stop") == 0
