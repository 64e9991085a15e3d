"""Config loading: defaults, overrides, and errors that name the field and the fix."""

from __future__ import annotations

import os

import pytest

from watcher.config import PACKAGED_CONFIGS, apply_overrides, get_api_key, load_config, read_dotenv
from watcher.errors import ConfigError, MissingKeyError


def test_poetry_defaults_match_seed_000():
    cfg, _ = load_config("configs/poetry.toml")
    assert cfg.poetry.num == 100 and cfg.min_score == 0.8 and cfg.model_mix == 0.5
    assert cfg.backends["openrouter"].model == "moonshotai/kimi-k2"
    assert cfg.backends["claude"].kind == "anthropic"
    assert cfg.backend_shares() == {"claude": 0.5, "openrouter": 0.5}


def test_overrides_from_seed_flags():
    cfg, _ = load_config("configs/poetry.toml", {"poetry.forms": "Sonnet,Haiku", "poetry.num": 10,
                                                  "model_mix": 0.7, "backend": "claude"})
    assert cfg.poetry.forms == ["Sonnet", "Haiku"] and cfg.poetry.num == 10
    assert cfg.active_backends() == ["claude"]


@pytest.mark.parametrize("override,field,fix", [
    ({"min_score": 2}, "min_score", "less than or equal to 1"),
    ({"backends.claude.kindd": "x"}, "backends.claude.kindd", "remove it or check its spelling"),
    ({"backends.claude.kind": "gemini"}, "backends.claude.kind", "'anthropic' or 'openai'"),
    ({"backend": "nosuch"}, "backend", "use mixed or one of"),
    ({"poetry.num": 0}, "poetry.num", "greater than or equal to 1"),
])
def test_bad_values_name_the_field_and_the_fix(override, field, fix):
    with pytest.raises(ConfigError) as ei:
        load_config("configs/poetry.toml", override)
    msg = str(ei.value)
    assert f"'{field}'" in msg or field in msg
    assert "fix:" in msg and fix in msg


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("job = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_missing_key_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    cfg, _ = load_config(_cfg_path())
    with pytest.raises(MissingKeyError, match="OPENROUTER_API_KEY"):
        get_api_key("openrouter", cfg.backends["openrouter"])
    (tmp_path / ".env").write_text("# keys\nexport OPENROUTER_API_KEY='sk-test-123'\n")
    assert read_dotenv()["OPENROUTER_API_KEY"] == "sk-test-123"
    assert get_api_key("openrouter", cfg.backends["openrouter"]) == "sk-test-123"


def _cfg_path():

    return PACKAGED_CONFIGS / "poetry.toml"


def test_environment_wins_over_dotenv_and_dotenv_is_only_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    cfg, _ = load_config(_cfg_path())
    env_file = tmp_path / ".env"
    env_file.write_text('OPENROUTER_API_KEY="from-file" # a comment\nEMPTY\n')
    before = env_file.read_text()
    monkeypatch.setenv("OPENROUTER_API_KEY", "from-env")
    assert get_api_key("openrouter", cfg.backends["openrouter"]) == "from-env"
    monkeypatch.delenv("OPENROUTER_API_KEY")
    assert read_dotenv() == {"OPENROUTER_API_KEY": "from-file"}  # a key with no value is no key
    assert get_api_key("openrouter", cfg.backends["openrouter"]) == "from-file"
    assert "OPENROUTER_API_KEY" not in os.environ and env_file.read_text() == before


def test_overrides_leave_the_input_untouched():
    data = {"poetry": {"forms": ["Sonnet"]}, "backends": {"claude": {"kind": "anthropic"}}}
    out = apply_overrides(data, {"poetry.num": 3, "backends.claude.model": "m"})
    assert out["poetry"] == {"forms": ["Sonnet"], "num": 3} and out["backends"]["claude"]["model"] == "m"
    assert data == {"poetry": {"forms": ["Sonnet"]}, "backends": {"claude": {"kind": "anthropic"}}}
    out["poetry"]["forms"].append("Haiku")
    assert data["poetry"]["forms"] == ["Sonnet"]
