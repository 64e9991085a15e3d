"""Benchmark of batch mode: a large batch job against the simulator with no processing delay.

    python bench/batch.py [--items 20000] [--api anthropic|openai|openrouter]

A real worker (`watcher worker`, subprocess) submits every item through the simulator's batch API,
polls, reads the results and verifies and records each one (feedback retries go out in further
batches, as in a real run). Its wall time and peak RSS are set against a bare loop that writes the
same result lines to JSONL (`orjson.loads` + `orjson.dumps` + write per line) in its own subprocess,
measured in the same run; the ratios are printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from watcher.config import parse_config
from watcher.generate.supervisor import prepare_run
from watcher.run.files import atomic_write_json
from watcher.simulator.config import SimConfig
from watcher.simulator.server import SimServer

KEY = "sim-key"
BARE = """
import sys, orjson
with open(sys.argv[1], "rb") as src, open(sys.argv[2], "ab") as out:
    for line in src:
        out.write(orjson.dumps(orjson.loads(line)) + b"\\n")
"""


def run_child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of a subprocess. The peak is the child's
    own VmHWM, sampled from /proc while it runs (ru_maxrss would count the parent's pages it forked)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0.0
    while True:
        try:
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime, peak, p.returncode
        time.sleep(0.01)


def config(sim: SimServer, items: int, api: str) -> dict:
    kind = "anthropic" if api == "anthropic" else "openai"
    url = sim.base_url_anthropic if kind == "anthropic" else sim.base_url_openai
    return {"job": "poetry", "name": "bench", "min_score": 0.8, "max_attempts": 4, "backend": "b",
            "poetry": {"forms": ["Haiku"], "num": items},
            "backends": {"b": {"kind": kind, "model": "sim-model", "base_url": url, "api_key_env": "WATCHER_SIM_KEY",
                               "simulated": True, "max_tokens": 800, "timeout_s": 60, "price_in": 1.0,
                               "price_out": 5.0, "batch": True, "batch_api": "auto" if kind == "anthropic" else api,
                               "batch_poll_s": 0.05}}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--api", choices=("anthropic", "openai", "openrouter"), default="anthropic")
    a = ap.parse_args()
    env = {**os.environ, "WATCHER_SIM_KEY": KEY}
    with tempfile.TemporaryDirectory() as tmp, SimServer(SimConfig(api_key=KEY, latency_s=0, seed=1)) as sim:
        cfg = parse_config(config(sim, a.items, a.api), "bench")
        run_dir, _, _ = prepare_run(cfg, "bench", Path(tmp) / "runs")
        atomic_write_json(run_dir / "layout.json", {"round": 0, "workers": {"0": {"backend": "b", "shard": 0, "shards": 1}}})
        atomic_write_json(run_dir / "control.json", {"paused": False, "stop": False})
        wall, cpu, rss, code = run_child([sys.executable, "-m", "watcher.cli.main", "worker", "--run-dir", str(run_dir),
                                     "--worker-id", "0"], env)
        if code != 0:
            print(f"worker exited {code}; see {run_dir}/logs", file=sys.stderr)
            return 1
        batches = [b for b in sim.batches.batches.values()]
        lines = [line for b in batches for line in (b.lines or [])]
        results = Path(tmp) / "results.jsonl"
        results.write_bytes(b"".join(line + b"\n" for line in lines))
        bwall, bcpu, brss, _ = run_child([sys.executable, "-c", BARE, str(results), str(Path(tmp) / "bare.jsonl")], env)
        accepted = sum(1 for _ in (run_dir / "dataset.jsonl").open("rb"))
        rejected = sum(1 for _ in (run_dir / "rejects.jsonl").open("rb")) if (run_dir / "rejects.jsonl").exists() else 0
        twice = sum(1 for v in sim.submissions().values() if v != 1)
        print(f"batch job: {a.items:,} items via {a.api} batches, simulator without processing delay")
        print(f"  {len(batches)} batches, {len(lines):,} requests ({len(lines) / a.items:.2f} per item), "
              f"accepted {accepted:,}, rejected {rejected:,}, custom_ids sent twice {twice}")
        print(f"  watcher worker (submit + poll + ingest + verify) {wall:7.2f} s wall, {cpu:6.2f} s CPU, "
              f"peak RSS {rss:5.0f} MB  ({len(lines) / wall:,.0f} results/s)")
        print(f"  bare JSONL loop over the same results          {bwall:7.2f} s wall, {bcpu:6.2f} s CPU, "
              f"peak RSS {brss:5.0f} MB")
        print(f"  ratio watcher/bare: wall {wall / bwall:.1f}x, CPU {cpu / bcpu:.1f}x, peak memory {rss / brss:.1f}x "
              "(the worker's wall time includes the simulator writing the answers, in this process)")
        size = results.stat().st_size
        print(f"  results {size / 1e6:.0f} MB; dataset {(run_dir / 'dataset.jsonl').stat().st_size / 1e6:.0f} MB; "
              f"ledger {(run_dir / 'batches.jsonl').stat().st_size / 1e6:.1f} MB")
        _ = orjson  # the bare loop's library, imported here so a missing install fails before the run
    return 0


if __name__ == "__main__":
    sys.exit(main())
