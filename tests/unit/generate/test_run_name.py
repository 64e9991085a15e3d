"""Without --run: today's run continues with the same job; another job starts base-2, base-3..."""

from __future__ import annotations

from watcher.config import load_config
from watcher.generate.run_names import pick_run_name
from watcher.generate.supervisor import prepare_run


def _cfg(forms: str):
    return load_config("demo", {"poetry.forms": forms, "poetry.num": 2})[0]


def test_same_job_continues_another_job_gets_a_new_run(tmp_path):
    haiku, tanka = _cfg("Haiku"), _cfg("Tanka")
    assert pick_run_name(haiku, "demo-d", tmp_path) == ("demo-d", None)
    prepare_run(haiku, "demo-d", tmp_path)
    assert pick_run_name(haiku, "demo-d", tmp_path) == ("demo-d", None)
    name, note = pick_run_name(tanka, "demo-d", tmp_path)
    assert name == "demo-d-2" and "different job" in note and "new run demo-d-2" in note
    prepare_run(tanka, name, tmp_path)
    name, note = pick_run_name(tanka, "demo-d", tmp_path)
    assert name == "demo-d-2" and note.startswith("continuing run demo-d-2")
    assert pick_run_name(haiku, "demo-d", tmp_path) == ("demo-d", None)
    assert pick_run_name(_cfg("Limerick"), "demo-d", tmp_path)[0] == "demo-d-3"
