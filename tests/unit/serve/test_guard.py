"""The serve token guard, against a small aiohttp app (real HTTP on 127.0.0.1)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from watcher.tui.web import COOKIE, Guard, is_loopback

TOKEN = "t0ken-for-unit-tests"


async def ok(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def client(token: str | None) -> TestClient:
    app = web.Application(middlewares=[Guard(token).middleware])
    app.router.add_get("/", ok)
    app.router.add_get("/metrics", ok)
    app.router.add_get("/ws", ok)
    return TestClient(TestServer(app, host="127.0.0.1"))


def test_is_loopback():
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "example.com", ""]))


async def test_token_link_sets_a_cookie_and_drops_the_token():
    async with client(TOKEN) as c:
        assert (await c.get("/")).status == 401
        assert (await c.get("/ws")).status == 401
        assert (await c.get("/?token=nope")).status == 401
        r = await c.get(f"/?token={TOKEN}&fontsize=12", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/?fontsize=12"
        cookie = r.cookies[COOKIE]
        assert TOKEN not in cookie.value and cookie["httponly"] and cookie["samesite"] == "Strict"
        assert (await c.get("/")).status == 200  # the cookie jar now carries it
        assert (await c.get("/ws")).status == 200


async def test_bearer_and_query_token_for_scrapers():
    async with client(TOKEN) as c:
        assert (await c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
        assert (await c.get("/metrics", headers={"Authorization": "Bearer x"})).status == 401
        assert (await c.get(f"/metrics?token={TOKEN}")).status == 200
        assert COOKIE not in (await c.get(f"/metrics?token={TOKEN}")).cookies


async def test_no_token_answers_loopback_hosts_from_same_origin_only():
    async with client(None) as c:
        assert (await c.get("/")).status == 200
        assert (await c.get("/", headers={"Host": "evil.example"})).status == 403
        assert (await c.get("/ws", headers={"Origin": "http://evil.example"})).status == 403
        own = f"http://127.0.0.1:{c.port}"
        assert (await c.get("/ws", headers={"Origin": own})).status == 200
