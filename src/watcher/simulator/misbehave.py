"""Ways real servers break a client, as the simulator's fault modes (tests and benches force them).

Each is what a real server does, not a shortcut: a web server's HTML page with 200 (a wrong port),
JSON cut off mid-body, `{}`, a 404 naming an unknown model, a refused key, a server that accepts the
request and never answers, and one that drips its body a byte at a time so no read ever times out.
"""

from __future__ import annotations

import json
from typing import Any

MISBEHAVIOURS = ("html", "cut_json", "empty_json", "404", "401", "hang", "drip")

_HTML = (b"<!DOCTYPE html>\n<html><head><title>Welcome</title><style>body{font:14px sans-serif}</style>"
         b"</head><body><h1>It works!</h1>\n<p>This is the default page of a web server.</p>"
         b"<script>var x = 1;</script></body></html>\n")


def _raw(handler: Any, status: int, ctype: str, data: bytes, length: int | None = None) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data) if length is None else length))
    handler.end_headers()
    try:
        handler.wfile.write(data)
        handler.wfile.flush()
    except OSError:
        handler.close_connection = True


def misbehave(handler: Any, fault: str, body: dict[str, Any], protocol: str, reply: dict[str, Any] | None) -> None:
    """Answer the request with `fault`. `reply` is a well-formed answer that cut_json and drip send
    (in part)."""
    from watcher.simulator.protocols import error_body

    sim = handler.server.sim
    model = str(body.get("model", "?"))
    if fault == "html":
        _raw(handler, 200, "text/html; charset=utf-8", _HTML)
    elif fault == "empty_json":
        _raw(handler, 200, "application/json", b"{}")
    elif fault == "cut_json":
        data = json.dumps(reply or {}).encode()
        # Content-Length matches what is sent: the body is complete on the wire but not valid JSON.
        _raw(handler, 200, "application/json", data[: max(1, len(data) // 2)])
    elif fault == "404":
        msg = (f"model: {model}" if protocol == "anthropic"
               else f"The model `{model}` does not exist or you do not have access to it.")
        data = json.dumps(error_body(protocol, 404, msg)).encode()
        _raw(handler, 404, "application/json", data)
    elif fault == "401":
        data = json.dumps(error_body(protocol, 401, "invalid x-api-key" if protocol == "anthropic"
                                     else "Incorrect API key provided.")).encode()
        _raw(handler, 401, "application/json", data)
    elif fault == "hang":
        sim._sleep(3600.0)  # until the server stops
        handler.close_connection = True
    elif fault == "drip":
        data = json.dumps(reply or {}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            for i in range(len(data)):
                handler.wfile.write(data[i:i + 1])
                handler.wfile.flush()
                if sim._stop.wait(sim.cfg.drip_s):
                    break
        except OSError:
            pass
        handler.close_connection = True
    else:
        raise ValueError(f"unknown misbehaviour {fault!r}")
