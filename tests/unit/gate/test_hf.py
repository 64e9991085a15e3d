"""`watcher export --hf` loaded back with `datasets`, and `watcher push` up to the upload call
(the Hub is out of reach in tests: HfApi's two methods are replaced by recorders)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from watcher.cli.main import main
from watcher.config import PACKAGED_CONFIGS, apply_overrides, dump_config, load_config, parse_config
from watcher.gate.run import run_gate
from watcher.generate.traces import build_synth_trace, natural_trace
from watcher.run.records import Accepted, Usage, encode_line, item_id

WORDS = [f"{a}{b}" for a in ("mor", "tel", "van", "sil", "kor") for b in ("a", "en", "ish", "o")]


def make_gated_run(tmp_path: Path, n: int = 30, target: int | None = None) -> Path:
    cfg, _ = load_config(PACKAGED_CONFIGS / "poetry.toml")
    data = apply_overrides(cfg.model_dump(mode="json", exclude_none=True),
                           {"poetry.forms": ["Haiku"], "poetry.num": target or n})
    runs = tmp_path / "runs"
    run = runs / "hfrun"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(dump_config(parse_config(data, "test")))
    rng = random.Random(1)
    rubric = [{"criterion": "line_count", "expected": "3 lines", "score": 1.0, "instruction": "3 lines"}]
    lines = []
    for i in range(n):
        lines.append(encode_line(Accepted(
            id=item_id("poetry", "Haiku", i), job="poetry", prompt=f"Write a Haiku about rivers #{i}",
            synth_trace=build_synth_trace("Haiku", {"form": "Haiku", "topic": "r", "tone": "calm"}, rubric, 0.9, []),
            natural_trace=natural_trace("I plan it."), score=0.9, passed=True, rubric=rubric, attempts=1,
            model="model-a" if i % 3 else "model-b", backend="claude", finish_reason="stop",
            finish_reason_raw="end_turn", usage=Usage(input_tokens=1, output_tokens=1), cost_usd=0.01,
            latency_s=0.1, worker=0, timestamp=f"2026-02-{10 + i % 5:02d}T03:00:00Z", form="Haiku",
            poem="\n".join(" ".join(rng.choice(WORDS) for _ in range(5)) for _ in range(3)))))
    (run / "dataset.jsonl").write_bytes(b"".join(lines))
    rep = run_gate(run)
    assert rep.kept == n and rep.passed == (target is None)
    return run


def test_export_hf_folder_loads_with_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    run = make_gated_run(tmp_path)
    out = tmp_path / "ds"
    assert main(["export", "--run-dir", str(run), "--hf", str(out), "--license", "cc-by-4.0"]) == 0
    assert "Hugging Face dataset" in capsys.readouterr().out
    ds = datasets.load_dataset(str(out))
    want = {s: len((run / "gate" / f"{f}.jsonl").read_bytes().splitlines())
            for s, f in (("train", "train"), ("validation", "valid"), ("test", "test"))}
    assert {s: ds[s].num_rows for s in ds} == want and sum(want.values()) == 30
    row = ds["train"][0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: \"cc-by-4.0\"")
    assert "| Haiku | 30 | 100.0% |" in card and "| model-a | 20 |" in card and "| model-b | 10 |" in card
    assert "2026-02-10T03:00:00Z to 2026-02-14T03:00:00Z" in card and "$0.3000" in card
    # A second export into the same folder is refused, not merged.
    assert main(["export", "--run-dir", str(run), "--hf", str(out)]) == 2


def test_export_without_a_gate_export_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = make_gated_run(tmp_path)
    os.unlink(run / "gate")
    assert main(["export", "--run-dir", str(run), "--hf", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "watcher gate" in err


class Recorder:
    calls: list[tuple[str, tuple, dict]] = []
    fail: Exception | None = None

    def __init__(self, token: str | None = None) -> None:
        Recorder.calls.append(("init", (), {"token": token}))

    def create_repo(self, *a: object, **k: object) -> str:
        Recorder.calls.append(("create_repo", a, k))
        if Recorder.fail:
            raise Recorder.fail
        return f"https://huggingface.co/datasets/{a[0]}"

    def upload_folder(self, **k: object) -> None:
        Recorder.calls.append(("upload_folder", (), {**k, "files": sorted(
            str(p.relative_to(k["folder_path"])) for p in Path(str(k["folder_path"])).rglob("*") if p.is_file())}))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> type[Recorder]:
    import huggingface_hub

    Recorder.calls, Recorder.fail = [], None
    monkeypatch.setattr(huggingface_hub, "HfApi", Recorder)
    return Recorder


def test_push_creates_a_private_dataset_repo_and_uploads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], hub: type[Recorder]) -> None:
    run = make_gated_run(tmp_path)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    assert main(["push", "me/poems", "--run-dir", str(run)]) == 0
    out = capsys.readouterr()
    assert "hf_secret_token" not in out.out + out.err and "private" in out.out
    names = [c[0] for c in hub.calls]
    assert names == ["init", "create_repo", "upload_folder"]
    assert hub.calls[0][2] == {"token": "hf_secret_token"}
    assert hub.calls[1][1] == ("me/poems",) and hub.calls[1][2]["repo_type"] == "dataset"
    assert hub.calls[1][2]["private"] is True
    up = hub.calls[2][2]
    assert up["repo_id"] == "me/poems" and up["repo_type"] == "dataset"
    assert up["files"] == ["README.md", "data/test.jsonl", "data/train.jsonl", "data/validation.jsonl"]
    assert main(["push", "me/poems", "--run-dir", str(run), "--public"]) == 0
    assert hub.calls[-2][2]["private"] is False


def test_push_without_token_or_network_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], hub: type[Recorder]) -> None:
    run = make_gated_run(tmp_path)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["push", "me/poems", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HF_TOKEN is not set" in err and not hub.calls
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token")
    hub.fail = ConnectionError("Failed to resolve 'huggingface.co' (token hf_secret_token)\nmore")
    assert main(["push", "me/poems", "--run-dir", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ConnectionError" in err and "hf_secret_token" not in err


def test_export_of_an_empty_or_failed_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An export that kept nothing is refused (an empty dataset folder helps nobody, and `push` would
    upload it); a failed gate's export goes out with a warning, as `watcher train` gives one."""
    run = make_gated_run(tmp_path, n=4)
    (run / "dataset.jsonl").write_bytes(b"")
    run_gate(run)
    capsys.readouterr()
    assert main(["export", "--run-dir", str(run), "--hf", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kept no records" in err and not (tmp_path / "empty").exists()
    run2 = make_gated_run(tmp_path / "b", n=4, target=10)  # 4 Haiku of the 10 planned: balance fails
    assert main(["export", "--run-dir", str(run2), "--hf", str(tmp_path / "few")]) == 0
    assert "warning: the gate FAILED for this run (balance" in capsys.readouterr().err
    run3 = make_gated_run(tmp_path / "c", n=4)
    t = (run3 / "gate" / "report.json").stat().st_mtime
    os.utime(run3 / "dataset.jsonl", (t + 5, t + 5))  # the run went on after its gate
    assert main(["export", "--run-dir", str(run3), "--hf", str(tmp_path / "stale")]) == 0
    assert "warning: the dataset has records the gate has not seen" in capsys.readouterr().err
