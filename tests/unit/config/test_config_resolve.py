"""--config NAME: a path, then ./configs/NAME.toml, then the packaged default; every spelling of a name."""

from __future__ import annotations

import pytest

from watcher.config import PACKAGED_CONFIGS, packaged_config_names, resolve_config_path
from watcher.errors import ConfigError


def test_packaged_configs_are_all_there():
    assert set(packaged_config_names()) >= {"poetry", "agentic", "aba", "train", "train_demo", "demo"}


@pytest.mark.parametrize("ref", ["agentic", "agentic.toml", "configs/agentic.toml"])
def test_a_name_resolves_to_the_packaged_default_from_an_empty_folder(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(ref) == PACKAGED_CONFIGS / "agentic.toml"


def test_the_working_folder_copy_wins_over_the_packaged_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "demo.toml").write_text("# edited\n")
    for ref in ("demo", "demo.toml", "configs/demo.toml", None):
        assert resolve_config_path(ref, "demo").resolve() == (tmp_path / "configs" / "demo.toml").resolve()
    assert resolve_config_path(None, "poetry") == PACKAGED_CONFIGS / "poetry.toml"


def test_an_existing_path_is_taken_as_is(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "elsewhere" / "poetry.toml"
    mine.parent.mkdir()
    mine.write_text("")
    assert resolve_config_path(mine) == mine


@pytest.mark.parametrize("ref", ["nosuch", "some/dir/poetry.toml", "poetry.json"])
def test_unknown_names_and_missing_paths_say_what_exists(ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as e:
        resolve_config_path(ref)
    assert "agentic" in str(e.value)
