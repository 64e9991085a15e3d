"""A simulated LLM provider on 127.0.0.1 speaking the OpenAI and Anthropic protocols.

Endpoints: `POST /v1/chat/completions` (OpenAI), `POST /v1/messages` (Anthropic), `GET /v1/models`.
Point the official SDKs at it with `base_url=server.base_url_openai` ("http://127.0.0.1:PORT/v1") or
`base_url=server.base_url_anthropic` ("http://127.0.0.1:PORT"; the SDK adds /v1/messages).

This module is the HTTP side: it checks the API key (`Authorization: Bearer K` or `x-api-key: K`),
asks faults.py whether the request gets a fault or a 429 (rpm token bucket, scripted or random
faults, `x-sim-fault` header), answers after a jittered latency, and renders the answer that
dispatch.py picks from the request's `x-watcher-sim` metadata header in the protocol's shape.
Fault words: 500 (server error), 529 (overloaded), 429 (rate limited, Retry-After = cfg.retry_after_s),
slow (sleeps cfg.slow_s before answering), drop (closes the connection with no response),
truncate (cut text, finish_reason length / stop_reason max_tokens), empty (empty text, finish stop).
"""

from __future__ import annotations

import json
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from watcher.providers.base import SIM_META_HEADER
from watcher.providers.quota_headers import quota_headers
from watcher.simulator import batch_routes, protocols
from watcher.simulator.batches import BatchStore
from watcher.simulator.config import SimConfig
from watcher.simulator.dispatch import parse_meta, respond
from watcher.simulator.faults import Faults, retry_headers
from watcher.simulator.misbehave import MISBEHAVIOURS, misbehave
from watcher.simulator.reply import SimReply, SimRequest


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the default backlog of 5 drops SYNs when a worker opens 64 connections
    sim: SimServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are killed reset connections all the time: not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: a worker's log must not fill with access lines

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add ~40 ms each.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.sim._track(self.connection, True)

    def handle_one_request(self) -> None:
        self._quota = None  # a keep-alive connection serves many requests: no quota from the last one
        super().handle_one_request()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, False)

    # -- plumbing ---------------------------------------------------------------------------------
    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_sim_{uuid.uuid4().hex[:16]}")
        headers = {**(headers or {}), **self._quota_headers()}
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    _quota: tuple[int, float] | None = None  # (remaining, full_at) of this request's window check

    def _quota_headers(self) -> dict[str, str]:
        """The request-quota headers real providers send on every answer, 429s included; the reset
        is said when the answer leaves, so a client that waits it out is never early."""
        if self._quota is None:
            return {}
        remaining, full_at = self._quota
        return quota_headers(self._protocol() == protocols.ANTHROPIC, self.server.sim.cfg.window_rpm,
                             remaining, full_at - time.monotonic())

    def _protocol(self) -> str:
        if self.path.rstrip("/").endswith("/messages"):
            return protocols.ANTHROPIC
        if self.path.rstrip("/").endswith("/chat/completions"):
            return protocols.OPENAI
        return protocols.ANTHROPIC if self.headers.get("x-api-key") else protocols.OPENAI

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, protocols.error_body(self._protocol(), status, message), headers)

    def _authorised(self) -> bool:
        want = self.server.sim.cfg.api_key
        auth = self.headers.get("authorization", "")
        got = auth[7:].strip() if auth.lower().startswith("bearer ") else self.headers.get("x-api-key", "")
        return bool(want) and got == want

    def _read_body(self) -> dict[str, Any] | None:
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    # -- endpoints --------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        sim = self.server.sim
        if batch_routes.route(self, "GET"):
            return
        if self.path.split("?")[0].rstrip("/") not in ("/v1/models", "/models"):
            self._error(404, f"no route GET {self.path}")
            return
        if not self._authorised():
            sim._count("401")
            self._error(401, "invalid x-api-key" if self.headers.get("x-api-key") else "Incorrect API key provided")
            return
        now = int(time.time())
        models = ["sim-model", "sim-reasoner", "claude-haiku-4-5", "moonshotai/kimi-k2"]
        data = [{"id": m, "object": "model", "type": "model", "display_name": m, "created": now,
                 "created_at": "2025-01-01T00:00:00Z", "owned_by": "watcher-sim"} for m in models]
        self._send_json(200, {"object": "list", "data": data, "has_more": False,
                              "first_id": models[0], "last_id": models[-1]})

    def do_DELETE(self) -> None:  # noqa: N802 - stdlib name
        if not batch_routes.route(self, "DELETE"):
            self._error(404, f"no route DELETE {self.path}")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        sim = self.server.sim
        if batch_routes.route(self, "POST"):
            return
        route = self.path.split("?")[0].rstrip("/")
        if route not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            self._read_body()
            self._error(404, f"no route POST {self.path}")
            return
        body = self._read_body()
        sim._count("requests")
        if not self._authorised():
            sim._count("401")
            self._error(401, "invalid x-api-key" if self._protocol() == protocols.ANTHROPIC
                        else "Incorrect API key provided. Use the key the simulator was started with.")
            return
        if body is None:
            self._error(400, "request body is not a JSON object")
            return
        sim._remember(route, body, dict(self.headers))
        too_long = protocols.context_error(body, self._protocol(), sim.cfg)
        if too_long is not None:
            sim._count("400")
            self._send_json(400, too_long)
            return
        fault = sim.faults.pick(self.headers.get("x-sim-fault"))
        if fault is None:
            wait = sim.faults.take_rpm()
            if wait is not None:
                sim._count("429")
                sim._count("rpm_429")
                self._error(429, f"rate limit of {sim.cfg.rpm} requests per minute exceeded",
                            retry_headers(wait))
                return
            wait, remaining, full_at = sim.faults.take_window()
            if sim.cfg.window_rpm > 0:
                self._quota = (remaining, full_at)
            if wait is not None:
                sim._count("429")
                sim._count("window_429")
                self._error(429, f"rate limit of {sim.cfg.window_rpm} requests per {sim.cfg.window_s:g}s "
                            "exceeded", retry_headers(wait))
                return
        if fault == "429":
            sim._count("429")
            self._error(429, "rate limited (simulated)", retry_headers(sim.cfg.retry_after_s))
            return
        if fault is not None:
            sim._count("faults")
            sim._count(f"fault_{fault}")
        if fault == "slow":
            sim._sleep(sim.cfg.slow_s)
        else:
            sim._sleep(sim._latency())
        if fault == "drop":
            # Close without a byte of response: clients see a dropped connection.
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "500":
            self._error(500, "internal server error (simulated)")
            return
        if fault == "529":
            self._error(529, "Overloaded (simulated)")
            return
        meta = parse_meta(self.headers.get(SIM_META_HEADER))
        content_fault = None if fault in MISBEHAVIOURS else fault
        if route == "/v1/messages":
            req = protocols.anthropic_request(body, meta)
            out = protocols.anthropic_reply(body, req, sim._answer(req), content_fault, sim.cfg, sim._next_id)
        else:
            req = protocols.openai_request(body, meta)
            out = protocols.openai_reply(body, req, sim._answer(req), content_fault, sim.cfg, sim._next_id)
        if fault in MISBEHAVIOURS:
            misbehave(self, fault, body, self._protocol(), out)
            return
        self._send_json(200, out)
        sim._count("ok")


