"""Settings the TUI keeps between launches (the theme), in the user's config directory
(platformdirs: ~/.config/watcher on Linux; WATCHER_CONFIG_DIR overrides it, e.g. for tests).

A missing or broken file is no settings at all: a preference never stops the app from starting.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs

from watcher.run.files import atomic_write_json, read_json


def settings_path() -> Path:
    root = os.environ.get("WATCHER_CONFIG_DIR")
    return (Path(root) if root else platformdirs.user_config_path("watcher")) / "tui.json"


def load_settings() -> dict[str, Any]:
    try:
        data = read_json(settings_path(), {})
    except OSError:
        return {}
    return data if isinstance(data, dict) else {}


def save_setting(key: str, value: Any) -> None:
    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {**load_settings(), key: value})
    except OSError:
        pass  # a read-only home: the choice lasts for this session only
