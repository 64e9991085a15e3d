"""`watcher --headless --metrics-port N`: the same `/metrics` as `watcher serve`, while a headless
run works. The headless loop's own snapshots are exposed (a tap keeps the latest), so a scrape
never enters the supervisor from the HTTP thread."""

from __future__ import annotations

from typing import Any

from prometheus_client import start_http_server

from watcher.errors import ConfigError
from watcher.monitor.snapshot import Snapshot
from watcher.serve.metrics import RunMetrics

METRICS_HOST = "127.0.0.1"  # no token on this endpoint: loopback only (use `watcher serve` for more)


class SnapshotTap:
    """Wraps a RunControl (the supervisor); remembers the last snapshot its owner took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.latest: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        self.latest = self.inner.snapshot()
        return self.latest

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # every other RunControl call goes to the supervisor as is


class MetricsEndpoint:
    """Binds 127.0.0.1:port at once (a taken port fails before any worker starts); `with` it to get
    the tapped supervisor, served until the block ends. port None: nothing is served."""

    def __init__(self, sup: Any, port: int | None) -> None:
        self.tap = SnapshotTap(sup)
        self.sup = sup
        self.server: Any = None
        if port is None:
            return
        metrics = RunMetrics(sup.run_dir, snapshot=lambda: self.tap.latest)
        try:
            self.server, self.thread = start_http_server(port, addr=METRICS_HOST, registry=metrics.registry)
        except OSError as e:
            raise ConfigError(f"--metrics-port {port}: cannot listen on {METRICS_HOST}: {e.strerror or e}; "
                              "fix: pick another port") from None

    def __enter__(self) -> Any:
        return self.tap if self.server is not None else self.sup

    def __exit__(self, *_exc: object) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None