class SimServer:
    """The simulator in a background thread. `start()` binds (port 0 = a free port); use as a context manager."""

    def __init__(self, cfg: SimConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> None:
        self.cfg = cfg or SimConfig()
        self.host = host
        self._want_port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._rng = random.Random(self.cfg.seed)
        self._counts: Counter[str] = Counter()
        self.faults = Faults(self.cfg, self._rng, self._lock)
        self._conns: set[socket.socket] = set()
        self._seq = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)  # last request bodies, for tests
        self.batches = BatchStore(self.cfg, self._rng, self._lock)  # the batch APIs' state (batches.py)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> SimServer:
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self._want_port), _Handler)
        httpd.sim = self
        self._httpd = httpd
        self._stop.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"watcher-sim:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stop.set()  # wakes handlers sleeping in latency or a "slow" fault
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:  # unblock keep-alive handlers waiting for the next request
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._want_port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url_openai(self) -> str:
        return f"{self.url}/v1"

    @property
    def base_url_anthropic(self) -> str:
        return self.url

    # -- test hooks --------------------------------------------------------------------------------
    def script_faults(self, faults: list[str | None]) -> None:
        """Queue faults for the next completion requests, in order (None or "ok" = answer normally)."""
        self.faults.script(faults)

    def script_batches(self, scripts: list[dict[str, Any]]) -> None:
        """Per-batch outcomes for the next batches created (batches.py: errored, expired, malformed, expire)."""
        self.batches.script(scripts)

    def submissions(self) -> dict[str, int]:
        """custom_id -> how many times a batch carried it: exactly-once tests assert every value is 1."""
        with self._lock:
            return dict(self.batches.submissions)

    def stats(self) -> dict[str, Any]:
        """Counters: requests, ok, 401, 429 (rpm_429 of them from the rpm limit), faults, fault_<word>."""
        with self._lock:
            c = dict(self._counts)
        out: dict[str, Any] = {"requests": 0, "ok": 0, "401": 0, "429": 0, "rpm_429": 0, "faults": 0}
        out.update(c)
        return out

    @property
    def requests(self) -> int:
        return self.stats()["requests"]

    def reset_stats(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- internals (called from handler threads) ---------------------------------------------------
    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _remember(self, route: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.recent.append({"route": route, "body": body,
                                "headers": {k.lower(): v for k, v in headers.items()
                                            if k.lower() not in ("authorization", "x-api-key")}})

    def _latency(self) -> float:
        with self._lock:
            j = self._rng.uniform(1 - self.cfg.jitter, 1 + self.cfg.jitter)
        return max(0.0, self.cfg.latency_s * j)

    def _sleep(self, s: float) -> None:
        if s > 0:
            self._stop.wait(s)

    def _answer(self, req: SimRequest) -> SimReply:
        with self._lock:
            # A per-request rng drawn under the lock keeps replies reproducible for a seed and thread-safe.
            rng = random.Random(self._rng.random())
            self._seq += 1
        return respond(req, rng, self.cfg)

    def _next_id(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq


def serve_until_stopped(cfg: SimConfig, port: int) -> int:
    """`watcher sim`: serve on 127.0.0.1:port until Ctrl-C or SIGTERM, then print the counters."""
    server = SimServer(cfg, port=port)
    try:
        server.start()
    except OSError as e:
        print(f"watcher sim: cannot listen on 127.0.0.1:{server.port}: {e.strerror or e}; "
              "fix: pass --port with a free port (or 0 for any)", file=sys.stderr)
        return 2
    faults = ", ".join(f"{f}={r:g}" for f, r in cfg.fault_rates() if r) or "none"
    print(f"watcher sim: listening on {server.url}")
    print(f"  OpenAI protocol    base_url = {server.base_url_openai}")
    print(f"  Anthropic protocol base_url = {server.base_url_anthropic}")
    print(f"  api key {cfg.api_key!r} · latency {cfg.latency_s:g}s · rpm {cfg.rpm or 'unlimited'} · "
          f"defect rate {cfg.defect_rate:g} · faults {faults}")
    print("  Ctrl-C to stop", flush=True)

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C even when started with SIGINT ignored (background jobs), and a clean exit on SIGTERM.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    s = server.stats()
    print(f"\nwatcher sim: {s['requests']} requests, {s['ok']} ok, {s['429']} answered 429, "
          f"{s['faults']} faults, {s['401']} refused keys")
    return 0
