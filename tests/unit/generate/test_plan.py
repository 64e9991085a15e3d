"""Plan: stable ids, exact model mix, sharding that covers every item once, resume state."""

from __future__ import annotations

from collections import Counter

from watcher.config import load_config
from watcher.generate.jobs import make_job
from watcher.generate.plan import build_plan, load_resume_state, shard
from watcher.run.records import encode_line


def plan(**ov):
    cfg, _ = load_config("configs/poetry.toml", {"poetry.forms": "Sonnet,Haiku", "poetry.num": 10, **ov})
    return cfg, build_plan(cfg, make_job(cfg))


def test_ids_are_stable_and_do_not_depend_on_generation_settings():
    _, a = plan()
    _, b = plan(**{"backends.claude.temperature": 0.2, "model_mix": 0.3})
    assert [x.id for x in a] == [x.id for x in b]
    assert len({x.id for x in a}) == 20
    assert a[0].prompt.startswith("Write a Shakespearean sonnet about ") and " tone" in a[0].prompt


def test_model_mix_is_exact_per_form():
    _, items = plan(model_mix=0.7)
    per = Counter((x.group, x.backend) for x in items)
    assert per[("Haiku", "claude")] == 7 and per[("Haiku", "openrouter")] == 3
    _, only = plan(backend="openrouter")
    assert {x.backend for x in only} == {"openrouter"}


def test_shards_cover_every_item_exactly_once():
    _, items = plan()
    for n in (1, 2, 3):
        got = [x.id for k in range(n) for b in ("claude", "openrouter") for x in shard(items, b, k, n)]
        assert sorted(got) == sorted(x.id for x in items)


def test_resume_skips_accepted_and_retries_rejects_up_to_the_limit(tmp_path):
    _, items = plan()
    ds, rj = tmp_path / "d.jsonl", tmp_path / "r.jsonl"
    ds.write_bytes(encode_line({"id": items[0].id}) + b"garbage\n" + b'{"id": "partial')
    rj.write_bytes(encode_line({"id": items[1].id, "round": 0}) + encode_line({"id": items[2].id, "round": 0})
                   + encode_line({"id": items[2].id, "round": 1}))
    st = load_resume_state(ds, rj, current_round=1)
    assert st.bad_lines == 1
    pending = {x.id for x in st.pending(items, resume_retries=1)}
    assert items[0].id not in pending  # accepted
    assert items[1].id in pending  # rejected once, in an earlier round: retried
    assert items[2].id not in pending  # rejected in this round already
    assert items[1].id not in {x.id for x in st.pending(items, resume_retries=0)}
