"""Quality gate: exact counts per check on a dataset with one of each defect, the mlx-lm export
(read back by mlx-lm's own dataset loader), splits, trace styles, other jobs, runs helpers, CLI."""

from __future__ import annotations

import json
import os
import random
import types
from pathlib import Path
from typing import Any

import pytest

from watcher.config import (
    PACKAGED_CONFIGS,
    RunConfig,
    apply_overrides,
    dump_config,
    load_config,
    parse_config,
)
from watcher.errors import ConfigError
from watcher.gate.run import GateReport, run_gate
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.paths import RunPaths, find_run, list_runs, load_run_config, runs_root, select_run
from watcher.run.records import Accepted, Usage, encode_line, item_id

FORMS = {"Sonnet": 14, "Villanelle": 19}
NUM = 10  # good records per form
WORDS = [f"{a}{b}" for a in ("mor", "tel", "van", "sil", "kor", "bel", "ran", "dus", "fen", "lo")
         for b in ("a", "en", "ish", "o", "ar", "ith", "um", "el", "ow", "ine")]


def poem(rng: random.Random, n_lines: int) -> str:
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(8)).capitalize() + "," for _ in range(n_lines))


def record(i: int, form: str, text: str, **kw: Any) -> Accepted:
    rubric = [{"criterion": "line_count", "expected": f"{FORMS.get(form, 14)} lines", "score": 1.0,
               "instruction": "keep the line count"},
              {"criterion": "rhyme_scheme", "expected": "ABAB", "score": 0.75, "instruction": "rhyme 1 and 3"}]
    fields: dict[str, Any] = dict(
        id=item_id("poetry", form, i), job="poetry", prompt=f"Write a {form} about rivers #{i} in a calm tone",
        synth_trace=build_synth_trace(form, {"form": form, "topic": f"rivers #{i}", "tone": "calm"}, rubric, 0.9, []),
        natural_trace=natural_trace(f"I plan a {form}: rivers, calm imagery, rhyme the alternate lines."),
        score=0.9, passed=True, rubric=rubric, attempts=1, model="claude-haiku-4-5", backend="claude",
        finish_reason="stop", finish_reason_raw="end_turn", usage=Usage(input_tokens=300, output_tokens=400),
        cost_usd=0.002, latency_s=1.5, worker=0, timestamp="2026-02-13T03:00:00.000000Z", form=form, poem=text,
    )
    fields.update(kw)
    return Accepted(**fields)


def good_records() -> list[Accepted]:
    rng = random.Random(3)
    return [record(i, form, poem(rng, n)) for form, n in FORMS.items() for i in range(NUM)]


def write_config(run_dir: Path, **overrides: Any) -> RunConfig:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = apply_overrides(cfg.model_dump(mode="json", exclude_none=True),
                           {"poetry.forms": list(FORMS), "poetry.num": NUM, **overrides})
    cfg = parse_config(data, "test")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.toml").write_text(dump_config(cfg))
    return cfg


