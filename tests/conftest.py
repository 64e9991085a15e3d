"""Shared fixtures: the simulated provider on 127.0.0.1, small run configs that point at it, and a real
mlx_lm.server on the tiny offline model."""

from __future__ import annotations

import os
from typing import Any

import pytest
from helpers import SIM_KEY, start_mlx_server, stop_process

os.environ.setdefault("MLX_DISABLE_COMPILE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _own_settings_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI's saved settings (tui/settings.py) live in a fresh directory per test, never the user's."""
    monkeypatch.setenv("WATCHER_CONFIG_DIR", str(tmp_path_factory.mktemp("settings")))


@pytest.fixture
def make_sim():
    """Start simulators with SimConfig overrides; all are stopped after the test."""
    from watcher.simulator.config import SimConfig
    from watcher.simulator.server import SimServer

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


@pytest.fixture
def sim_env(monkeypatch):
    monkeypatch.setenv("WATCHER_SIM_KEY", SIM_KEY)
    return {**os.environ, "WATCHER_SIM_KEY": SIM_KEY, "PYTHONUNBUFFERED": "1"}




@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny offline mlx-lm model trained on nothing: what the training tests fine-tune."""
    pytest.importorskip("mlx_lm")
    from watcher.train.tinymodel import export_texts, make_tiny_export, make_tiny_model

    base = tmp_path_factory.mktemp("tiny")
    gate = make_tiny_export(base / "texts")
    return make_tiny_model(base / "model", export_texts(gate))


@pytest.fixture(scope="module")
def mlx_server(tmp_path_factory):
    """A real mlx_lm.server on the tiny offline model, shared by a test module: (base URL ending in /v1,
    model dir). Its answers are noise: every poem is rejected, mostly cut at max_tokens."""
    pytest.importorskip("mlx_lm")
    from watcher.train.tinymodel import make_tiny_model

    model = make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
    proc, url = start_mlx_server(model)
    yield url, model
    stop_process(proc)
