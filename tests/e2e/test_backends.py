"""Misbehaving loopback servers, one per failure class, through `watcher --headless` as a user runs it.

Each run must end by itself within BOUND_S with exit 3, name the URL, print no traceback; the same
command against a healthy server on the same port then finishes every item, none twice.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomli_w
from helpers import assert_each_item_once, free_port, read_lines

from watcher.run.paths import RunPaths
from watcher.simulator.config import SimConfig
from watcher.simulator.server import SimServer

pytestmark = pytest.mark.slow

KEY = "sim-key"
# Deterministic classes end after 3 calls; transient ones after timeout_s (2) per call until the
# breaker opens, then give_up_after_s (3) of probing: ~10 s, plus process start-up on a busy machine.
BOUND_S = 45.0



def write_config(tmp: Path, port: int, kind: str = "openai", num: int = 4, **poetry: str) -> Path:
    base = f"http://127.0.0.1:{port}" + ("/v1" if kind == "openai" else "")
    data = {
        "job": "poetry", "name": "t", "max_attempts": 3, "runs_dir": str(tmp / "runs"), "stop_grace_s": 2.0,
        "poetry": {"forms": ["Haiku"], "num": num, **poetry},
        "backends": {"local": {
            "kind": kind, "model": "sim-model", "base_url": base, "api_key_env": "E2E_SIM_KEY", "simulated": True,
            "timeout_s": 2.0, "connect_timeout_s": 1.0, "concurrency": 2, "max_retries": 1,
            "give_up_after_s": 3.0, "max_tokens": 800, "price_in": 1.0, "price_out": 5.0}},
    }
    p = tmp / "cfg.toml"
    p.write_text(tomli_w.dumps(data))
    return p


def run_cli(cfg: Path, cwd: Path, timeout: float = 120) -> tuple[int, str, float]:
    env = {**os.environ, "E2E_SIM_KEY": KEY}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg), "--run", "r"],
                       capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def sim(port: int, **kw) -> SimServer:
    return SimServer(SimConfig(api_key=KEY, latency_s=0.02, defect_rate=0.0, seed=3, drip_s=0.3, **kw),
                     port=port).start()


def check_then_heal(tmp: Path, port: int, kind: str, fault: str | None, url_path: str) -> None:
    cfg = write_config(tmp, port, kind)
    server = sim(port, force=fault) if fault else None
    try:
        code, out, took = run_cli(cfg, tmp)
    finally:
        if server:
            server.stop()
    assert code == 3, out
    assert took < BOUND_S, (took, out)
    assert f"http://127.0.0.1:{port}{url_path}" in out, out
    assert "Traceback" not in out and "pending" in out.splitlines()[-1]
    assert "run the same command to continue" in out.splitlines()[-1]
    paths = RunPaths(tmp / "runs" / "r")
    assert read_lines(paths.rejects) == []  # transport and protocol trouble never rejects an item
    with sim(port):
        code, out, _ = run_cli(cfg, tmp)
    assert code == 0, out
    assert out.splitlines()[-1].startswith("watcher: done · every item ended"), out
    acc, rej = assert_each_item_once(tmp / "runs" / "r")
    assert len(acc) + len(rej) == 4


@pytest.mark.parametrize("fault", ["html", "cut_json", "empty_json", "404", "401", "hang", "drip"])
def test_misbehaving_openai_server_then_healthy(tmp_path, fault):
    check_then_heal(tmp_path, free_port(), "openai", fault, "/v1/chat/completions")


def test_connection_refused_then_healthy(tmp_path):
    check_then_heal(tmp_path, free_port(), "openai", None, "/v1/chat/completions")


@pytest.mark.parametrize("fault", ["404", "html"])
def test_misbehaving_anthropic_server_then_healthy(tmp_path, fault):
    check_then_heal(tmp_path, free_port(), "anthropic", fault, "/v1/messages")


def test_a_plain_web_server_on_the_port_then_healthy(tmp_path):
    """A wrong port where Python's own http.server listens: it answers POST with 501 and an HTML
    page. That is a wrong address, not an outage: the backend is down at once, not after give-up."""
    port = free_port()
    web = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    cfg = write_config(tmp_path, port, "openai")
    try:
        code, out, took = run_cli(cfg, tmp_path)
    finally:
        web.shutdown()
        web.server_close()
    assert code == 3, out
    assert took < BOUND_S, (took, out)
    assert f"not_found 501 http://127.0.0.1:{port}/v1/chat/completions: " in out, out
    assert "<" not in out and "Traceback" not in out
    with sim(port):
        code, out, _ = run_cli(cfg, tmp_path)
    assert code == 0, out
    acc, rej = assert_each_item_once(tmp_path / "runs" / "r")
    assert len(acc) + len(rej) == 4


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_one_over_long_prompt_is_rejected_as_bad_request_while_the_rest_succeed(tmp_path, kind):
    # Six items over these topics draw the long one exactly once (topics come from each item's seed).
    long_topic = "the sea " * 1000  # ~2,000 tokens at the simulator's 4 characters a token
    topics = tmp_path / "topics.txt"
    topics.write_text("\n".join(["rain", "the harbour", "a lantern", "old maps", "snow", long_topic.strip()]) + "\n")
    port = free_port()
    cfg = write_config(tmp_path, port, kind, num=6, topics_file=str(topics))
    with sim(port, context_tokens=1000):
        code, out, _ = run_cli(cfg, tmp_path)
    assert code == 0, out
    assert out.splitlines()[-1].startswith("watcher: done · every item ended · 5 accepted, 1 rejected"), out
    acc, rej = assert_each_item_once(tmp_path / "runs" / "r")
    assert len(acc) == 5 and all("the sea" not in a["prompt"] for a in acc)
    (r,) = rej
    assert r["reason"] == "bad_request" and "the sea" in r["prompt"]
    want = "prompt is too long" if kind == "anthropic" else "maximum context length is 1000 tokens"
    assert want in r["error"] and "400" in r["error"], r["error"]


def test_graceful_stop_against_a_hung_server(tmp_path):
    """First Ctrl-C: no new attempt, in-flight calls get stop_grace_s (2), then the run exits; the
    in-flight items stay pending and a resume completes them."""
    port = free_port()
    cfg = write_config(tmp_path, port, "openai")
    data = cfg.read_text().replace("timeout_s = 2.0", "timeout_s = 60.0")
    cfg.write_text(data)
    env = {**os.environ, "E2E_SIM_KEY": KEY}
    with sim(port, force="hang") as server:
        p = subprocess.Popen([sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg),
                              "--run", "r"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env, cwd=tmp_path)
        deadline = time.monotonic() + 30
        while server.requests < 2 and time.monotonic() < deadline:  # both calls in flight, hanging
            time.sleep(0.05)
        assert server.requests >= 2
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=30)
        took = time.monotonic() - t0
        asked = server.requests
    assert took < 2.0 + 5.0, (took, out)
    assert p.returncode == 130, out
    assert asked == 2  # no new attempt after the stop
    assert "Traceback" not in out and "4 pending" in out.splitlines()[-1], out
    with sim(port):
        code, out, _ = run_cli(cfg, tmp_path)
    assert code == 0, out
    acc, rej = assert_each_item_once(tmp_path / "runs" / "r")
    assert len(acc) + len(rej) == 4


def test_unexpected_exception_in_an_item_is_a_worker_crash_not_done(tmp_path):
    """A write that fails while appending (a file-size limit: EFBIG, as a full disk gives ENOSPC):
    the worker exits 1 with the traceback in its log, never reports done, and writes nothing."""
    import json
    import resource

    from helpers import make_run, sim_config_dict, worker_cmd, write_layout

    def limit_file_size() -> None:
        # Heartbeats (< 1 kB) still fit; an accepted record (several kB with its traces) does not.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    with sim(free_port()) as server:
        data = sim_config_dict(server, forms=["Haiku"], num=2, backend="claude")
        run_dir = make_run(tmp_path, data)
        write_layout(run_dir, backends=("claude",))
        p = subprocess.run(worker_cmd(run_dir, 0), env={**os.environ, "WATCHER_SIM_KEY": KEY},
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                           preexec_fn=limit_file_size)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "crashed" in out and "Traceback" in out and "File too large" in out
    hb = json.loads((run_dir / "workers" / "0.json").read_text())
    assert hb["state"] == "crashed"
