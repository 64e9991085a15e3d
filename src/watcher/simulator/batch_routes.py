"""The HTTP routes of the simulator's batch APIs (batches.py keeps the batches; server.py calls `route`)."""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watcher.simulator import protocols
from watcher.simulator.batches import (
    ANTHROPIC,
    OPENAI,
    OPENROUTER,
    RESULTS_PAGE,
    SIM_META_FIELD,
    SimBatch,
    anthropic_batch,
    anthropic_result_line,
    openai_batch,
    openai_result_line,
    openrouter_batch,
)


def _meta(params: dict[str, Any]) -> dict[str, Any]:
    m = params.get(SIM_META_FIELD)
    return m if isinstance(m, dict) else {}


def _answer(sim: Any, b: SimBatch, r: dict[str, Any], final: str, n: int) -> dict[str, Any]:
    cid = str(r.get("custom_id"))
    if b.protocol == ANTHROPIC:
        params = dict(r.get("params") or {})
        msg = None
        if final == "succeeded":
            req = protocols.anthropic_request(params, _meta(params))
            msg = protocols.anthropic_reply(params, req, sim._answer(req), None, sim.cfg, sim._next_id)
        return anthropic_result_line(cid, final, msg)
    body = dict(r.get("body") or {})
    out = None
    if final == "succeeded":
        req = protocols.openai_request(body, _meta(body))
        out = protocols.openai_reply(body, req, sim._answer(req), None, sim.cfg, sim._next_id)
    return openai_result_line(cid, final, out, n)


def _lines(sim: Any, b: SimBatch) -> list[bytes]:
    counter = iter(range(1, 1 << 30))
    return sim.batches.results(b, lambda r, final: _answer(sim, b, r, final, next(counter)))


def _openai_files(sim: Any, b: SimBatch) -> None:
    """Output and error files of an ended OpenAI batch: successes in one, the rest in the other."""
    if b.output_file_id is not None or b.error_file_id is not None:
        return
    ok, bad = [], []
    for r, line in zip(b.requests, _lines(sim, b), strict=True):
        (ok if b.final(str(r.get("custom_id"))) == "succeeded" else bad).append(line + b"\n")
    if ok:
        b.output_file_id = sim.batches.add_file(b"".join(ok))
    if bad:
        b.error_file_id = sim.batches.add_file(b"".join(bad))


def _multipart_file(handler: Any, raw: bytes) -> bytes | None:
    ctype = handler.headers.get("content-type", "")
    msg = message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw, policy=HTTP)
    if not msg.is_multipart():
        return None
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True)
    return None


def route(handler: Any, method: str) -> bool:
    """Serve a batch route; False when the path is not one (the caller answers it)."""
    path = urlsplit(handler.path)
    parts = [p for p in path.path.split("/") if p]
    if parts[:1] == ["v1"]:
        parts = parts[1:]
    if parts[:2] == ["messages", "batches"]:
        rest, kind = parts[2:], ANTHROPIC
    elif parts[:1] == ["batches"]:
        rest, kind = parts[1:], OPENAI
    elif parts[:1] == ["files"]:
        rest, kind = parts[1:], "files"
    else:
        return False
    sim = handler.server.sim
    raw = handler.rfile.read(int(handler.headers.get("content-length") or 0)) if method in ("POST", "DELETE") else b""
    sim._count("batch_calls")
    if not handler._authorised():
        sim._count("401")
        handler._send_json(401, protocols.error_body(protocols.ANTHROPIC if kind == ANTHROPIC else protocols.OPENAI,
                                                     401, "invalid API key"))
        return True
    query = parse_qs(path.query)
    if kind == "files":
        _files(handler, sim, method, rest, raw)
    elif kind == ANTHROPIC:
        _anthropic(handler, sim, method, rest, raw, query)
    else:
        _openai(handler, sim, method, rest, raw, query)
    return True


def _not_found(handler: Any, proto: str, what: str) -> None:
    handler._send_json(404, protocols.error_body(proto, 404, f"{what} not found"))


def _body(handler: Any, raw: bytes, proto: str) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        handler._send_json(400, protocols.error_body(proto, 400, "request body is not a JSON object"))
        return None
    return body


def _hold(sim: Any) -> None:
    # The batch exists now; the answer waits (a client killed meanwhile submitted without hearing back).
    if sim.cfg.batch_hold_s > 0:
        sim._sleep(sim.cfg.batch_hold_s)


