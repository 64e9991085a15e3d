"""Plain helpers shared by tests (fixtures live in conftest.py); tests import these, never each other."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
import tomli_w

from watcher.config import load_config
from watcher.generate.jobs import make_job
from watcher.generate.plan import build_plan
from watcher.run.files import atomic_write_json
from watcher.run.paths import RunPaths

ROOT = Path(__file__).resolve().parents[1]
SIM_KEY = "sim-key"


def sim_config_dict(sim: Any, forms: list[str] | None = None, num: int = 3, **top: Any) -> dict[str, Any]:
    """A poetry run config on the simulator: one Anthropic-protocol and one OpenAI-protocol backend."""
    backend_common = {"api_key_env": "WATCHER_SIM_KEY", "simulated": True, "timeout_s": 2.0,
                      "concurrency": 4, "max_retries": 4, "max_tokens": 800, "price_in": 1.0, "price_out": 5.0}
    data: dict[str, Any] = {
        "job": "poetry", "name": "t", "min_score": 0.8, "max_attempts": 4, "model_mix": 0.5,
        "backends_order": ["claude", "openrouter"],
        "poetry": {"forms": forms or ["Haiku", "Limerick"], "num": num},
        "backends": {
            "claude": {"kind": "anthropic", "model": "claude-haiku-4-5", "base_url": sim.base_url_anthropic,
                       **backend_common},
            "openrouter": {"kind": "openai", "model": "moonshotai/kimi-k2", "base_url": sim.base_url_openai,
                           **backend_common},
        },
    }
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k].update(v)
        else:
            data[k] = v
    return data


def make_run(tmp_path: Path, data: dict[str, Any], name: str = "run1") -> Path:
    from watcher.config import parse_config
    from watcher.generate.supervisor import prepare_run

    cfg = parse_config(data, "test")
    run_dir, _, _ = prepare_run(cfg, name, tmp_path / "runs")
    return run_dir


def worker_cmd(run_dir: Path, wid: int) -> list[str]:
    return [sys.executable, "-m", "watcher.cli.main", "worker", "--run-dir", str(run_dir), "--worker-id", str(wid)]


def write_layout(run_dir, backends=("claude", "openrouter"), round_=0):
    workers = {str(i): {"backend": b, "shard": 0, "shards": 1} for i, b in enumerate(backends)}
    atomic_write_json(run_dir / "layout.json", {"round": round_, "workers": workers})
    atomic_write_json(run_dir / "control.json", {"paused": False, "stop": False})


def run_workers(run_dir, env, n=2, timeout=90):
    procs = [subprocess.Popen(worker_cmd(run_dir, i), env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for i in range(n)]
    outs = []
    for p in procs:
        out, _ = p.communicate(timeout=timeout)
        outs.append((p.returncode, out.decode()))
    return outs


def read_lines(path):
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def planned_ids(run_dir):
    cfg = load_config(run_dir / "config.toml")[0]
    return {it.id for it in build_plan(cfg, make_job(cfg))}


def assert_each_item_once(run_dir):
    paths = RunPaths(run_dir)
    acc = read_lines(paths.dataset)
    rej = read_lines(paths.rejects)
    ids = [r["id"] for r in acc] + [r["id"] for r in rej]
    assert len(ids) == len(set(ids)), "an item was recorded twice"
    assert set(ids) == planned_ids(run_dir)
    return acc, rej


def write_sim_config(tmp_path: Path, sim: Any, forms: list[str] | None = None, num: int = 3,
                     **top: Any) -> Path:
    """`sim_config_dict` written to tmp_path/run.toml, its runs under tmp_path/runs."""
    data = sim_config_dict(sim, forms=forms, num=num, **top)
    data["runs_dir"] = str(tmp_path / "runs")
    path = tmp_path / "run.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def popen_run(cmd: list[str], cwd: Path, env: dict[str, str], stderr: int = subprocess.PIPE) -> subprocess.Popen:
    """A watcher command started in the background as a user would: no stdin, output captured as text."""
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr, text=True)


def wait_for(pred, timeout=60.0, step=0.05):
    """Poll `pred` until it is true or `timeout` seconds pass; returns whether it became true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def headless_cmd(cfg_path: Path, run: str = "r1", *extra: str) -> list[str]:
    return [sys.executable, "-m", "watcher.cli.main", "--headless", "--config", str(cfg_path), "--run", run, *extra]


def run_pids(run_dir: Path) -> list[int]:
    """Every pid the run's files name: its supervisor and workers (supervisor.json, heartbeats)."""
    from watcher.run.files import read_json

    info = read_json(run_dir / "supervisor.json", {}) or {}
    pids = [int(info.get("pid") or 0)] + [int(w.get("pid") or 0) for w in (info.get("workers") or {}).values()]
    pids += [int((read_json(p, {}) or {}).get("pid") or 0) for p in (run_dir / "workers").glob("*.json")]
    return [p for p in pids if p > 0]


def assert_run_intact(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """Every planned item accepted or rejected exactly once, no duplicate id, no broken line (every
    line ends with a newline and parses), and no process of the run left."""
    from watcher.run.files import pid_alive

    for p in (RunPaths(run_dir).dataset, RunPaths(run_dir).rejects):
        data = p.read_bytes() if p.exists() else b""
        assert not data or data.endswith(b"\n"), f"{p.name}: a broken last line"
    acc, rej = assert_each_item_once(run_dir)
    assert wait_for(lambda: not any(pid_alive(p) for p in run_pids(run_dir)), 10), "a process of the run is left"
    return acc, rej


def one_line(text: str) -> str:
    """The single non-empty line of `text` (a user error is one line: no traceback)."""
    lines = [x for x in text.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def tiny_chat_tokenizer(texts: list[str]) -> Any:
    """A word-level tokenizer trained on `texts`, with a chat template that renders tool calls:
    enough for mlx-lm's load_dataset and ChatDataset.process, offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(
        special_tokens=["<unk>", "<s>", "</s>", "<pad>"], show_progress=False))
    template = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}"
                "{% for c in m.get('tool_calls') or [] %} call {{ c['function']['name'] }}{% endfor %}"
                " {{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", chat_template=template)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a server the test started; kill it when it does not go within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 120.0) -> None:
    """Poll `url` until it answers 200; fail the test (and stop `proc`) when `proc` dies or time runs out."""
    def up() -> bool:
        if proc.poll() is not None:
            return True
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    if not wait_for(up, timeout, 0.2) or proc.poll() is not None:
        stop_process(proc)
        pytest.fail(f"{what} did not start (exit {proc.returncode})")


def start_mlx_server(model: Path) -> tuple[subprocess.Popen, str]:
    """A real `mlx_lm server` on `model`, on a free loopback port: (process, base URL ending in /v1)."""
    port = free_port()
    env = {**os.environ, "MLX_DISABLE_COMPILE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlx_lm", "server", "--model", str(model), "--port", str(port)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    wait_ready(f"{url}/models", proc, "mlx_lm.server")
    return proc, url
