"""A real LiteLLM proxy speaking Anthropic's `/v1/messages`, in front of a real mlx_lm.server on the
tiny offline model, as a `kind = "anthropic"` backend (the official anthropic SDK).

LiteLLM lives in its own venv (its pins clash with the project's): `.ci/litellm-venv` installs it and
prints its `litellm`, which the tests find in WATCHER_LITELLM (else on PATH). Without it they skip,
except under CI=true, where they fail: CI must not pass by skipping them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import tomli_w
from helpers import assert_each_item_once, free_port, read_lines, stop_process, wait_ready

from watcher.errors import EXIT_OK, EXIT_RUN_FAILED
from watcher.run.paths import RunPaths

pytestmark = pytest.mark.slow

KEY_ENV = "WATCHER_PROXY_KEY"
MODEL = "tiny"  # the name the proxy serves; it routes to the mlx_lm.server's default model
MAX_TOKENS = 24


def litellm_exe() -> str | None:
    exe = os.environ.get("WATCHER_LITELLM") or shutil.which("litellm")
    return exe if exe and os.access(exe, os.X_OK) else None


@pytest.fixture(scope="module")
def proxy(request, tmp_path_factory):
    exe = litellm_exe()
    if exe is None:
        why = "no litellm executable: set WATCHER_LITELLM=$(bash .ci/litellm-venv)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(why)
        pytest.skip(why)
    upstream, _ = request.getfixturevalue("mlx_server")
    d = tmp_path_factory.mktemp("litellm")
    # `hosted_vllm/`: LiteLLM sends /v1/messages on as chat completions (`openai/` would use the
    # Responses API, which mlx_lm.server lacks). JSON is YAML, so no YAML writer is needed.
    (d / "config.yaml").write_text(json.dumps({"model_list": [
        {"model_name": MODEL, "litellm_params": {"model": "hosted_vllm/default_model", "api_base": upstream}},
    ]}))
    key = f"sk-{secrets.token_hex(16)}"
    env = {**os.environ, "LITELLM_MASTER_KEY": key, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    port = free_port()
    log = d / "proxy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, "--config", str(d / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)],
                                cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health/liveliness", proc, "the LiteLLM proxy")
    yield SimpleNamespace(url=url, key=key, log=log)
    stop_process(proc)


def run_job(tmp_path: Path, proxy, key: str) -> tuple[subprocess.CompletedProcess, Path, float]:
    """`watcher --headless` on a 3-haiku job through the proxy, the key in KEY_ENV."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(tomli_w.dumps({
        "job": "poetry", "name": "proxy", "max_attempts": 2, "runs_dir": str(tmp_path / "runs"),
        "request_thinking": False, "poetry": {"forms": ["Haiku"], "num": 3},
        "backends": {"proxy": {"kind": "anthropic", "base_url": proxy.url, "model": MODEL, "api_key_env": KEY_ENV,
                               "max_tokens": MAX_TOKENS, "concurrency": 2, "timeout_s": 60, "price_in": 1.0,
                               "price_out": 2.0}},
    }))
    env = {**os.environ, KEY_ENV: key, "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg), "--run", "r"],
                       capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL)
    return p, tmp_path / "runs" / "r", time.monotonic() - t0


def assert_key_nowhere(key: str, run_dir: Path, p: subprocess.CompletedProcess) -> None:
    assert key not in p.stdout + p.stderr
    for f in run_dir.rglob("*"):
        assert not f.is_file() or key.encode() not in f.read_bytes(), f"the key is in {f}"


def test_poetry_job_through_litellm_anthropic_messages(tmp_path, proxy):
    p, run_dir, _ = run_job(tmp_path, proxy, proxy.key)
    assert p.returncode == EXIT_OK, p.stdout + p.stderr + proxy.log.read_text(errors="replace")[-3000:]
    assert p.stdout.splitlines()[-1].startswith("watcher: done · every item ended"), p.stdout
    acc, rej = assert_each_item_once(run_dir)
    assert not acc and len(rej) == 3  # the tiny model writes noise
    attempts = [a for r in rej for a in r["attempt_log"]]
    # The proxy maps the upstream's `length` to Anthropic's `max_tokens`: truncated, never scored.
    assert any(a["finish_reason_raw"] == "max_tokens" for a in attempts)
    for a in attempts:
        assert (a["failure"] == "truncated") == (a["finish_reason_raw"] == "max_tokens"), a
    for r in rej:
        assert r["reason"] in ("truncated", "below_min_score")
        u = r["usage"]
        assert u["input_tokens"] > 0 and 0 < u["output_tokens"] <= MAX_TOKENS * r["attempts"], u
        # LiteLLM reports the upstream's cached prompt tokens as cache_read_input_tokens and leaves them
        # out of input_tokens (Anthropic's shape); watcher's input_tokens counts every prompt token.
        assert 0 <= u["cache_read_tokens"] <= u["input_tokens"] and u["unknown_calls"] == 0, u
        tin = u["input_tokens"] - u["cache_read_tokens"] + 0.1 * u["cache_read_tokens"]
        assert r["cost_usd"] == pytest.approx((tin * 1.0 + u["output_tokens"] * 2.0) / 1e6)
    # The shared system prompt hits mlx_lm.server's prompt cache: those tokens reach the records as cache reads.
    assert any(r["usage"]["cache_read_tokens"] > 0 for r in rej)
    s = subprocess.run([sys.executable, "-m", "watcher.cli.main", "status", "--run-dir", str(run_dir), "--json"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    snap = json.loads(s.stdout)
    assert snap["rejected"] == 3 and snap["tokens_out"] == sum(r["usage"]["output_tokens"] for r in rej)
    assert_key_nowhere(proxy.key, run_dir, p)


def test_a_key_the_proxy_refuses_ends_the_run_as_auth(tmp_path, proxy):
    wrong = f"sk-{secrets.token_hex(16)}"
    p, run_dir, took = run_job(tmp_path, proxy, wrong)
    assert p.returncode == EXIT_RUN_FAILED, p.stdout + p.stderr
    # LiteLLM without a database refuses a key with `400 No connected db.`: that is auth, not bad_request.
    where = f"auth 400 {proxy.url}/v1/messages: No connected db."
    last = p.stdout.splitlines()[-1]
    assert last.startswith("watcher: not finished") and "3 pending" in last and where in last, p.stdout
    logs = "".join(f.read_text() for f in RunPaths(run_dir).logs.glob("*.log"))
    assert "Traceback" not in p.stdout + p.stderr + logs
    assert not read_lines(RunPaths(run_dir).rejects)  # a refused key rejects no item: all stay pending
    assert took < 30, took  # the breaker ends it after a few refusals, not after every item's retries
    assert_key_nowhere(wrong, run_dir, p)
