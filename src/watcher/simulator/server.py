"""A simulated LLM provider on 127.0.0.1 speaking the OpenAI and Anthropic protocols.

Endpoints: `POST /v1/chat/completions` (OpenAI), `POST /v1/messages` (Anthropic), `GET /v1/models`.
Point the official SDKs at it with `base_url=server.base_url_openai` ("http://127.0.0.1:PORT/v1") or
`base_url=server.base_url_anthropic` ("http://127.0.0.1:PORT"; the SDK adds /v1/messages).

It checks the API key (`Authorization: Bearer K` or `x-api-key: K`), enforces `rpm` with a token bucket
(capacity rpm, refill rpm/60 per second; beyond it 429 + Retry-After), answers after a jittered
latency, and injects faults at configured rates.

Forcing faults deterministically (tests, benches), two ways:
  * `server.script_faults(["429", "500", None])`: a queue consumed in order, one entry per completion
    request (None / "ok" = no fault for that request); random faults are not drawn while it is non-empty.
  * request header `x-sim-fault: 500|529|429|slow|drop|truncate|empty`: that fault on every request
    carrying it (e.g. via BackendConfig.extra_headers).
Fault words: 500 (server error), 529 (overloaded), 429 (rate limited, Retry-After = cfg.retry_after_s),
slow (sleeps cfg.slow_s before answering), drop (closes the connection with no response),
truncate (cut text, finish_reason length / stop_reason max_tokens), empty (empty text, finish stop).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from watcher.providers.base import flatten_content
from watcher.simulator.responses import SimReply, respond

FAULTS = ("500", "529", "429", "slow", "drop", "truncate", "empty")
# --fault NAME=RATE on the command line -> SimConfig field
FAULT_FIELDS = {"500": "error_500", "529": "overloaded_529", "429": "error_429", "slow": "slow",
                "drop": "drop", "truncate": "truncate", "empty": "empty"}


@dataclass
class SimConfig:
    api_key: str = "sim-key"
    latency_s: float = 0.05  # mean; each answer takes latency_s * uniform(1 - jitter, 1 + jitter)
    jitter: float = 0.3
    rpm: int = 0  # enforced requests per minute (0 = unlimited)
    defect_rate: float = 0.3  # share of poems made defective (a third of that on a retry with feedback)
    defect_max_score: float = 0.75  # defects are stacked until the verifier scores the poem below this
    error_500: float = 0.0
    overloaded_529: float = 0.0
    error_429: float = 0.0  # random 429s on top of the rpm limit
    slow: float = 0.0
    slow_s: float = 30.0  # how long a "slow" answer sleeps: past the client's timeout
    drop: float = 0.0
    truncate: float = 0.0
    empty: float = 0.0
    retry_after_s: float = 1.0  # Retry-After of a forced/random 429
    seed: int | None = None
    chars_per_token: float = 4.0

    def fault_rates(self) -> list[tuple[str, float]]:
        return [(f, float(getattr(self, FAULT_FIELDS[f]))) for f in FAULTS]


def _tokens(text: str, cpt: float) -> int:
    return int(math.ceil(len(text) / cpt)) if text else 0


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
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _protocol(self) -> str:
        if self.path.rstrip("/").endswith("/messages"):
            return "anthropic"
        if self.path.rstrip("/").endswith("/chat/completions"):
            return "openai"
        return "anthropic" if self.headers.get("x-api-key") else "openai"

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self._protocol() == "anthropic":
            etype = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                     429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
            body: dict[str, Any] = {"type": "error", "error": {"type": etype, "message": message}}
        else:
            etype = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                     429: "requests"}.get(status, "server_error")
            code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
            body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        self._send_json(status, body, headers)

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

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        sim = self.server.sim
        route = self.path.split("?")[0].rstrip("/")
        if route not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            self._read_body()
            self._error(404, f"no route POST {self.path}")
            return
        body = self._read_body()
        sim._count("requests")
        if not self._authorised():
            sim._count("401")
            self._error(401, "invalid x-api-key" if self._protocol() == "anthropic"
                        else "Incorrect API key provided. Use the key the simulator was started with.")
            return
        if body is None:
            self._error(400, "request body is not a JSON object")
            return
        sim._remember(route, body, dict(self.headers))
        fault = sim._pick_fault(self.headers.get("x-sim-fault"))
        if fault is None:
            wait = sim._take_rpm()
            if wait is not None:
                sim._count("429")
                sim._count("rpm_429")
                self._error(429, f"rate limit of {sim.cfg.rpm} requests per minute exceeded",
                            _retry_headers(wait))
                return
        if fault == "429":
            sim._count("429")
            self._error(429, "rate limited (simulated)", _retry_headers(sim.cfg.retry_after_s))
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
        if route == "/v1/messages":
            self._send_json(200, sim._anthropic_reply(body, fault))
        else:
            self._send_json(200, sim._openai_reply(body, fault))
        sim._count("ok")


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, int(math.ceil(seconds)))), "retry-after-ms": str(int(seconds * 1000))}


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
        self._script: deque[str | None] = deque()
        self._conns: set[socket.socket] = set()
        self._seq = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)  # last request bodies, for tests
        rpm = self.cfg.rpm
        self._bucket_tokens = float(rpm)
        self._bucket_t = time.monotonic()

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
        for f in faults:
            f = None if f in (None, "", "ok", "none") else str(f)
            if f is not None and f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; use one of {', '.join(FAULTS)}")
            with self._lock:
                self._script.append(f)

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

    def _pick_fault(self, header: str | None) -> str | None:
        if header:
            h = header.strip().lower()
            return h if h in FAULTS else None
        with self._lock:
            if self._script:
                return self._script.popleft()
            r = self._rng.random()
        acc = 0.0
        for f, rate in self.cfg.fault_rates():
            acc += rate
            if r < acc:
                return f
        return None

    def _take_rpm(self) -> float | None:
        """None when a request may pass the rpm limit, else the seconds until one token is back."""
        rpm = self.cfg.rpm
        if rpm <= 0:
            return None
        rate = rpm / 60.0
        with self._lock:
            now = time.monotonic()
            self._bucket_tokens = min(float(rpm), self._bucket_tokens + (now - self._bucket_t) * rate)
            self._bucket_t = now
            if self._bucket_tokens >= 1.0:
                self._bucket_tokens -= 1.0
                return None
            return (1.0 - self._bucket_tokens) / rate

    def _latency(self) -> float:
        with self._lock:
            j = self._rng.uniform(1 - self.cfg.jitter, 1 + self.cfg.jitter)
        return max(0.0, self.cfg.latency_s * j)

    def _sleep(self, s: float) -> None:
        if s > 0:
            self._stop.wait(s)

    def _reply(self, system: str | None, messages: list[dict[str, Any]], model: str,
               tools: list[dict[str, Any]] | None) -> SimReply:
        with self._lock:
            # A per-request rng drawn under the lock keeps replies reproducible for a seed and thread-safe.
            rng = random.Random(self._rng.random())
            self._seq += 1
        return respond(system, messages, model, rng, self.cfg, tools=tools)

    def _next_id(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    @staticmethod
    def _wants_think_tag(system: str | None) -> bool:
        return bool(system) and "<think>" in system

    def _cut(self, text: str, max_tokens: int, fault: str | None) -> tuple[str, bool]:
        """(text, truncated): the truncate fault cuts about half; a too-small max_tokens cuts to fit."""
        cpt = self.cfg.chars_per_token
        if fault == "truncate":
            keep = max(1, len(text) // 2)
            return text[:keep].rsplit(" ", 1)[0] if " " in text[:keep] else text[:keep], True
        if max_tokens > 0 and _tokens(text, cpt) > max_tokens:
            return text[: int(max_tokens * cpt)], True
        return text, False

    def _openai_reply(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        model = str(body.get("model") or "sim-model")
        msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        system = "\n\n".join(flatten_content(m.get("content")) for m in msgs if m.get("role") in ("system", "developer"))
        convo = [m for m in msgs if m.get("role") not in ("system", "developer")]
        tools = body.get("tools")
        reply = self._reply(system or None, convo, model, tools)
        native = ("reason" in model.lower() or bool(body.get("reasoning_effort"))
                  or isinstance(body.get("reasoning"), dict))
        max_tokens = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
        cpt = self.cfg.chars_per_token
        text = "" if fault == "empty" else reply.text
        reasoning = reply.reasoning if native else None
        if not native and self._wants_think_tag(system) and text:
            text = f"<think>\n{reply.reasoning}\n</think>\n\n{text}"
        budget = max_tokens - _tokens(reasoning or "", cpt) if max_tokens else 0
        text, truncated = self._cut(text, max(1, budget) if max_tokens else 0, fault)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reasoning:
            message["reasoning_content"] = reasoning
        finish = "length" if truncated else "stop"
        if reply.tool_calls and not truncated and fault != "empty":
            message["tool_calls"] = [{"id": tc.get("id") or f"call_sim_{self._next_id()}", "type": "function",
                                      "function": {"name": tc["name"], "arguments": json.dumps(tc.get("arguments", {}))}}
                                     for tc in reply.tool_calls]
            finish = "tool_calls"
        prompt_text = "\n".join(flatten_content(m.get("content")) for m in msgs)
        out_tokens = _tokens(text, cpt) + _tokens(reasoning or "", cpt)
        usage: dict[str, Any] = {"prompt_tokens": _tokens(prompt_text, cpt), "completion_tokens": out_tokens,
                                 "total_tokens": _tokens(prompt_text, cpt) + out_tokens}
        if reasoning:
            usage["completion_tokens_details"] = {"reasoning_tokens": _tokens(reasoning, cpt)}
        return {"id": f"chatcmpl-sim-{self._next_id()}", "object": "chat.completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish,
                                             "logprobs": None}],
                "usage": usage, "system_fingerprint": "watcher-sim"}

    def _anthropic_reply(self, body: dict[str, Any], fault: str | None) -> dict[str, Any]:
        model = str(body.get("model") or "sim-model")
        system = flatten_content(body.get("system")) or None
        msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        tools = body.get("tools")
        reply = self._reply(system, msgs, model, tools)
        thinking = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
        native = thinking.get("type") in ("enabled", "adaptive")
        max_tokens = int(body.get("max_tokens") or 0)
        cpt = self.cfg.chars_per_token
        text = "" if fault == "empty" else reply.text
        if not native and self._wants_think_tag(system) and text:
            text = f"<think>\n{reply.reasoning}\n</think>\n\n{text}"
        content: list[dict[str, Any]] = []
        used = 0
        if native:
            content.append({"type": "thinking", "thinking": reply.reasoning,
                            "signature": f"sim-sig-{uuid.uuid4().hex}"})
            used = _tokens(reply.reasoning, cpt)
        text, truncated = self._cut(text, max(1, max_tokens - used) if max_tokens else 0, fault)
        if text:
            content.append({"type": "text", "text": text})
        stop = "max_tokens" if truncated else "end_turn"
        if reply.tool_calls and not truncated and fault != "empty":
            for tc in reply.tool_calls:
                content.append({"type": "tool_use", "id": tc.get("id") or f"toolu_sim_{self._next_id()}",
                                "name": tc["name"], "input": tc.get("arguments", {})})
            stop = "tool_use"
        prompt_text = "\n".join([system or "", *(flatten_content(m.get("content")) for m in msgs)])
        return {"id": f"msg_sim_{self._next_id()}", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": _tokens(prompt_text, cpt), "output_tokens": used + _tokens(text, cpt)}}


def parse_fault_args(items: list[str]) -> dict[str, float]:
    """["500=0.05", "drop=0.02"] -> {"error_500": 0.05, "drop": 0.02}; a clear error otherwise."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, rate = item.partition("=")
        name = name.strip().lower()
        if not sep or name not in FAULT_FIELDS:
            raise ValueError(f"--fault {item!r}: use NAME=RATE with NAME one of {', '.join(FAULTS)}")
        try:
            r = float(rate)
        except ValueError:
            raise ValueError(f"--fault {item!r}: RATE must be a number between 0 and 1") from None
        if not 0 <= r <= 1:
            raise ValueError(f"--fault {item!r}: RATE must be between 0 and 1")
        out[FAULT_FIELDS[name]] = r
    return out


def run_sim_cli(args: argparse.Namespace) -> int:
    """`watcher sim`: serve until Ctrl-C, then print the counters."""
    kw: dict[str, Any] = {}
    if getattr(args, "latency", None) is not None:
        kw["latency_s"] = args.latency
    if getattr(args, "rpm", None) is not None:
        kw["rpm"] = args.rpm
    if getattr(args, "defect_rate", None) is not None:
        kw["defect_rate"] = args.defect_rate
    if getattr(args, "api_key", None):
        kw["api_key"] = args.api_key
    try:
        kw.update(parse_fault_args(list(getattr(args, "fault", None) or [])))
    except ValueError as e:
        print(f"watcher sim: {e}", file=sys.stderr)
        return 2
    cfg = SimConfig(**kw)
    server = SimServer(cfg, port=int(getattr(args, "port", 0) or 0))
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
