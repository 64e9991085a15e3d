"""The headless core imports without Textual (harlequin's check): workers and headless mode rely on it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import watcher


def core_modules() -> list[str]:
    names = []
    for m in pkgutil.walk_packages(watcher.__path__, "watcher."):
        if not m.name.startswith("watcher.tui"):
            names.append(m.name)
    return names


def test_no_textual_outside_tui():
    mods = core_modules()
    assert "watcher.generate.worker" in mods and "watcher.monitor.stats" in mods
    code = ("import importlib, sys\n"
            f"for m in {mods!r}:\n"
            "    importlib.import_module(m)\n"
            "bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
