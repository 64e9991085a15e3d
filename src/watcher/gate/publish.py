"""All-or-nothing gate exports: each gate writes its splits and report.json into a fresh version
directory (`gate.<pid>.<ns>/` in the run directory), then swaps the `gate` symlink to it with one
`os.replace` of a new symlink. A directory cannot be renamed over a non-empty one, but a symlink can
be replaced atomically, so a reader that goes through `RunPaths(run_dir).gate` sees the old export
with its report or the new one, never a mix. Versions left by a killed gate are removed on the next
start; the version the symlink leaves behind is removed right after the swap.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from watcher.run.files import pid_alive

VERSION_PREFIX = "gate."
_LINK_TMP = ".gate.link."


def _owner(name: str) -> int | None:
    """The pid in a version or temp-link name, or None when it is not one of ours."""
    rest = name[len(_LINK_TMP):] if name.startswith(_LINK_TMP) else name[len(VERSION_PREFIX):]
    head = rest.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def current_version(link: Path) -> Path | None:
    """The version directory `gate` points at (None for a legacy plain directory or nothing)."""
    if not link.is_symlink():
        return None
    return link.parent / os.readlink(link)


def clean_leftovers(link: Path) -> list[str]:
    """Remove versions and temp links of gates that died (their pid is gone), never the live one."""
    live = current_version(link)
    removed = []
    for p in link.parent.iterdir():
        name = p.name
        if not (name.startswith(VERSION_PREFIX) or name.startswith(_LINK_TMP)):
            continue
        pid = _owner(name)
        if pid is None or (live is not None and p.name == live.name):
            continue
        if pid == os.getpid() or not pid_alive(pid):
            if p.is_symlink() or not p.is_dir():
                p.unlink(missing_ok=True)
            else:
                shutil.rmtree(p, ignore_errors=True)
            removed.append(name)
    return removed


def new_version(link: Path) -> Path:
    """A fresh, empty version directory beside the `gate` link."""
    d = link.parent / f"{VERSION_PREFIX}{os.getpid()}.{time.time_ns()}"
    d.mkdir()
    return d


def _fsync_dir(d: Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(link: Path, version: Path) -> None:
    """Point `link` at `version` in one rename, then remove the version it pointed at before."""
    old = current_version(link)
    tmp = link.parent / f"{_LINK_TMP}{os.getpid()}.{time.time_ns()}"
    os.symlink(version.name, tmp)  # relative, so the run directory can be moved
    if link.exists() and not link.is_symlink():
        # A plain `gate/` directory from before versioned exports: move it aside first (a reader
        # sees no export for that instant, never a mixed one); it is removed below.
        legacy = link.parent / f"{VERSION_PREFIX}{os.getpid()}.legacy"
        os.rename(link, legacy)
        old = legacy
    os.replace(tmp, link)
    _fsync_dir(link.parent)
    if old is not None and old.resolve() != version.resolve():
        shutil.rmtree(old, ignore_errors=True)


def discard(version: Path) -> None:
    shutil.rmtree(version, ignore_errors=True)
