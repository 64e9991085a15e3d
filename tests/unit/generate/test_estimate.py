"""The pre-run estimate: figures checked against hand-computed ones, history, every shipped config."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from watcher.config import PACKAGED_CONFIGS, load_config, parse_config
from watcher.generate.estimate import TokenCounter, estimate
from watcher.generate.jobs import make_job
from watcher.generate.plan import build_plan
from watcher.generate.supervisor import prepare_run
from watcher.run.records import encode_line

SYSTEM = "x" * 400  # 100 tokens at chars/4, + 4 framing
PROMPT = "y" * 200  # 50 tokens, + 4 framing: 158 input tokens per call


def aba_cfg(tmp_path, **top):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": PROMPT}) + "\n" for i in range(2)))
    data = {"job": "aba", "name": "est", "runs_dir": str(tmp_path / "runs"), "max_attempts": 4,
            "aba": {"prompts_file": str(prompts), "max_output_tokens": 1000, "token_budget": 500,
                    "variants": [{"name": "control", "system_prompt": SYSTEM}]},
            "backends": {"g": {"kind": "openai", "model": "m1", "price_in": 2.0, "price_out": 10.0}}, **top}
    return parse_config(data, "test")


@pytest.fixture(autouse=True)
def _chars_estimate(monkeypatch):
    # The hand-computed figures assume the documented chars/4 estimate, whatever is installed.
    monkeypatch.setattr("watcher.generate.estimate._tokenizer", lambda: None)


def test_figures_match_hand_computed_ones_without_history(tmp_path):
    cfg = aba_cfg(tmp_path)
    est = estimate(cfg, make_job(cfg))
    assert est.items == 2 and est.history_runs == [] and est.token_method == "chars/4 estimate"
    (ln,) = est.lines
    # 2 items x 1.5 default calls; 158 input tokens a call (no feedback turns in aba); 25% of 1000 out.
    assert ln.requests == {"low": 2, "expected": 3, "high": 8}
    assert ln.input_tokens == {"low": 316, "expected": 474, "high": 1264}
    assert ln.output_tokens == {"low": 500, "expected": 750, "high": 8000}
    # USD: tokens x price per million (2 in, 10 out); batch is half.
    assert ln.cost_online["expected"] == pytest.approx(474 * 2e-6 + 750 * 10e-6)  # 0.008448
    assert ln.cost_online["high"] == pytest.approx(1264 * 2e-6 + 8000 * 10e-6)  # 0.082528
    assert ln.cost_batch["expected"] == pytest.approx(0.008448 / 2)
    assert est.total()["expected"] == pytest.approx(0.008448)


def test_history_of_earlier_runs_sets_calls_and_output(tmp_path):
    cfg = aba_cfg(tmp_path)
    old, _, _ = prepare_run(cfg, "old", tmp_path / "runs")
    recs = [{"id": "a", "status": "accepted", "model": "m1", "variant": "control", "attempts": 2,
             "usage": {"input_tokens": 1, "output_tokens": 600}, "cost_usd": 0.1},
            {"id": "b", "status": "rejected", "model": "m1", "variant": "control", "attempts": 4,
             "usage": {"input_tokens": 1, "output_tokens": 1000}, "cost_usd": 0.1}]
    (old / "dataset.jsonl").write_bytes(encode_line(recs[0]))
    (old / "rejects.jsonl").write_bytes(encode_line(recs[1]))
    est = estimate(cfg, make_job(cfg))
    (ln,) = est.lines
    assert est.history_runs == ["old"] and ln.attempts_source == "history (2 records)"
    # 6 calls over 2 items = 3 a item; 1600 output tokens over 6 calls.
    assert ln.requests["expected"] == 6 and ln.output_tokens["expected"] == 1600
    assert ln.cost_online["expected"] == pytest.approx(948 * 2e-6 + 1600 * 10e-6)


def test_cache_and_reasoning_tokens_from_history_are_priced(tmp_path):
    cfg = aba_cfg(tmp_path)
    old, _, _ = prepare_run(cfg, "old", tmp_path / "runs")
    rec = {"id": "a", "status": "accepted", "model": "m1", "variant": "control", "attempts": 2, "cost_usd": 0.1,
           "usage": {"input_tokens": 1000, "cache_read_tokens": 600, "cache_write_tokens": 100,
                     "output_tokens": 800, "reasoning_tokens": 200}}
    (old / "dataset.jsonl").write_bytes(encode_line(rec))
    est = estimate(cfg, make_job(cfg))
    (ln,) = est.lines
    # 2 calls a item, 158 input tokens each: 632 in; 60% read from the cache, 10% written; 400 out a call.
    assert ln.input_tokens["expected"] == 632 and ln.output_tokens["expected"] == 1600
    assert (ln.cache_read_tokens["expected"], ln.cache_write_tokens["expected"]) == (379, 63)
    assert ln.reasoning_tokens["expected"] == 400  # a quarter of output, billed as output
    # openai-compatible: reads 0.5x, writes 1.25x of price_in.
    plain = 632 - 379 - 63
    assert ln.cost_online["expected"] == pytest.approx((plain + 379 * 0.5 + 63 * 1.25) * 2e-6 + 1600 * 10e-6, abs=1e-6)
    # The ceiling takes no read discount and the write premium on all of its 1264 input tokens.
    assert ln.cost_online["high"] == pytest.approx(1264 * 1.25 * 2e-6 + 8000 * 10e-6, abs=1e-6)
    assert est.to_dict()["backends"]["g"]["cache_read_tokens"]["expected"] == 379


def test_retries_send_back_earlier_tries_and_feedback(tmp_path):
    data = {"job": "poetry", "runs_dir": str(tmp_path / "runs"), "request_thinking": False, "max_attempts": 3,
            "poetry": {"forms": ["Haiku"], "num": 1}, "backend": "c",
            "backends": {"c": {"kind": "anthropic", "model": "m", "max_tokens": 400, "price_in": 1, "price_out": 1}}}
    cfg = parse_config(data, "test")
    job = make_job(cfg)
    (item,) = build_plan(cfg, job)
    first = TokenCounter().request(job.request(item, 400, 1.0, False, []))
    (ln,) = estimate(cfg, job).lines
    assert ln.input_tokens["low"] == first
    # high: calls 2 and 3 carry 1 and 2 earlier tries of max_tokens each plus their feedback turns.
    assert ln.input_tokens["high"] > 3 * first + 3 * 400


def test_a_resumed_run_counts_only_pending_items(tmp_path):
    cfg = aba_cfg(tmp_path)
    run_dir, _, _ = prepare_run(cfg, "r", tmp_path / "runs")
    done = build_plan(cfg, make_job(cfg))[0]
    (run_dir / "dataset.jsonl").write_bytes(encode_line({"id": done.id, "model": "m1", "variant": "control"}))
    assert estimate(cfg, make_job(cfg), run_dir=run_dir).items == 1


@pytest.mark.parametrize("name", ["poetry", "demo", "aba", "agentic"])
def test_plan_on_each_shipped_config(name, tmp_path):
    out = subprocess.run([sys.executable, "-m", "watcher.cli.main", "plan", "--config",
                          str(PACKAGED_CONFIGS / f"{name}.toml"), "--json"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    from watcher.config import load_config

    cfg = load_config(PACKAGED_CONFIGS / f"{name}.toml")[0]
    assert d["items"] == len(build_plan(cfg, make_job(cfg))) > 0
    assert set(d["backends"]) == set(cfg.active_backends())
    for kind in ("requests", "input_tokens", "output_tokens", "cost_online", "cost_batch"):
        t = d["total"][kind]
        assert 0 < t["low"] <= t["expected"] <= t["high"], (kind, t)
    assert d["total"]["cost_batch"]["expected"] == pytest.approx(d["total"]["cost_online"]["expected"] / 2, rel=1e-3)


def test_dry_run_prints_the_plan_and_creates_no_run(tmp_path):
    out = subprocess.run([sys.executable, "-m", "watcher.cli.main", "--headless", "--dry-run", "--config",
                          str(PACKAGED_CONFIGS / "demo.toml"), "--max-cost", "0.001"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    cfg = load_config(PACKAGED_CONFIGS / "demo.toml")[0]
    items = len(cfg.poetry.forms) * cfg.poetry.num
    assert f"plan: poetry job, {items} items to do" in out.stdout
    assert "WARNING" in out.stdout  # the expected cost passes the ceiling
    assert not (tmp_path / "data").exists()
