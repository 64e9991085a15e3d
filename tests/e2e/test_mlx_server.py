"""A real `mlx_lm.server` on the tiny model the project builds offline, as a `kind = "openai"` backend.

Its answers are noise, so every poem is cut at max_tokens: each item must end (rejected as
`truncated`, never pending), with real token counts and cost, and `status` and `gate` must work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tomli_w
from helpers import assert_each_item_once

pytest.importorskip("mlx_lm")
pytestmark = pytest.mark.slow

ENV = {**os.environ, "MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1", "LOCAL_API_KEY": "unused"}


def cli(*args: str, cwd, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=cwd)


@pytest.mark.parametrize("model_name", ["default_model", "served-path"])
def test_poetry_job_through_mlx_lm_server(tmp_path, mlx_server, model_name):
    url, model_path = mlx_server
    # The README's example: the model is the server's default (`default_model`) or the served path.
    model = "default_model" if model_name == "default_model" else str(model_path)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(tomli_w.dumps({
        "job": "poetry", "name": "mlx", "max_attempts": 2, "runs_dir": str(tmp_path / "runs"),
        "request_thinking": False, "poetry": {"forms": ["Haiku"], "num": 2},
        "backends": {"local": {"kind": "openai", "base_url": url, "model": model, "api_key_env": "LOCAL_API_KEY",
                               "max_tokens": 24, "concurrency": 2, "timeout_s": 60, "price_in": 1.0,
                               "price_out": 2.0}},
    }))
    p = cli("--headless", "--config", str(cfg), "--run", "r", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines()[-1].startswith("watcher: done · every item ended"), p.stdout
    acc, rej = assert_each_item_once(tmp_path / "runs" / "r")
    assert not acc and len(rej) == 2
    attempts = [a for r in rej for a in r["attempt_log"]]
    # The tiny model rarely stops before 24 tokens; when it does the try is scored, not truncated.
    assert any(a["finish_reason_raw"] == "length" for a in attempts)
    for a in attempts:
        assert (a["failure"] == "truncated") == (a["finish_reason_raw"] == "length"), a
    for r in rej:
        assert r["reason"] in ("truncated", "below_min_score")
        assert r["usage"]["input_tokens"] > 0 and 0 < r["usage"]["output_tokens"] <= 24 * r["attempts"]
        u = r["usage"]
        # mlx_lm.server reports prompt-cache hits (cached_tokens): priced at 0.5x input for openai backends.
        tin = u["input_tokens"] - u["cache_read_tokens"] + 0.5 * u["cache_read_tokens"]
        assert r["cost_usd"] == pytest.approx((tin * 1.0 + u["output_tokens"] * 2.0) / 1e6)
    run = str(tmp_path / "runs" / "r")
    s = cli("status", "--run-dir", run, "--json", cwd=tmp_path, timeout=60)
    assert s.returncode == 0, s.stderr
    snap = json.loads(s.stdout)
    assert snap["rejected"] == 2 and snap["tokens_out"] == sum(r["usage"]["output_tokens"] for r in rej)
    g = cli("gate", "--run-dir", run, "--json", cwd=tmp_path, timeout=120)
    assert g.returncode in (0, 1), g.stdout + g.stderr  # it runs and decides; nothing was accepted
    assert "Traceback" not in g.stderr
