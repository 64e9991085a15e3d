"""Spent cost comes from the records on disk, incrementally; the ceiling is no identity field."""

from __future__ import annotations

import json

import msgspec

from watcher.config import parse_config
from watcher.generate.budget import Budget, SpentTally, budget_message, record_prices
from watcher.generate.supervisor import config_difference
from watcher.run.paths import RunPaths


def _cfg(**top):
    return parse_config({"backends": {"c": {"kind": "anthropic", "model": "m", "price_in": 1, "price_out": 5}},
                         **top}, "test")


def test_tally_sums_complete_lines_only_and_reads_each_once(tmp_path):
    a, b = tmp_path / "dataset.jsonl", tmp_path / "rejects.jsonl"
    tally = SpentTally([a, b])
    assert tally.poll() == 0
    a.write_text(json.dumps({"cost_usd": 0.25}) + "\n" + '{"cost_usd": 0.5')  # a partial last line
    assert tally.poll() == 0.25
    with a.open("a") as f:
        f.write("}\n")
    b.write_text(json.dumps({"cost_usd": 1.0}) + "\nnot json\n" + json.dumps({"cost_usd": None}) + "\n")
    assert tally.poll() == 1.75
    assert tally.poll() == 1.75  # nothing new: nothing counted twice
    a.write_text(json.dumps({"cost_usd": 0.1}) + "\n")  # replaced by a shorter file: counted afresh
    assert round(tally.poll(), 6) == 1.1


def test_budget_reached_and_message(tmp_path):
    paths = RunPaths(tmp_path)
    budget = Budget.for_run(paths, _cfg(max_cost_usd=1.0))
    assert not budget.reached()
    paths.dataset.write_text(json.dumps({"cost_usd": 0.6}) + "\n" + json.dumps({"cost_usd": 0.4}) + "\n")
    assert budget.reached() and budget.spent() == 1.0
    assert not Budget.for_run(paths, _cfg()).reached()  # 0 = no ceiling
    assert budget_message(1.2345, 5) == "budget reached: $1.23 of $5.00; raise it with --max-cost to continue"


def test_raising_the_ceiling_is_a_harmless_change():
    bad, ok = config_difference(_cfg(max_cost_usd=1.0), _cfg(max_cost_usd=5.0))
    assert bad == [] and ok == ["max_cost_usd: 1.0 -> 5.0"]


def test_prices_are_recorded_with_the_date_when_they_change(tmp_path):
    from datetime import date

    paths = RunPaths(tmp_path)
    record_prices(paths, _cfg(), date(2026, 1, 2))
    record_prices(paths, _cfg(), date(2026, 1, 3))  # unchanged: no new entry
    changed = parse_config({"backends": {"c": {"kind": "anthropic", "model": "m", "price_in": 2, "price_out": 5}}}, "t")
    record_prices(paths, changed, date(2026, 2, 1))
    hist = json.loads(paths.prices.read_text())["history"]
    assert [h["date"] for h in hist] == ["2026-01-02", "2026-02-01"]
    assert hist[0]["backends"]["c"]["price_in"] == 1 and hist[1]["backends"]["c"]["price_in"] == 2


def test_batch_stop_line_comes_from_the_worker_that_priced_the_request(tmp_path):
    """Batch mode stops short of the ceiling: the line gives the bound the worker priced (input and
    max_tokens out), and says nothing of a budget when no worker stopped at it."""
    from watcher.generate.budget import budget_stop_message
    from watcher.run.files import atomic_write_json
    from watcher.run.records import Heartbeat

    paths = RunPaths(tmp_path)
    paths.workers.mkdir(parents=True)
    cfg = _cfg(max_cost_usd=0.004)
    atomic_write_json(paths.layout, {"round": 0, "workers": {"0": {"backend": "c", "shard": 0, "shards": 1}}})
    paths.dataset.write_text(json.dumps({"cost_usd": 0.0012}) + "\n")
    hb = Heartbeat(worker_id=0, pid=1, backend="c", model="m", state="stopped", pending=3)
    paths.heartbeat(0).write_bytes(msgspec.json.encode(hb))
    assert budget_stop_message(paths, cfg) is None  # stopped for another reason: no budget line
    hb.budget_hit, hb.budget_next_usd = True, 0.0031
    paths.heartbeat(0).write_bytes(msgspec.json.encode(hb))
    assert budget_stop_message(paths, cfg) == (
        "budget reached: $0.0012 of $0.0040; raise it with --max-cost to continue"
        " (one more batch request could cost up to $0.0031)")
