"""batches.jsonl: committed cost, in-flight batches, the public summary; batch splitting and ids."""

from __future__ import annotations

import pytest

from watcher.config import BackendConfig, parse_config
from watcher.errors import ConfigError
from watcher.generate.batch_items import custom_id, split_custom_id
from watcher.providers.batches import batch_api_of, chunks
from watcher.run.batches import (
    ABANDONED,
    BATCH,
    INGESTED,
    INTENT,
    STATE,
    BatchLedger,
    batch_line,
    ledger_summary,
)


def test_committed_cost_counts_in_flight_batches_and_open_intents(tmp_path):
    p = tmp_path / "batches.jsonl"
    common = {"backend": "claude", "worker": 0, "api": "anthropic", "round": 0}
    p.write_bytes(b"".join([
        batch_line(INTENT, key="a", custom_ids=["x-1"], committed_usd=1.0, **common),
        batch_line(BATCH, key="a", id="b1", custom_ids=["x-1"], submitted_at=1.0, committed_usd=1.0, **common),
        batch_line(INTENT, key="b", custom_ids=["y-1", "z-1"], committed_usd=2.0, **common),
        batch_line(INTENT, key="c", custom_ids=["w-1"], committed_usd=4.0, **common),
        batch_line(ABANDONED, key="c", why="refused"),
        batch_line(STATE, id="b1", state="in_progress", status="in_progress",
                   counts={"succeeded": 0, "processing": 1}),
    ]) + b'{"kind": "batch", "cut sh')  # a partial last line is not read
    led = BatchLedger(p).poll()
    assert led.committed_usd() == 3.0 and [b.id for b in led.in_flight()] == ["b1"]
    with p.open("ab") as f:
        f.write(b"\n" + batch_line(INGESTED, id="b1", counts={"succeeded": 1, "processing": 0}, cost_usd=0.4))
    led.poll()
    assert led.committed_usd() == 2.0 and not led.in_flight()
    s = ledger_summary(p)
    assert s["total"] == 1 and s["unresolved_intents"] == 1 and s["batches"][0]["state"] == "ingested"
    assert s["batches"][0]["cost_usd"] == 0.4 and "custom_ids" not in s["batches"][0]


def test_chunks_respect_request_and_byte_limits():
    lines = [(f"i{k}", {"custom_id": f"i{k}", "params": {"x": "y" * 100}}) for k in range(10)]
    assert [len(c) for c in chunks(lines, 4, 10**9)] == [4, 4, 2]
    one = len('{"custom_id":"i0","params":{"x":"' + "y" * 100 + '"}}') + 1
    assert [len(c) for c in chunks(lines, 100, 3 * one)] == [3, 3, 3, 1]


def test_custom_ids_round_trip_and_fit_every_provider():
    cid = custom_id("0123456789abcdef", 12)
    assert split_custom_id(cid) == ("0123456789abcdef", 12)
    assert len(cid) <= 64 and cid.replace("-", "").isalnum()


def test_batch_api_choice_and_its_check():
    assert batch_api_of(BackendConfig(kind="anthropic", model="m")) == "anthropic"
    assert batch_api_of(BackendConfig(kind="openai", model="m")) == "openai"
    assert batch_api_of(BackendConfig(kind="openai", model="m", base_url="https://openrouter.ai/api/v1")) == "openrouter"
    with pytest.raises(ConfigError, match="batch_api"):
        parse_config({"backends": {"c": {"kind": "anthropic", "model": "m", "batch_api": "openai"}}})
