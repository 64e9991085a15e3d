"""The theme the user picks is saved (platformdirs' config directory) and used on the next launch."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fakes import FakeControl
from pilot_helpers import start

from watcher.tui.app import WatcherApp
from watcher.tui.settings import settings_path


async def test_theme_choice_lasts_across_launches() -> None:
    assert settings_path().parent == Path(os.environ["WATCHER_CONFIG_DIR"])
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert not settings_path().exists()  # starting saves nothing
        app.theme = "nord"
        await pilot.pause()
    assert json.loads(settings_path().read_text()) == {"theme": "nord"}
    again = WatcherApp(FakeControl())
    async with again.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert again.theme == "nord"


async def test_a_broken_or_unknown_setting_is_ignored() -> None:
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('{"theme": "no-such-theme"}')
    app = WatcherApp(FakeControl())
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert app.theme == "textual-dark"
    settings_path().write_text("{not json")
    assert WatcherApp(FakeControl()).theme == "textual-dark"
