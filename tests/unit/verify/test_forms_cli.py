"""`watcher verify` / `watcher forms`: exit codes, JSON, stdin, errors on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.cli.main import main
from watcher.verify.forms import get_form

SONNET = get_form("Sonnet").corpus()[0]
HAIKU_BAD = "This is not\na haiku at all, it is just some words\nthat ramble on"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_subprocess_verify_file_passes(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text(SONNET)
    r = run("verify", "--form", "sonnet", str(f))
    assert r.returncode == 0, r.stderr
    assert "Shakespearean sonnet" in r.stdout and "PASSED" in r.stdout and "rhyme_scheme" in r.stdout


def test_subprocess_verify_stdin_fails() -> None:
    r = run("verify", "--form", "Haiku", "-", stdin=HAIKU_BAD)
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "syllables" in r.stdout


def test_subprocess_unknown_form() -> None:
    r = run("verify", "--form", "Sonet", "-", stdin=SONNET)
    assert r.returncode == 2
    assert "Sonet" in r.stderr and "Villanelle" in r.stderr


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--form", "Haiku", str(tmp_path / "nope.txt")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_json_and_min_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.txt"
    f.write_text(SONNET)
    assert main(["verify", "--form", "Sonnet", str(f), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["form"] == "Shakespearean sonnet" and d["passed"] is True and 0.85 <= d["score"] <= 1
    assert {r["criterion"] for r in d["rubric"]} >= {"line_count", "rhyme_scheme", "syllables"}
    # An impossible bar turns the same poem into a failure (exit 1).
    assert main(["verify", "--form", "Sonnet", str(f), "--json", "--min-score", "1.01"]) == 1
    assert json.loads(capsys.readouterr().out)["passed"] is False


def test_forms_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forms"]) == 0
    out = capsys.readouterr().out
    for name in ("Haiku", "Shakespearean sonnet", "Sestina", "Ghazal", "Blues poem"):
        assert name in out
    assert "* = default set" in out and "Sonnet" in out
