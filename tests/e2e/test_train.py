"""Training: config validation, the runner subprocess end to end on a tiny offline model,
graceful stop and resume, and the three clear errors (missing model, missing mlx, too little data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from watcher.config import PACKAGED_CONFIGS
from watcher.errors import ConfigError
from watcher.monitor.tail import FileTailer
from watcher.train.config import load_train_config, parse_train_config
from watcher.train.data import example_form
from watcher.train.process import start_training, stop_training
from watcher.train.state import metrics_records, read_training_state

ENV_FLAGS = {"MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV_FLAGS.items():
        monkeypatch.setenv(k, v)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **ENV_FLAGS, **extra}


def _run_dir(tmp_path: Path, n_train: int = 40, n_valid: int = 8, n_test: int = 8) -> Path:
    from watcher.train.tinymodel import make_tiny_export

    run = tmp_path / "runs" / "r1"
    make_tiny_export(run / "gate", n_train, n_valid, n_test)
    return run


def _write_cfg(path: Path, model: Path | str, stages: list[dict[str, Any]], **top: Any) -> Path:
    evalc = top.pop("eval", {"prompts_per_form": 2, "max_tokens": 16})
    settings = {"model": str(model), "batch_size": 2, "num_layers": 2, "max_seq_length": 256,
                "steps_per_report": 5, "steps_per_eval": 10, "steps_per_save": 5, "val_batches": 2, **top}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["[lora]", "rank = 16", "scale = 20.0", "dropout = 0.0"]
    for s in stages:
        lines.append("[[stages]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in s.items()]
    lines.append("[eval]")
    lines += [f"{k} = {json.dumps(v)}" for k, v in evalc.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(run: Path, cfg: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher.cli.main", "train", "--run-dir", str(run), "--config", str(cfg),
                           "--headless", *extra], capture_output=True, text=True, env=_env(), timeout=timeout,
                          cwd=run.parent)


def _metrics(run: Path) -> list[dict[str, Any]]:
    p = run / "train" / "metrics.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


# ----- config -----

def test_config_errors_name_the_field_and_fix(tmp_path: Path) -> None:
    good = {"model": "m", "stages": [{"name": "a", "iters": 10, "learning_rate": 1e-5}]}
    cfg = parse_train_config(good)
    assert cfg.batch_size == 2 and cfg.lora.rank == 16 and cfg.lora.scale == 20.0
    with pytest.raises(ConfigError, match=r"field 'lora.rnak'.*fix: remove it or check its spelling"):
        parse_train_config({**good, "lora": {"rnak": 8}})
    with pytest.raises(ConfigError, match=r"field 'stages'"):
        parse_train_config({**good, "stages": []})
    with pytest.raises(ConfigError, match=r"field 'num_layers'.*-1 for all"):
        parse_train_config({**good, "num_layers": 0})
    with pytest.raises(ConfigError, match=r"unique name"):
        parse_train_config({**good, "stages": good["stages"] * 2})
    bad = tmp_path / "t.toml"
    bad.write_text('model = "m"\nbatch_size = "two"\n[[stages]]\nname="a"\niters=1\nlearning_rate=1e-5\n')
    with pytest.raises(ConfigError, match=r"field 'batch_size'"):
        load_train_config(bad)


def test_bundled_train_toml_is_valid() -> None:
    cfg = load_train_config(PACKAGED_CONFIGS / "train.toml")
    assert cfg.batch_size == 2 and cfg.lora.rank == 16 and len(cfg.stages) >= 2


def test_form_from_prompt_and_metrics_tail(tmp_path: Path) -> None:
    ex = {"messages": [{"role": "user", "content": "Write a Terza Rima about rain in a calm tone"}]}
    assert example_form(ex) == "Terza Rima"
    assert example_form({"messages": [{"role": "user", "content": "Write an Ode about x"}]}) == "Ode"
    p = tmp_path / "m.jsonl"
    tail = FileTailer(p)
    assert metrics_records(tail) == []
    p.write_bytes(b'{"iteration": 1}\n{"iterat')
    assert metrics_records(tail) == [{"iteration": 1}]  # the partial line waits for its newline
    with open(p, "ab") as f:
        f.write(b'ion": 2}\n')
    assert metrics_records(tail) == [{"iteration": 2}]
    p.unlink()
    p.write_bytes(b'{"iteration": 9}\n')  # replaced by a fresh run: starts over
    assert metrics_records(tail) == [{"iteration": 9}]


# ----- end to end -----

@pytest.mark.slow
def test_two_stages_end_to_end(tmp_path: Path, tiny_model: Path) -> None:
    run = _run_dir(tmp_path)
    cfg = _write_cfg(tmp_path / "train.toml", tiny_model, [
        {"name": "haiku", "forms": ["Haiku"], "iters": 15, "learning_rate": 1e-3},
        {"name": "all", "forms": [], "iters": 15, "learning_rate": 5e-4},
    ])
    r = _cli(run, cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "stage 2/2 all" in r.stdout and "overall" in r.stdout  # progress lines and the eval table

    recs = _metrics(run)
    train = [x for x in recs if x["train_loss"] is not None]
    assert {x["stage"] for x in train} == {"haiku", "all"}
    assert train[-1]["train_loss"] < train[0]["train_loss"]
    assert train[-1]["global_iteration"] == 30
    for key in ("learning_rate", "iterations_per_second", "tokens_per_second", "peak_memory", "time"):
        assert train[0][key] is not None
    assert any(x["val_loss"] is not None for x in recs)
    # stage 1 saw only Haiku prompts
    stage1 = (run / "train" / "stage-1-haiku" / "data" / "train.jsonl").read_text().splitlines()
    assert len(stage1) == 20 and all("Write a Haiku" in line for line in stage1)

    state = json.loads((run / "train" / "state.json").read_text())
    assert state["status"] == "done" and state["completed"] == ["haiku", "all"]
    for d in ("stage-1-haiku", "stage-2-all"):
        assert (run / "train" / d / "adapters.safetensors").exists()
        assert json.loads((run / "train" / d / "adapter_config.json").read_text())["lora_parameters"]["rank"] == 16

    ev = json.loads((run / "train" / "eval.json").read_text())
    assert set(ev["forms"]) == {"Haiku", "Limerick"}
    for row in ev["forms"].values():
        assert row["before"]["n"] == 2 and row["after"]["n"] == 2
    assert set(ev["overall"]) == {"before", "after"}
    assert all("a kite" in s["prompt"] or "orchard" in s["prompt"] for s in ev["samples"])  # held-out topics

    snap = read_training_state(run)
    assert snap is not None and snap.status == "done"
    assert snap.stages == ("haiku", "all") and snap.iteration == snap.total_iters == 30
    assert snap.train_loss[-1][0] == 30 and snap.val_loss and snap.eval is not None

    import mlx_lm  # the stage adapter loads with mlx-lm's own loader

    model, _ = mlx_lm.load(str(tiny_model), adapter_path=str(run / "train" / "stage-2-all"))
    assert model is not None


@pytest.mark.slow
def test_stop_then_resume(tmp_path: Path, tiny_model: Path) -> None:
    run = _run_dir(tmp_path)
    cfg = load_train_config(_write_cfg(tmp_path / "train.toml", tiny_model, [
        {"name": "one", "iters": 120, "learning_rate": 1e-3}], steps_per_save=1000, steps_per_eval=1000,
        eval={"enabled": False}))
    proc = start_training(run, cfg=cfg)
    deadline = time.time() + 60
    while time.time() < deadline:
        snap = read_training_state(run)
        if snap and snap.iteration >= 10:
            break
        assert proc.poll() is None, (run / "train" / "train.log").read_text()
        time.sleep(0.1)
    assert stop_training(run)
    assert proc.wait(timeout=30) == 0
    state = json.loads((run / "train" / "state.json").read_text())
    assert state["status"] == "stopped", state
    stopped_at = state["saved_iteration"]
    assert 10 <= stopped_at < 120
    assert (run / "train" / "stage-1-one" / "adapters.safetensors").exists()
    assert read_training_state(run).status == "stopped"

    proc = start_training(run, cfg=cfg)  # same stages: continues from the saved adapter
    assert proc.wait(timeout=60) == 0, (run / "train" / "train.log").read_text()
    state = json.loads((run / "train" / "state.json").read_text())
    assert state["status"] == "done"
    recs = _metrics(run)
    its = [x["iteration"] for x in recs if x["train_loss"] is not None]
    assert its[-1] == 120
    resumed = [x for x in recs if x["val_loss"] is not None and x["iteration"] == stopped_at]
    assert resumed, "the resumed segment starts at the stop iteration"
    assert "resume" in (run / "train" / "train.log").read_text()


# ----- clear errors -----

def _runner(run: Path, cfg: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher.train.runner", "--run-dir", str(run), "--config", str(cfg)],
                          capture_output=True, text=True, env=_env(**env), timeout=60)


def _assert_clear_error(r: subprocess.CompletedProcess[str], run: Path, needle: str) -> None:
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "fix:" in lines[0], r.stderr
    state = json.loads((run / "train" / "state.json").read_text())
    assert state["status"] == "failed" and needle in state["error"]


def test_error_model_path_missing(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    cfg = _write_cfg(tmp_path / "t.toml", tmp_path / "no-such-model", [{"name": "a", "iters": 5, "learning_rate": 1e-4}])
    r = _cli(run, cfg, timeout=60)
    assert r.returncode == 2
    assert "does not exist" in r.stderr and "fix:" in r.stderr
    assert "does not exist" in json.loads((run / "train" / "state.json").read_text())["error"]
    r = _runner(run, cfg)
    _assert_clear_error(r, run, "does not exist")
    # a hub id that is not in the offline cache
    cfg2 = _write_cfg(tmp_path / "t2.toml", "nobody/no-such-model-xyz", [{"name": "a", "iters": 5, "learning_rate": 1e-4}])
    _assert_clear_error(_runner(run, cfg2), run, "not in the Hugging Face cache")


def test_error_mlx_missing(tmp_path: Path, tiny_model: Path) -> None:
    run = _run_dir(tmp_path)
    fake = tmp_path / "fake"
    (fake / "mlx").mkdir(parents=True)
    (fake / "mlx" / "__init__.py").write_text("raise ImportError(\"No module named 'mlx.core'\")\n")
    cfg = _write_cfg(tmp_path / "t.toml", tiny_model, [{"name": "a", "iters": 5, "learning_rate": 1e-4}])
    r = _runner(run, cfg, PYTHONPATH=str(fake))
    _assert_clear_error(r, run, 'pip install "mlx[cpu]" mlx-lm')
    assert "[cpu] extra is required" in r.stderr


def test_error_too_few_examples_and_layers(tmp_path: Path, tiny_model: Path) -> None:
    run = _run_dir(tmp_path, n_train=40, n_valid=1)
    cfg = _write_cfg(tmp_path / "t.toml", tiny_model, [{"name": "a", "iters": 5, "learning_rate": 1e-4}])
    _assert_clear_error(_runner(run, cfg), run, "1 valid example(s), fewer than batch_size = 2")
    run2 = _run_dir(tmp_path / "b", n_train=40, n_valid=8)
    cfg2 = _write_cfg(tmp_path / "t2.toml", tiny_model,
                      [{"name": "h", "forms": ["Sonnet"], "iters": 5, "learning_rate": 1e-4}])
    _assert_clear_error(_runner(run2, cfg2), run2, "0 train example(s)")
    cfg3 = tmp_path / "t3.toml"
    cfg3.write_text(cfg.read_text().replace("num_layers = 2", "num_layers = 16"))
    _assert_clear_error(_runner(run2, cfg3), run2, "has only 2 layers")


def test_held_out_prompts_avoid_training_prompts(tmp_path: Path) -> None:
    from watcher.train.evaluate import held_out_prompts
    from watcher.verify.text import strip_think

    run = _run_dir(tmp_path, n_train=40, n_valid=8, n_test=2)
    sys_msg = {"role": "system", "content": "You are a poet."}
    lines = (run / "gate" / "train.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["messages"].insert(0, sys_msg)
    (run / "gate" / "train.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    got = held_out_prompts(run, ["Haiku", "Limerick"], 3)
    train_prompts = {json.loads(x)["messages"][-2]["content"] for x in lines}
    for form, prompts in got.items():
        assert len(prompts) == 3
        users = [p[-1]["content"] for p in prompts]
        assert len(set(users)) == 3 and not set(users) & train_prompts
        assert all(f"Write a {form} about" in u for u in users)
    assert got["Haiku"][0][-1]["content"].startswith("Write a Haiku about a kite")  # from test.jsonl first
    assert got["Haiku"][-1][0] == sys_msg  # generated prompts keep the form's training system message
    assert strip_think("<think>plan</think>\nline one\nline two").strip() == "line one\nline two"
    assert strip_think("<think>never closed") == ""


def test_config_syntax_errors_name_the_format(tmp_path: Path) -> None:
    bad_json = tmp_path / "train.json"
    bad_json.write_text('{"model": "m",')
    with pytest.raises(ConfigError, match=r"train\.json: not valid JSON: .*fix: correct the syntax"):
        load_train_config(bad_json)
    bad_toml = tmp_path / "train.toml"
    bad_toml.write_text("model = \n")
    with pytest.raises(ConfigError, match=r"train\.toml: not valid TOML: .*fix: correct the syntax"):
        load_train_config(bad_toml)
