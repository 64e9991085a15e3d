"""`watcher gate --against RUN`: a record nearly duplicating an earlier run's export is dropped."""

from __future__ import annotations

import random
from pathlib import Path

from watcher.cli.main import main
from watcher.config import PACKAGED_CONFIGS, apply_overrides, dump_config, load_config, parse_config
from watcher.gate.run import run_gate
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.records import Accepted, Usage, encode_line, item_id

WORDS = [f"{a}{b}" for a in ("mor", "tel", "van", "sil", "kor", "bel", "ran") for b in ("a", "en", "ish", "o", "ar")]


def poem(seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(14))


def make_run(root: Path, name: str, poems: list[str]) -> Path:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = apply_overrides(cfg.model_dump(mode="json", exclude_none=True),
                           {"poetry.forms": ["Sonnet"], "poetry.num": len(poems)})
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text(dump_config(parse_config(data, "test")))
    rubric = [{"criterion": "line_count", "expected": "14 lines", "score": 1.0, "instruction": "14"}]
    (run / "dataset.jsonl").write_bytes(b"".join(encode_line(Accepted(
        id=item_id("poetry", "Sonnet", i), job="poetry", prompt=f"Write a Sonnet #{i}",
        synth_trace=build_synth_trace("Sonnet", {"form": "Sonnet", "topic": "r", "tone": "calm"}, rubric, 0.9, []),
        natural_trace=natural_trace("I plan it."), score=0.9, passed=True, rubric=rubric, attempts=1, model="m",
        backend="claude", finish_reason="stop", finish_reason_raw="end_turn", usage=Usage(input_tokens=1, output_tokens=1),
        cost_usd=0.0, latency_s=0.1, worker=0, timestamp="2026-02-13T03:00:00Z", form="Sonnet", poem=p))
        for i, p in enumerate(poems)))
    return run


def test_gate_against_an_earlier_run(tmp_path: Path, capsys: object) -> None:
    old = make_run(tmp_path, "old", [poem(s) for s in range(10)])
    assert run_gate(old).kept == 10
    near = poem(3).split(" ")
    near[10] = "changed"
    new = make_run(tmp_path, "new", [" ".join(near), poem(100), poem(101)])
    alone = run_gate(new)
    assert alone.check("near_duplicate").count == 0 and alone.kept == 3
    rep = run_gate(new, against=[old])
    c = rep.check("near_duplicate")
    assert c.count == 1 and rep.kept == 2 and "of run old" in c.examples[0]["why"]
    assert sum(rep.exported.values()) == 2
    # The CLI flag, with runs given as paths.
    assert main(["gate", "--run-dir", str(new), "--against", str(old), "--json"]) in (0, 1)
    assert '"near_duplicate"' in capsys.readouterr().out  # type: ignore[attr-defined]
    assert run_gate(new, against=[old]).kept == 2
