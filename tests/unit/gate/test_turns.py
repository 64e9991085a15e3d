"""split_turns: each assistant turn of a conversation becomes a final message once, and the export
reads back with mlx-lm so that mask_prompt trains exactly that turn."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from helpers import tiny_chat_tokenizer

from watcher.config import PACKAGED_CONFIGS, dump_config, load_config, parse_config
from watcher.gate.run import run_gate
from watcher.gate.turns import split_turns
from watcher.run.records import Accepted, Usage, encode_line, item_id


def _conversation(i: int) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You are Synthia."},
            {"role": "user", "content": f"how many files in folder {i}"},
            {"role": "assistant", "content": f"Listing folder {i} first.",
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": f"a{i}.py b{i}.py"},
            {"role": "assistant", "content": f"Folder {i} holds two files, a{i}.py and b{i}.py."}]


def test_split_turns_prefixes() -> None:
    msgs = _conversation(0)
    parts = split_turns(msgs)
    assert [len(p) for p in parts] == [3, 5]
    assert all(p[-1]["role"] == "assistant" for p in parts) and parts[-1] == msgs
    assert split_turns(msgs[:2]) == []  # no assistant turn, no example
    assert split_turns([]) == []


def _agentic_run(tmp_path: Path, split: bool) -> Path:
    base_cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = {**base_cfg.model_dump(mode="json", exclude_none=True), "job": "agentic",
            "agentic": {"categories": [{"name": "tool_use", "target": 4, "instructions": "use tools",
                                        "tools": ["ls"]}],
                        "tools": [{"name": "ls", "description": "list files",
                                   "parameters": {"type": "object", "properties": {}}}]}}
    # The traces check is about poetry-style think traces; these conversations carry none.
    data["gate"] = {**data.get("gate", {}), "split_turns": split, "require_traces": False}
    cfg = parse_config(data, "test")
    run_dir = tmp_path / ("split" if split else "whole")
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(dump_config(cfg))
    lines = []
    for i in range(4):
        rec = Accepted(id=item_id("agentic", "tool_use", i), job="agentic", prompt="", synth_trace="",
                       natural_trace="", score=1.0, passed=True, rubric=[], attempts=1, model="m",
                       backend="sim", finish_reason="stop", finish_reason_raw="stop", usage=Usage(),
                       cost_usd=0.0, latency_s=0.1, worker=0, timestamp="2026-02-13T03:00:00.000000Z",
                       category="tool_use", messages=_conversation(i))
        lines.append(encode_line(rec))
    (run_dir / "dataset.jsonl").write_bytes(b"".join(lines))
    return run_dir


@pytest.mark.parametrize("split", [True, False])
def test_export_reads_back_with_mlx_lm_mask_prompt(tmp_path: Path, split: bool) -> None:
    from mlx_lm.tuner.datasets import load_dataset

    run_dir = _agentic_run(tmp_path, split)
    rep = run_gate(run_dir)
    assert rep.passed, rep.reasons
    gate = run_dir / "gate"
    exs = [json.loads(ln) for s in ("train", "valid", "test") for ln in (gate / f"{s}.jsonl").read_text().splitlines()]
    assert len(exs) == (8 if split else 4) == sum(rep.exported.values())
    assert all(e["messages"][-1]["role"] == "assistant" and e["tools"][0]["function"]["name"] == "ls" for e in exs)

    texts = [m["content"] for e in exs for m in e["messages"]]
    tok = tiny_chat_tokenizer(texts + ["call ls"])  # the template renders a tool call as "call NAME"
    args = types.SimpleNamespace(data=str(gate), train=True, test=True, hf_dataset=None, mask_prompt=True)
    trained = []
    for ds in load_dataset(args, tok):
        for k in range(len(ds)):
            tokens, offset = ds.process(ds[k])
            assert 0 < offset < len(tokens)
            trained.append(tok.decode(tokens[offset:]))
    # mask_prompt trains the tokens after the offset: the final assistant message alone.
    answers = [t for t in trained if "holds two files" in t]
    calls = [t for t in trained if "call ls" in t]
    assert len(answers) == 4 and len(calls) == (4 if split else 0)
    assert all("Listing" not in t for t in answers) and all("holds" not in t for t in calls)
