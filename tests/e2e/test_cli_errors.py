"""Bad input gets one clear line and a non-zero exit: missing key, unknown form, bad config value."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import ROOT

from watcher.config import PACKAGED_CONFIGS


def run_cli(*args: str, cwd=ROOT, env=None):
    env = {**os.environ, **(env or {})}
    for k in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def test_missing_api_key_names_the_variable(tmp_path):
    r = run_cli("--headless", "--config", str(PACKAGED_CONFIGS / "poetry.toml"), "--num", "1", cwd=tmp_path)
    assert r.returncode == 2
    assert "ANTHROPIC_API_KEY" in r.stderr and "watcher demo" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data" / "runs").exists()  # nothing started


def test_only_the_chosen_backend_needs_a_key(tmp_path):
    r = run_cli("--headless", "--config", str(PACKAGED_CONFIGS / "poetry.toml"), "--backend", "openrouter",
                cwd=tmp_path)
    assert r.returncode == 2 and "OPENROUTER_API_KEY" in r.stderr and "ANTHROPIC" not in r.stderr


def test_unknown_form_lists_known_forms(tmp_path):
    r = run_cli("--headless", "--config", str(PACKAGED_CONFIGS / "poetry.toml"), "--forms", "Sonet", cwd=tmp_path)
    assert r.returncode == 2
    assert "Sonet" in r.stderr and "poetry.forms" in r.stderr and "Villanelle" in r.stderr


def test_bad_config_value_names_field_and_fix(tmp_path):
    r = run_cli("--headless", "--config", str(PACKAGED_CONFIGS / "poetry.toml"), "--model-mix", "1.5",
                cwd=tmp_path)
    assert r.returncode == 2
    assert "model_mix" in r.stderr and "fix:" in r.stderr


def test_unknown_backend_flag(tmp_path):
    r = run_cli("--headless", "--config", str(PACKAGED_CONFIGS / "poetry.toml"), "--backend", "gemini",
                cwd=tmp_path)
    assert r.returncode == 2 and "backend" in r.stderr and "openrouter" in r.stderr
