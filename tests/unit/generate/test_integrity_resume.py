"""Resume counts only whole accepted records of the run's job; everything else is corrupt."""

from __future__ import annotations

import json
from pathlib import Path

from watcher.generate.plan import corrupt_lines, load_resume_state
from watcher.run.records import Accepted, Usage, encode_line


def _rec(rid: str, job: str = "poetry") -> bytes:
    return encode_line(Accepted(
        id=rid, job=job, prompt="p", synth_trace="s", natural_trace="", score=1.0, passed=True, rubric=[],
        attempts=1, model="m", backend="sim", finish_reason="stop", finish_reason_raw="stop", usage=Usage(),
        cost_usd=0.0, latency_s=0.1, worker=0, timestamp="t", form="Haiku", poem="a\nb\nc"))


def test_only_whole_records_of_the_job_count(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    ds.write_bytes(_rec("a1") + json.dumps({"id": "b2"}).encode() + b"\n" + _rec("c3", job="aba")
                   + b"not json\n" + b"\n" + _rec("d4")[:-20])
    st = load_resume_state(ds, tmp_path / "none.jsonl", 0, "poetry")
    assert st.accepted == {"a1"} and st.bad_lines == 3
    assert corrupt_lines(ds, "poetry") == 3
    # Without a job (old callers): any id counts, as before.
    assert load_resume_state(ds, tmp_path / "none.jsonl", 0).accepted == {"a1", "b2", "c3"}
