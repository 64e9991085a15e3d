"""A worker's watchdog: stop when nobody supervises it any more.

A supervisor that dies without detaching its workers (kill -9, a crash) would leave them writing
and paying on their own; a demo's workers would call a simulator that is gone. Either way the worker
stops within a few seconds, its in-flight items left pending for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from watcher.run.lock import endpoint_down, owner_gone
from watcher.run.paths import RunPaths

log = logging.getLogger("watcher.generate.watchdog")

CHECK_S = 1.0
SIM_DOWN_CHECKS = 3  # refused this many times in a row: the simulator is gone, not restarting


async def watch_owner(paths: RunPaths, simulated_urls: list[str], on_gone: Callable[[str], None]) -> None:
    down = 0
    while True:
        await asyncio.sleep(CHECK_S)
        if owner_gone(paths):
            on_gone("its supervisor died without detaching it")
            return
        if simulated_urls:
            refused = await asyncio.to_thread(lambda: all(endpoint_down(u) for u in simulated_urls))
            down = down + 1 if refused else 0
            if down >= SIM_DOWN_CHECKS:
                on_gone("the demo's simulated provider is gone")
                return
