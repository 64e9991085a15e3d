"""gate/verdict.py: the last report's verdict and whether the dataset moved on since."""

from __future__ import annotations

import json
import os
from pathlib import Path

from watcher.gate.verdict import read_gate_verdict
from watcher.run.paths import RunPaths


def _write(run_dir: Path, passed: bool, data_t: float, report_t: float) -> None:
    paths = RunPaths(run_dir)
    paths.dataset.parent.mkdir(parents=True, exist_ok=True)
    paths.dataset.write_text('{"id": "a"}\n')
    paths.gate_report.parent.mkdir(parents=True, exist_ok=True)
    paths.gate_report.write_text(json.dumps({"passed": passed, "kept": 130, "total": 167,
                                             "reasons": ["kept_share: 78% < 90%"]}))
    os.utime(paths.dataset, (data_t, data_t))
    os.utime(paths.gate_report, (report_t, report_t))


def test_no_report_is_no_verdict(tmp_path: Path) -> None:
    v = read_gate_verdict(tmp_path)
    assert v.passed is None and v.word == "--" and not v.safe_to_train


def test_failed_report(tmp_path: Path) -> None:
    _write(tmp_path, False, 1000.0, 2000.0)
    v = read_gate_verdict(tmp_path)
    assert (v.passed, v.kept, v.total, v.stale, v.word) == (False, 130, 167, False, "FAILED")
    assert v.reasons == ("kept_share: 78% < 90%",) and not v.safe_to_train


def test_passed_report_goes_stale_when_the_dataset_grows(tmp_path: Path) -> None:
    _write(tmp_path, True, 1000.0, 2000.0)
    assert read_gate_verdict(tmp_path).safe_to_train
    _write(tmp_path, True, 3000.0, 2000.0)
    v = read_gate_verdict(tmp_path)
    assert v.stale and v.word == "STALE" and not v.safe_to_train