def _anthropic(handler: Any, sim: Any, method: str, rest: list[str], raw: bytes, query: dict) -> None:
    now = time.time()
    base = sim.url
    if method == "POST" and not rest:
        body = _body(handler, raw, ANTHROPIC)
        if body is None:
            return
        reqs = body.get("requests")
        if not isinstance(reqs, list) or not reqs:
            handler._send_json(400, protocols.error_body(ANTHROPIC, 400, "requests: a non-empty list is required"))
            return
        b = sim.batches.create(ANTHROPIC, reqs)
        sim._count("batches_created")
        _hold(sim)
        handler._send_json(200, anthropic_batch(b, base, time.time()))
        return
    if method == "GET" and not rest:
        items = sim.batches.listing((ANTHROPIC,))
        after = (query.get("after_id") or [None])[0]
        if after:
            ids = [b.id for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int((query.get("limit") or ["20"])[0])
        page = items[:limit]
        handler._send_json(200, {"data": [anthropic_batch(b, base, now) for b in page],
                                 "has_more": len(items) > limit, "first_id": page[0].id if page else None,
                                 "last_id": page[-1].id if page else None})
        return
    b = sim.batches.get(rest[0], ANTHROPIC) if rest else None
    if b is None:
        _not_found(handler, ANTHROPIC, f"message batch {rest[0] if rest else ''}")
        return
    if method == "GET" and len(rest) == 1:
        handler._send_json(200, anthropic_batch(b, base, now))
    elif method == "GET" and rest[1:] == ["results"]:
        if not b.ended(now):
            handler._send_json(400, protocols.error_body(ANTHROPIC, 400, f"batch {b.id} has not ended yet"))
            return
        data = b"".join(line + b"\n" for line in _lines(sim, b))
        _send_bytes(handler, data, "application/binary")
    elif method == "POST" and rest[1:] == ["cancel"]:
        sim.batches.cancel(b)
        handler._send_json(200, anthropic_batch(b, base, time.time()))
    else:
        _not_found(handler, ANTHROPIC, f"route {method} {handler.path}")


def _openai(handler: Any, sim: Any, method: str, rest: list[str], raw: bytes, query: dict) -> None:
    now = time.time()
    if method == "POST" and not rest:
        body = _body(handler, raw, OPENAI)
        if body is None:
            return
        if isinstance(body.get("requests"), list):  # OpenRouter: the requests inline
            reqs = body["requests"]
            if not reqs:
                handler._send_json(400, protocols.error_body(OPENAI, 400, "requests must not be empty"))
                return
            b = sim.batches.create(OPENROUTER, reqs, body.get("metadata"), str(body.get("model") or ""))
            sim._count("batches_created")
            _hold(sim)
            handler._send_json(202, openrouter_batch(b, time.time()))
            return
        data = sim.batches.files.get(str(body.get("input_file_id")))
        if data is None:
            _not_found(handler, OPENAI, f"file {body.get('input_file_id')}")
            return
        try:
            reqs = [json.loads(x) for x in data.splitlines() if x.strip()]
        except json.JSONDecodeError:
            handler._send_json(400, protocols.error_body(OPENAI, 400, "input file is not JSONL"))
            return
        b = sim.batches.create(OPENAI, reqs, body.get("metadata"), input_file_id=str(body["input_file_id"]))
        sim._count("batches_created")
        _hold(sim)
        handler._send_json(200, openai_batch(b, time.time()))
        return
    if method == "GET" and not rest:
        items = sim.batches.listing((OPENAI, OPENROUTER))
        after = (query.get("after") or [None])[0]
        if after:
            ids = [b.id for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int((query.get("limit") or ["20"])[0])
        page = items[:limit]
        handler._send_json(200, {"object": "list", "data": [_view(sim, b, now) for b in page],
                                 "first_id": page[0].id if page else None,
                                 "last_id": page[-1].id if page else None, "has_more": len(items) > limit})
        return
    b = sim.batches.get(rest[0], OPENAI) if rest else None
    if b is None:
        _not_found(handler, OPENAI, f"batch {rest[0] if rest else ''}")
        return
    if method == "GET" and len(rest) == 1:
        handler._send_json(200, _view(sim, b, now))
    elif method == "GET" and rest[1:] == ["results"] and b.protocol == OPENROUTER:
        if not b.ended(now):
            handler._send_json(400, protocols.error_body(OPENAI, 400, f"batch {b.id} has not finished"))
            return
        lines = _lines(sim, b)
        start = int((query.get("cursor") or ["0"])[0] or 0)
        page = lines[start:start + RESULTS_PAGE]
        nxt = start + RESULTS_PAGE if start + RESULTS_PAGE < len(lines) else None
        # A page is JSON, so a malformed line is sent as the raw text it is (what a broken store holds).
        data = b'{"data":[' + b",".join(x if _is_json(x) else json.dumps(x.decode()).encode() for x in page) + b"]"
        data += b',"next_cursor":' + (json.dumps(str(nxt)).encode() if nxt is not None else b"null") + b"}"
        _send_bytes(handler, data, "application/json")
    elif (method == "POST" and rest[1:] == ["cancel"]) or (method == "DELETE" and len(rest) == 1):
        sim.batches.cancel(b)
        handler._send_json(200, _view(sim, b, time.time()))
    else:
        _not_found(handler, OPENAI, f"route {method} {handler.path}")


def _is_json(x: bytes) -> bool:
    try:
        json.loads(x)
    except json.JSONDecodeError:
        return False
    return True


def _view(sim: Any, b: SimBatch, now: float) -> dict[str, Any]:
    if b.protocol == OPENROUTER:
        return openrouter_batch(b, now)
    if b.ended(now):
        _openai_files(sim, b)
    return openai_batch(b, now)


def _files(handler: Any, sim: Any, method: str, rest: list[str], raw: bytes) -> None:
    if method == "POST" and not rest:
        data = _multipart_file(handler, raw)
        if data is None:
            handler._send_json(400, protocols.error_body(OPENAI, 400, "a multipart body with a `file` part is required"))
            return
        fid = sim.batches.add_file(data)
        handler._send_json(200, {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                 "filename": "batch.jsonl", "purpose": "batch", "status": "processed",
                                 "expires_at": None, "status_details": None})
        return
    data = sim.batches.files.get(rest[0]) if rest else None
    if data is None:
        _not_found(handler, OPENAI, f"file {rest[0] if rest else ''}")
    elif method == "GET" and rest[1:] == ["content"]:
        _send_bytes(handler, data, "application/octet-stream")
    else:
        _not_found(handler, OPENAI, f"route {method} {handler.path}")


def _send_bytes(handler: Any, data: bytes, ctype: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    try:
        handler.wfile.write(data)
    except OSError:
        handler.close_connection = True
