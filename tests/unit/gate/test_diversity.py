"""The gate's diversity report on constructed texts and a constructed run with known figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.config import PACKAGED_CONFIGS, apply_overrides, dump_config, load_config, parse_config
from watcher.gate.diversity import text_figures
from watcher.gate.run import run_gate
from watcher.generate.jobs import make_job
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.records import Accepted, Usage, encode_line


def test_text_figures_known_values() -> None:
    texts = ["The cat sat\nover", "the cat ran", "A dog", "The cat, sat!\n\nunder"]
    f = text_figures(texts, top=5)
    # words: the cat sat over | the cat ran | a dog | the cat sat under -> 13 words, 8 distinct
    assert f["words"] == 13 and f["distinct_1"] == round(8 / 13, 4)
    # bigrams: 3 + 2 + 1 + 3 = 9; distinct: the-cat cat-sat sat-over cat-ran a-dog sat-under = 6
    assert f["distinct_2"] == round(6 / 9, 4)
    assert f["first_lines"] == [{"text": "the cat sat", "count": 2, "share": 0.5}]
    assert f["openings"] == [{"text": "the cat sat", "count": 2, "share": 0.5}]
    assert f["top_first_line_share"] == 0.5 and f["sample"] == 4


def record(item: object, text: str, model: str) -> bytes:
    form = item.group
    rubric = [{"criterion": "line_count", "expected": "lines", "score": 1.0, "instruction": "lines"}]
    return encode_line(Accepted(
        id=item.id, job="poetry", prompt=item.prompt,
        synth_trace=build_synth_trace(form, {"form": form, "topic": "t", "tone": "calm"}, rubric, 0.9, []),
        natural_trace=natural_trace("I plan it."), score=0.9, passed=True, rubric=rubric, attempts=1,
        model=model, backend="claude", finish_reason="stop", finish_reason_raw="end_turn",
        usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.0, latency_s=0.1, worker=0,
        timestamp="2026-02-13T03:00:00Z", form=form, poem=text))


def make_run(tmp_path: Path, **div: object) -> tuple[Path, object]:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = apply_overrides(cfg.model_dump(mode="json", exclude_none=True),
                           {"poetry.forms": ["Sonnet", "Haiku"], "poetry.num": 8, "gate.diversity.enabled": True,
                            **{f"gate.diversity.{k}": v for k, v in div.items()}})
    cfg = parse_config(data, "test")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(dump_config(cfg))
    items = make_job(cfg).items()
    son = [it for it in items if "onnet" in it.group]
    hai = [it for it in items if it.group == "Haiku"]
    lines = []
    # Sonnets 0-5 by model a: each "alpha{i} beta{i} gamma{i} ..." (all words distinct, one opening
    # per poem); haiku 0-3 by model b: the same first line, then distinct words.
    for i in range(6):
        lines.append(record(son[i], " ".join(f"w{i}x{j}" for j in range(20)), "model-a"))
    for i in range(4):
        lines.append(record(hai[i], f"Morning rain falls\nstone{i} lantern{i} moss{i} pond{i} frog{i}", "model-b"))
    (run / "dataset.jsonl").write_bytes(b"".join(lines))
    return run, cfg


def test_gate_diversity_report_on_a_constructed_run(tmp_path: Path) -> None:
    run, cfg = make_run(tmp_path)
    rep = run_gate(run)
    d = rep.diversity
    assert rep.kept == 10
    sonnet = next(g for g in d["groups"] if "onnet" in g)
    son, hai = d["groups"][sonnet], d["groups"]["Haiku"]
    assert son["distinct_1"] == 1.0 and son["distinct_2"] == 1.0 and son["first_lines"] == []
    # Haiku: 4 x 8 words; "morning rain falls" 4 times, 20 distinct others -> 23/32.
    assert hai["words"] == 32 and hai["distinct_1"] == round(23 / 32, 4)
    # bigrams: 7 per poem = 28; the 2 of the shared first line are the same in all 4 -> 2 + 4*5 = 22.
    assert hai["distinct_2"] == round(22 / 28, 4)
    assert hai["first_lines"] == [{"text": "morning rain falls", "count": 4, "share": 1.0}]
    assert d["models"]["model-a"]["share"] == 0.6 and d["models"]["model-b"]["kept"] == 4
    # Coverage against the real plan: the topic/tone pairs of the items kept, per form.
    items = [it for it in make_job(cfg).items() if it.group == sonnet]
    want = {(it.meta["topic"], it.meta["tone"]) for it in items[:6]}
    planned = {(it.meta["topic"], it.meta["tone"]) for it in items}
    assert len(want) < len(planned)  # so the figure says something
    cov = d["coverage"]["groups"][sonnet]
    assert cov == {"planned": len(planned), "covered": len(want), "share": round(len(want) / len(planned), 4)}
    assert not [r for r in rep.reasons if r.startswith("diversity")]  # thresholds off by default


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("min_distinct_1", 0.9, "Haiku distinct-1"), ("min_distinct_2", 0.9, "Haiku distinct-2"),
    ("max_first_line_share", 0.5, "Haiku repeats one first line"), ("min_coverage", 0.9, "planned topic x tone"),
])
def test_diversity_thresholds_fail_the_gate(tmp_path: Path, key: str, value: float, needle: str) -> None:
    run, _ = make_run(tmp_path, **{key: value})
    rep = run_gate(run)
    assert not rep.passed and any(needle in r for r in rep.reasons), rep.reasons


def test_diversity_is_off_by_default(tmp_path: Path) -> None:
    run, _ = make_run(tmp_path, enabled=False)
    assert run_gate(run).diversity == {}
