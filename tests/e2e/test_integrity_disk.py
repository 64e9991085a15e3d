"""A full disk mid-run: one line naming the file and the space left, exit != 0, the dataset parseable,
the config whole; once room is made the same command finishes every item, none twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import orjson
import pytest
import tomli_w
from helpers import assert_run_intact, headless_cmd, read_lines, sim_config_dict, wait_for

from watcher.config import load_config
from watcher.errors import EXIT_RUN_FAILED

pytestmark = pytest.mark.slow


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs of our own: filling it fills nothing else. Needs root and mount(8)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path):
    """Write until the filesystem is full; the run's own writes may have filled it already, so even the
    open may meet ENOSPC."""
    try:
        with open(path, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    except OSError:
        pass


def test_full_disk_is_one_line_and_the_same_command_finishes_after_room(tmp_path, small_fs, make_sim, sim_env):
    sim = make_sim(latency_s=0.3, defect_rate=0.0)
    data = sim_config_dict(sim, forms=["Haiku", "Limerick"], num=12)
    data["runs_dir"] = str(small_fs / "runs")
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text(tomli_w.dumps(data))
    cmd = headless_cmd(cfg_path)
    run_dir = small_fs / "runs" / "r1"
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=sim_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: len(read_lines(run_dir / "dataset.jsonl")) >= 2, 60)
    config_before = (run_dir / "config.toml").read_bytes()
    _fill(small_fs / "filler")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == EXIT_RUN_FAILED, out[-2000:] + err[-2000:]
    line = ([x for x in err.splitlines() if x.strip()] or [out[-3000:]])[-1]
    assert "Traceback" not in err and "no space left on device writing" in line and "KiB free" in line, err
    assert str(run_dir) in line
    # Nothing half-written: every dataset line parses, and the config is the one written at the start.
    lines = (run_dir / "dataset.jsonl").read_bytes().splitlines(keepends=True)
    assert all(x.endswith(b"\n") and orjson.loads(x) for x in lines)
    assert (run_dir / "config.toml").read_bytes() == config_before
    # The same command on the still-full disk: refused in one line, the config untouched.
    full = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=60)
    assert full.returncode != 0 and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert (run_dir / "config.toml").read_bytes() == config_before
    load_config(run_dir / "config.toml")

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_fs)], check=True)
    done = subprocess.run(cmd, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_run_intact(run_dir)


def test_gate_on_a_full_disk_is_one_line_and_keeps_the_old_export(tmp_path, small_fs, sim, sim_env):
    """The gate's export has no room: one line naming the file, exit 3, the previous export whole;
    with room made the same `watcher gate` passes."""
    data = sim_config_dict(sim, forms=["Haiku"], num=6)
    data["runs_dir"] = str(small_fs / "runs")
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text(tomli_w.dumps(data))
    done = subprocess.run(headless_cmd(cfg_path, "g"), cwd=tmp_path, env=sim_env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run_dir = small_fs / "runs" / "g"
    gate = [sys.executable, "-m", "watcher.cli.main", "gate", "--run-dir", str(run_dir)]
    first = subprocess.run(gate, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert first.returncode in (0, 1), first.stderr
    before = (run_dir / "gate" / "train.jsonl").read_bytes()
    filler = small_fs / "filler"
    _fill(filler)
    full = subprocess.run(gate, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    lines = [x for x in full.stderr.splitlines() if x.strip()]
    assert full.returncode == EXIT_RUN_FAILED and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert len(lines) == 1 and "no space left on device" in lines[0], full.stderr
    assert (run_dir / "gate" / "train.jsonl").read_bytes() == before  # the old export, whole
    filler.unlink(missing_ok=True)
    again = subprocess.run(gate, cwd=tmp_path, env=sim_env, capture_output=True, text=True, timeout=120)
    assert again.returncode in (0, 1) and "Traceback" not in again.stderr, again.stderr
