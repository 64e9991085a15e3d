"""Shared fixtures: the simulated provider on 127.0.0.1 and small run configs that point at it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM_KEY = "sim-key"
os.environ.setdefault("MLX_DISABLE_COMPILE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def make_sim():
    """Start simulators with SimConfig overrides; all are stopped after the test."""
    from watcher.simulator.server import SimConfig, SimServer

    started = []

    def _make(**kw: Any) -> Any:
        opts = {"api_key": SIM_KEY, "latency_s": 0.02, "defect_rate": 0.3, "seed": 7, **kw}
        server = SimServer(SimConfig(**opts))
        server.start()
        started.append(server)
        return server

    yield _make
    for s in started:
        s.stop()


@pytest.fixture
def sim(make_sim):
    return make_sim()


def sim_config_dict(sim: Any, forms: list[str] | None = None, num: int = 3, **top: Any) -> dict[str, Any]:
    """A poetry run config on the simulator: one Anthropic-protocol and one OpenAI-protocol backend."""
    backend_common = {"api_key_env": "WATCHER_SIM_KEY", "simulated": True, "timeout_s": 2.0,
                      "concurrency": 4, "max_retries": 4, "max_tokens": 800, "price_in": 1.0, "price_out": 5.0}
    data: dict[str, Any] = {
        "job": "poetry", "name": "t", "min_score": 0.8, "max_attempts": 4, "model_mix": 0.5,
        "backends_order": ["claude", "openrouter"],
        "poetry": {"forms": forms or ["Haiku", "Limerick"], "num": num},
        "backends": {
            "claude": {"kind": "anthropic", "model": "claude-haiku-4-5", "base_url": sim.base_url_anthropic,
                       **backend_common},
            "openrouter": {"kind": "openai", "model": "moonshotai/kimi-k2", "base_url": sim.base_url_openai,
                           **backend_common},
        },
    }
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k].update(v)
        else:
            data[k] = v
    return data


@pytest.fixture
def sim_env(monkeypatch):
    monkeypatch.setenv("WATCHER_SIM_KEY", SIM_KEY)
    return {**os.environ, "WATCHER_SIM_KEY": SIM_KEY, "PYTHONUNBUFFERED": "1"}


def make_run(tmp_path: Path, data: dict[str, Any], name: str = "run1") -> Path:
    from watcher.config import parse_config
    from watcher.generate.supervisor import prepare_run

    cfg = parse_config(data, "test")
    run_dir, _, _ = prepare_run(cfg, name, tmp_path / "runs")
    return run_dir


def worker_cmd(run_dir: Path, wid: int) -> list[str]:
    return [sys.executable, "-m", "watcher.cli.main", "worker", "--run-dir", str(run_dir), "--worker-id", str(wid)]