def defective_dataset(path: Path) -> None:
    """20 good records plus exactly one of each defect (and a partial last line): 31 lines."""
    good = good_records()
    lines = [encode_line(r) for r in good]
    rng = random.Random(9)
    sonnet = lambda i, **kw: encode_line(record(100 + i, "Sonnet", poem(rng, 14), **kw))  # noqa: E731
    bad_schema = json.loads(sonnet(0))
    del bad_schema["poem"]
    near = good[4].poem.split(" ")
    near[20] = "changed"
    defects = [
        lines[7][: len(lines[7]) // 2] + b"\n",                            # valid_json: a line cut in half
        b'{"id": "x1", "job": "poetry", "form": "Sonnet",, }\n',           # valid_json: invalid JSON
        json.dumps(bad_schema).encode() + b"\n",                           # schema: no poem
        sonnet(1, finish_reason="length", finish_reason_raw="max_tokens"),  # finish_reason
        sonnet(2, poem="  \n "),                                           # nonempty
        sonnet(3, score=0.5),                                              # min_score
        sonnet(4, natural_trace="<think>\nI start planning and never close"),  # traces
        lines[3],                                                          # exact_duplicate (verbatim)
        encode_line(record(200, "Sonnet", " ".join(near))),                # near_duplicate: one word changed
        encode_line(record(6, "Sonnet", poem(rng, 14))),                   # duplicate_id: good[6]'s id again
    ]
    out = lines[:10] + defects[:4] + lines[10:] + defects[4:]
    partial = sonnet(5)[:120]  # a writer killed mid-write: no newline at the end of the file
    path.write_bytes(b"".join(out) + partial)


EXPECTED = {"partial_tail": 1, "valid_json": 2, "schema": 1, "finish_reason": 1, "nonempty": 1, "min_score": 1,
            "traces": 1, "token_budget": 0, "exact_duplicate": 1, "duplicate_id": 1, "near_duplicate": 1}


def test_report_json_reads_back_as_the_same_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    write_config(run_dir, **{"gate.max_corrupt_share": 0.2})
    defective_dataset(run_dir / "dataset.jsonl")
    rep = run_gate(run_dir)
    back = GateReport.from_dict(json.loads((run_dir / "gate" / "report.json").read_text()))
    assert back == rep
    assert back.check("near_duplicate").count == 1 and back.to_dict() == rep.to_dict()


def test_exact_counts_per_check(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    write_config(run_dir, **{"gate.max_corrupt_share": 0.2})
    defective_dataset(run_dir / "dataset.jsonl")
    rep = run_gate(run_dir)
    counts = {c.name: c.count for c in rep.checks if c.name in EXPECTED}
    assert counts == EXPECTED
    assert rep.total == 20 + 10 + 1
    assert rep.kept == 20
    assert rep.passed, rep.reasons
    assert sum(rep.exported.values()) == 20
    assert all(rep.exported[s] >= 1 for s in ("train", "valid", "test"))
    # Examples carry line numbers, ids and why.
    near = rep.check("near_duplicate").examples[0]
    assert near["line"] == 29 and "line 5" in near["why"]
    exact = rep.check("exact_duplicate").examples[0]
    assert exact["id"] == good_records()[3].id and "line 4" in exact["why"]
    assert "unclosed" in rep.check("traces").examples[0]["why"]
    assert rep.check("valid_json").examples[0]["line"] == 11
    assert "poem" in rep.check("schema").examples[0]["why"]
    assert rep.check("finish_reason").share == pytest.approx(1 / 31, abs=1e-5)
    assert "line 7" in rep.check("duplicate_id").examples[0]["why"]
    assert rep.check("partial_tail").examples[0]["line"] == 31
    # Each example knows where its line starts, and a duplicate which kept line it copies.
    raw = (run_dir / "dataset.jsonl").read_bytes()
    starts = [0] + [i + 1 for i, b in enumerate(raw) if b == 10]
    assert exact["of_line"] == 4 and exact["of_offset"] == starts[3] and exact["offset"] == starts[exact["line"] - 1]
    assert near["of_line"] == 5 and near["of_offset"] == starts[4]
    assert rep.check("duplicate_id").examples[0]["of_line"] == 7
    assert rep.check("partial_tail").examples[0]["offset"] == starts[30]
    assert "of_line" not in rep.check("min_score").examples[0]
    assert {c.name: c.status for c in rep.checks if c.name in ("exact_duplicate", "token_budget", "kept_share",
                                                               "balance", "nonempty")} == {
        "exact_duplicate": "drop", "token_budget": "skip", "kept_share": "ok", "balance": "ok", "nonempty": "drop"}
    stored = json.loads((run_dir / "gate" / "report.json").read_text())
    assert stored["passed"] is True and stored["kept"] == 20 and stored["dropped"] == 11
    # Groups are named as the job names them (the form catalog's canonical "Shakespearean sonnet").
    assert sorted((b["kept"], b["target"], b["ok"]) for b in stored["balance"]) == [(10, 10, True)] * 2


def test_structural_corruption_fails_the_gate(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    write_config(run_dir)  # default max_corrupt_share 0.01: 3 corrupt lines of 31 is far above it
    defective_dataset(run_dir / "dataset.jsonl")
    rep = run_gate(run_dir)
    assert not rep.passed
    assert rep.check("valid_json").failed and rep.check("schema").failed
    assert rep.check("valid_json").status == "FAIL"
    assert any("corrupt" in r for r in rep.reasons)
    assert not rep.check("kept_share").failed and not rep.check("balance").failed


def test_balance_and_kept_share_fail(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    write_config(run_dir, **{"poetry.num": 20, "gate.balance_tolerance": 0.2})
    recs = good_records()
    low = [encode_line(record(300 + i, "Sonnet", f"line {i}", score=0.1)) for i in range(25)]
    (run_dir / "dataset.jsonl").write_bytes(b"".join(encode_line(r) for r in recs) + b"".join(low))
    rep = run_gate(run_dir)
    assert rep.check("min_score").count == 25
    assert rep.kept == 20 and rep.total == 45
    assert rep.check("kept_share").failed  # 20/45 < 0.5
    assert rep.check("balance").failed and rep.check("balance").count == 2  # 10 kept of 20, needs 16
    assert not rep.passed and len(rep.reasons) == 2


def _tiny_tokenizer(texts: list[str]) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                                             show_progress=False))
    template = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {{ eos_token }}{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", chat_template=template)


@pytest.mark.parametrize("style", ["synth", "natural", "both"])
def test_export_reads_back_with_mlx_lm(tmp_path: Path, style: str) -> None:
    from mlx_lm.tuner.datasets import load_dataset

    run_dir = tmp_path / "r"
    write_config(run_dir, **{"gate.trace_style": style, "gate.max_corrupt_share": 0.2})
    defective_dataset(run_dir / "dataset.jsonl")
    rep = run_gate(run_dir)
    gate = run_dir / "gate"
    per = 2 if style == "both" else 1
    assert sum(rep.exported.values()) == 20 * per
    rows = {s: [json.loads(ln) for ln in (gate / f"{s}.jsonl").read_text().splitlines()] for s in rep.exported}
    assert {s: len(v) for s, v in rows.items()} == rep.exported
    good = {r.prompt: r for r in good_records()}
    prompts_in: dict[str, set[str]] = {}
    for split, exs in rows.items():
        for ex in exs:
            user, assistant = ex["messages"]
            assert user["role"] == "user" and assistant["role"] == "assistant"
            rec = good[user["content"]]
            trace = assistant["content"][: -len(rec.poem) - 1]
            assert assistant["content"].endswith("\n" + rec.poem)
            assert trace in ((rec.synth_trace,) if style == "synth" else (rec.natural_trace,) if style == "natural"
                             else (rec.synth_trace, rec.natural_trace))
            prompts_in.setdefault(user["content"], set()).add(split)
    assert all(len(v) == 1 for v in prompts_in.values())  # "both": a record's two examples share a split

    texts = [m["content"] for exs in rows.values() for ex in exs for m in ex["messages"]]
    tokenizer = _tiny_tokenizer(texts)
    args = types.SimpleNamespace(data=str(gate), train=True, test=True, hf_dataset=None, mask_prompt=False)
    train, valid, test = load_dataset(args, tokenizer)
    assert (len(train), len(valid), len(test)) == (rep.exported["train"], rep.exported["valid"],
                                                    rep.exported["test"])
    for ds in (train, valid, test):
        for i in range(len(ds)):
            tokens, offset = ds.process(ds[i])
            assert len(tokens) > 10 and offset == 0


def test_escaped_json_takes_the_text_path_with_the_same_result(tmp_path: Path) -> None:
    """Writers that escape non-ASCII (json.dumps' default) give the same verdicts and export."""
    runs = {}
    for name, dump in (("compact", encode_line),
                       ("escaped", lambda r: json.dumps(json.loads(encode_line(r))).encode() + b"\n")):
        run_dir = tmp_path / name
        write_config(run_dir)
        recs = good_records()
        recs[0] = record(0, "Sonnet", recs[0].poem, synth_trace=recs[0].synth_trace.replace("∴", "so"))
        recs[1] = record(1, "Sonnet", recs[1].poem, synth_trace="  \n" + recs[1].synth_trace + "\n ")
        (run_dir / "dataset.jsonl").write_bytes(b"".join(dump(r) for r in recs))
        rep = run_gate(run_dir)
        assert rep.check("traces").count == 1 and "∴" in rep.check("traces").examples[0]["why"]
        runs[name] = {s: (run_dir / "gate" / f"{s}.jsonl").read_text() for s in rep.exported}
    assert b"\\u2234" in (tmp_path / "escaped" / "dataset.jsonl").read_bytes()
    decoded = {k: {s: [json.loads(ln) for ln in v.splitlines()] for s, v in r.items()} for k, r in runs.items()}
    assert decoded["compact"] == decoded["escaped"]
    first = [ex for s in decoded["compact"].values() for ex in s
             if ex["messages"][0]["content"] == good_records()[1].prompt]
    assert first[0]["messages"][1]["content"].startswith("<think>\nSonnet requirements:")  # stripped


@pytest.mark.parametrize(("job_overrides", "dropped"), [
    ({}, 2),                                     # poetry asks for <think>: a blank natural trace fails
    ({"request_thinking": False}, 0),            # ...unless it did not ask
    ({"request_thinking": False, "gate.trace_style": "both"}, 2),  # or the export needs it
])
def test_blank_natural_trace_required_only_when_needed(tmp_path: Path, job_overrides: dict[str, Any],
                                                       dropped: int) -> None:
    run_dir = tmp_path / "r"
    write_config(run_dir, **{"gate.balance": False, **job_overrides})
    recs = good_records()
    recs[0] = record(0, "Sonnet", recs[0].poem, natural_trace="")
    recs[1] = record(1, "Sonnet", recs[1].poem, natural_trace="   ")
    (run_dir / "dataset.jsonl").write_bytes(b"".join(encode_line(r) for r in recs))
    rep = run_gate(run_dir)
    assert rep.check("traces").count == dropped and rep.kept == 20 - dropped


def test_split_is_deterministic_and_never_empty(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    write_config(run_dir, **{"gate.balance": False})
    (run_dir / "dataset.jsonl").write_bytes(b"".join(encode_line(r) for r in good_records()[:3]))
    rep = run_gate(run_dir)
    assert rep.exported == {"train": 1, "valid": 1, "test": 1}
    first = {s: (run_dir / "gate" / f"{s}.jsonl").read_bytes() for s in rep.exported}
    run_gate(run_dir)
    assert {s: (run_dir / "gate" / f"{s}.jsonl").read_bytes() for s in rep.exported} == first
    assert not [p for p in (run_dir / "gate").iterdir() if "tmp" in p.name]


def test_export_false_and_missing_dataset(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    write_config(run_dir)
    rep = run_gate(run_dir)
    assert not rep.passed and "does not exist" in rep.reasons[0]
    assert (run_dir / "gate" / "report.json").exists()
    (run_dir / "dataset.jsonl").write_bytes(b"".join(encode_line(r) for r in good_records()))
    rep = run_gate(run_dir, export=False)
    assert rep.passed and rep.exported == {} and not (run_dir / "gate" / "train.jsonl").exists()


def _base_data() -> dict[str, Any]:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    return cfg.model_dump(mode="json", exclude_none=True)


def test_agentic_messages_export_as_they_are(tmp_path: Path) -> None:
    data = {**_base_data(), "job": "agentic",
            "agentic": {"categories": [{"name": "tool_use", "target": 2, "instructions": "use tools",
                                        "tools": ["ls"]}],
                        "tools": [{"name": "ls", "description": "list files",
                                   "parameters": {"type": "object", "properties": {}}}]}}
    cfg = parse_config(data, "test")
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(dump_config(cfg))
    msgs = [{"role": "system", "content": "You are Synthia."}, {"role": "user", "content": "list files"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
             "function": {"name": "ls", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a.py"},
            {"role": "assistant", "content": "There is a.py."}]
    base = record(0, "x", "")
    recs = []
    for i in range(3):
        m = json.loads(json.dumps(msgs))
        m[4]["content"] = f"There is a{i}.py, example {i}, nothing else in the folder {i}."
        recs.append(encode_line({**json.loads(encode_line(base)), "id": f"a{i}", "job": "agentic", "form": None,
                                 "poem": None, "category": "tool_use", "messages": m}))
    recs.append(encode_line({**json.loads(encode_line(base)), "id": "bad", "job": "agentic", "form": None,
                             "poem": None, "category": "tool_use", "messages": [{"role": "robot"}]}))
    (run_dir / "dataset.jsonl").write_bytes(b"".join(recs))
    rep = run_gate(run_dir, cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"max_corrupt_share": 0.5})}))
    assert rep.check("schema").count == 1 and rep.kept == 3 and rep.passed, rep.reasons
    exported = [json.loads(ln) for s in ("train", "valid", "test")
                for ln in (run_dir / "gate" / f"{s}.jsonl").read_text().splitlines()]
    assert sorted(e["messages"][4]["content"] for e in exported) == sorted(
        json.loads(r)["messages"][4]["content"] for r in recs[:3])
    assert all(e["messages"][2]["tool_calls"][0]["function"]["name"] == "ls" for e in exported)
    # The category's declared tools travel with each example, in the shape chat templates render.
    assert all(e["tools"] == [{"type": "function", "function": {"name": "ls", "description": "list files",
                                                                "parameters": {"type": "object", "properties": {}}}}]
               for e in exported)


def test_aba_token_budget_and_variant_system_prompt(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"id": 1, "prompt": "p1"}\n{"id": 2, "prompt": "p2"}\n')
    data = {**_base_data(), "job": "aba",
            "aba": {"prompts_file": str(prompts), "token_budget": 2000,
                    "variants": [{"name": "control", "system_prompt": "Be brief."},
                                 {"name": "aba", "system_prompt": "Apply ABA."}]}}
    cfg = parse_config(data, "test")
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(dump_config(cfg))
    base = json.loads(encode_line(record(0, "x", "")))
    lines = []
    for v in ("control", "aba"):
        for p in (1, 2):
            lines.append({**base, "id": f"{v}{p}", "job": "aba", "form": None, "poem": None, "variant": v,
                          "response": f"A considered answer number {p} for the {v} variant of this question.",
                          "prompt": f"p{p}", "usage": {"input_tokens": 10, "output_tokens": 2500 if p == 2 else 900}})
    (run_dir / "dataset.jsonl").write_bytes(b"".join(encode_line(x) for x in lines))
    rep = run_gate(run_dir)
    assert rep.check("token_budget").count == 2 and rep.kept == 2
    assert {b["group"]: (b["kept"], b["target"]) for b in rep.balance} == {"control": (1, 2), "aba": (1, 2)}
    assert not rep.passed  # 1 of 2 per variant is below target * 0.8
    ex = [json.loads(ln) for s in ("train", "valid", "test")
          for ln in (run_dir / "gate" / f"{s}.jsonl").read_text().splitlines()]
    systems = sorted(e["messages"][0]["content"] for e in ex)
    assert systems == ["Apply ABA.", "Be brief."] and all(e["messages"][0]["role"] == "system" for e in ex)


def test_runs_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert runs_root(None) == Path("data/runs")
    with pytest.raises(ConfigError, match="no runs under"):
        find_run(None)
    old, new = Path("data/runs/old"), Path("data/runs/new")
    cfg = write_config(old, output="/abs/out.jsonl")
    write_config(new)
    os.utime(old / "config.toml", (1_000_000, 1_000_000))
    assert find_run(None) == new and list_runs(Path("data/runs")) == [new, old]
    assert find_run("old") == old and select_run(None, str(tmp_path / "data/runs/old")) == tmp_path / "data/runs/old"
    with pytest.raises(ConfigError, match="bad run name"):
        find_run(str(tmp_path / "data/runs/old"))  # a path is --run-dir's, never --run's
    with pytest.raises(ConfigError, match="runs there: new, old"):
        find_run("nope")
    assert load_run_config(old).output == "/abs/out.jsonl"
    assert RunPaths(old, cfg.output).dataset == Path("/abs/out.jsonl")
    assert RunPaths(new, load_run_config(new).output).dataset == new / "dataset.jsonl"
    assert RunPaths(new).rejects == new / "rejects.jsonl"


def test_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from watcher.cli.main import main

    monkeypatch.chdir(tmp_path)
    good, bad = Path("data/runs/good"), Path("data/runs/bad")
    write_config(good)
    (good / "dataset.jsonl").write_bytes(b"".join(encode_line(r) for r in good_records()))
    write_config(bad)
    defective_dataset(bad / "dataset.jsonl")
    assert main(["gate", "--run", "good"]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "near_duplicate" in out
    assert main(["gate", "--run", "bad", "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["passed"] is False and rep["kept"] == 20
    # --config brings another [gate] table: a looser corruption bar lets the bad run pass.
    loose = tmp_path / "loose.toml"
    loose.write_text(dump_config(write_config(tmp_path / "x", **{"gate.max_corrupt_share": 0.5})))
    assert main(["gate", "--run-dir", str(tmp_path / "data/runs/bad"), "--config", str(loose)]) == 0
    assert main(["gate", "--run", "missing"]) == 2
    assert "runs there:" in capsys.readouterr().err


def test_token_budget_counts_the_accepted_answer_not_retried_attempts(tmp_path):
    """aba: an answer accepted on attempt 2 after a 2,500-token attempt 1 is within the budget."""
    import tomli_w

    from watcher.config import load_config
    from watcher.gate.run import run_gate
    from watcher.run.records import Accepted, Usage, encode_line

    cfg, _ = load_config(PACKAGED_CONFIGS / "aba.toml")
    run_dir = tmp_path / "aba-run"
    run_dir.mkdir()
    (run_dir / "config.toml").write_text(tomli_w.dumps(cfg.model_dump(mode="json", exclude_none=True)))
    lines = []
    for i, (total, final) in enumerate([(4100, 1600), (1500, 1500), (2600, 2600)]):
        lines.append(encode_line(Accepted(
            id=f"id{i}", job="aba", prompt=f"question {i}", synth_trace="", natural_trace="", score=1.0,
            passed=True, rubric=[], attempts=2, model="m", backend="sim", finish_reason="stop",
            finish_reason_raw="stop", usage=Usage(input_tokens=10, output_tokens=total), cost_usd=0.0,
            latency_s=0.1, worker=0, timestamp="2026-11-21T00:00:00Z",
            final_usage=Usage(input_tokens=5, output_tokens=final), variant="control",
            response=f"a distinct answer number {i} " * 5)))
    (run_dir / "dataset.jsonl").write_bytes(b"".join(lines))
    report = run_gate(run_dir, cfg, export=False)
    budget = report.check("token_budget")
    assert budget.count == 1 and budget.examples[0]["id"] == "id2"
