"""The worker log: ←/→ switch workers, successful HTTP request lines hidden unless `h`."""

from __future__ import annotations

from fakes import FakeControl
from pilot_helpers import settle, start, text

from watcher.tui.app import WatcherApp
from watcher.tui.screens.log import LogScreen, is_http_noise

OK = 'INFO httpx: HTTP Request: POST https://api.anthropic.com/v1/messages "HTTP/1.1 200 OK"'
LIMITED = 'INFO httpx: HTTP Request: POST https://api.anthropic.com/v1/messages "HTTP/1.1 429 Too Many Requests"'


class NoisyControl(FakeControl):
    def worker_log(self, worker_id: int, lines: int = 200) -> str:
        self._call("worker_log", worker_id, lines)
        return "\n".join([f"worker {worker_id} started", OK, OK, LIMITED, f"worker {worker_id} item done"])


def test_http_noise() -> None:
    assert is_http_noise(OK) and not is_http_noise(LIMITED) and not is_http_noise("worker 0 started")


async def test_log_switches_workers_and_hides_http_lines() -> None:
    fake = NoisyControl(workers=3)
    app = WatcherApp(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await start(pilot)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LogScreen)
        t = text(app)
        assert "worker 0 started" in t and "429 Too Many Requests" in t and "200 OK" not in t
        assert "1/3 (←/→)" in t and "HTTP lines hidden" in t
        await pilot.press("right")
        await settle(pilot)
        assert "worker 1 started" in text(app) and "worker 0 started" not in text(app)
        await pilot.press("left", "left")
        await settle(pilot)
        assert app.screen.worker_id == 2  # type: ignore[attr-defined]
        await pilot.press("h")
        await pilot.pause()
        assert "200 OK" in text(app) and "HTTP lines shown" in text(app)


async def test_log_filter_keeps_matching_lines_as_you_type() -> None:
    fake = NoisyControl(workers=2)
    app = WatcherApp(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press("slash", *"ITEM")
        await pilot.pause()
        t = text(app)
        assert "worker 0 item done" in t and "worker 0 started" not in t and "429" not in t
        assert "filter: item" in t
        await pilot.press("enter")  # keeps the filter; it follows the next worker too
        await pilot.press("right")
        await settle(pilot)
        t = text(app)
        assert "worker 1 item done" in t and "worker 1 started" not in t
        await pilot.press("slash", *"zzz")  # reopened, the box has its text selected: typing replaces it
        await pilot.pause()
        assert "(no line matches “zzz”)" in text(app)
        await pilot.press("escape")  # clears the filter, back in the log
        await pilot.pause()
        t = text(app)
        assert "worker 1 started" in t and "INFO httpx: HTTP Request" in t  # the 429 line (cut at 80 columns)
        assert isinstance(app.screen, LogScreen)
