"""The browser side of `watcher serve`: textual-serve (Textual's web front end, so it lives under tui/) with /metrics and the token guard.
token check on every request and a clean startup line.

textual-serve runs `command` (one TUI process per browser websocket) and serves its xterm.js page;
we subclass its Server to add routes and middleware and to run the aiohttp app ourselves, so the
bound port is known (port 0 works), access logs never show a query string (`?token=`), and the
served command line (it names the run directory) is not shown as the page title.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import signal
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from watcher.serve.metrics import CONTENT_TYPE, RunMetrics

TOKEN_ENV = "WATCHER_SERVE_TOKEN"
COOKIE = "watcher_session"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere: treat as public


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Guard:
    """Who may in: with a token, a `?token=` link (once: it then sets a cookie and redirects to the
    same URL without the token), the cookie, or `Authorization: Bearer` (Prometheus scrapers).
    Without a token (loopback only) a request must name a loopback Host, and a websocket must come
    from a page of this server: other sites a local browser visits cannot drive the run."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        # The cookie holds a value derived from the token, so the token itself never sits in a cookie jar.
        self.cookie = hmac.new(token.encode(), b"watcher-serve-session", hashlib.sha256).hexdigest() if token else None

    def _authorized(self, request: web.Request) -> bool:
        assert self.token is not None and self.cookie is not None
        if _same(request.cookies.get(COOKIE, ""), self.cookie):
            return True
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and _same(auth[7:].strip(), self.token)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            return web.Response(status=403, text="forbidden: cross-origin request\n")
        if self.token is None:
            if not is_loopback(urlsplit(f"//{request.host}").hostname or ""):
                return web.Response(status=403, text="forbidden: this server only answers loopback names\n")
            return await handler(request)
        given = request.query.get("token")
        if given is not None:
            if not _same(given, self.token):
                return web.Response(status=401, text="unauthorized: wrong token\n")
            query = request.url.query.copy()
            query.popall("token")
            if request.path == "/metrics":
                return await handler(request)
            redirect = web.HTTPSeeOther(request.rel_url.with_query(query))
            redirect.set_cookie(COOKIE, self.cookie, httponly=True, samesite="Strict", path="/")
            raise redirect
        if not self._authorized(request):
            return web.Response(status=401, text="unauthorized: open the link with ?token=<token> once, "
                                "or send Authorization: Bearer <token>\n")
        return await handler(request)


class WatcherServer(Server):
    def __init__(self, command: str, *, host: str, port: int, title: str, token: str | None,
                 metrics: RunMetrics) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.guard = Guard(token)
        self.metrics = metrics
        self.bound_port: int | None = None
        self.sessions: set[asyncio.Task[Any]] = set()

    @web.middleware
    async def track_sessions(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # aiohttp waits for open websockets on shutdown; remember their tasks so serving can end them.
        task = asyncio.current_task()
        if request.path == "/ws" and task is not None:
            self.sessions.add(task)
            task.add_done_callback(self.sessions.discard)
        return await handler(request)

    async def on_shutdown(self, app: web.Application) -> None:
        # Cancelling a session's handler closes its websocket and tells its TUI process to quit.
        for task in list(self.sessions):
            task.cancel()
        await asyncio.gather(*self.sessions, return_exceptions=True)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.extend([self.guard.middleware, self.track_sessions])
        app.router.add_get("/metrics", self.handle_metrics)
        return app

    async def handle_metrics(self, request: web.Request) -> web.Response:
        # Reading a big run's files takes a while on the first scrape: keep the event loop free.
        body = await asyncio.get_running_loop().run_in_executor(None, self.metrics.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # URLs from the request's own Host: a server bound to 0.0.0.0 has no single public URL.
        base = f"{request.scheme}://{request.host}"
        ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
        return {"font_size": to_int(request.query.get("fontsize", "16"), 16), "app_websocket_url": ws,
                "config": {"static": {"url": f"{base}/static/"}}, "application": {"name": self.title}}

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a logo and the served command here; `serve()` prints one line instead."""

    async def _serve(self, ready: Callable[[str], None]) -> None:
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.bound_port = runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        ready(f"http://{host}:{self.bound_port}/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()  # closes the websockets: each session's app is told to quit

    def serve_until_signal(self, ready: Callable[[str], None]) -> None:
        """Serve until SIGINT or SIGTERM; `ready(url)` is called once the port is bound."""
        asyncio.run(self._serve(ready))
