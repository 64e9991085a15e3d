"""Worker throughput against a rate-limited provider.

The simulator answers in 500 ms and enforces 1,200 requests per minute (429 + Retry-After beyond).
A real `watcher worker` subprocess should sustain >= 90% of the limit with <= 5% of requests
answered 429. Baseline, measured in the same run: one request at a time with a fixed sleep after a
429 (what seed 002's script did). Prints both rates and the ratio.

    python bench/throughput.py [--seconds 60] [--rpm 1200] [--latency 0.5]

Sliding-window mode (`--window`): the provider allows R requests per sliding window (R per 60 s by
default; `--window-s` scales the window so the bench is short) and answers 429 with Retry-After
past it, as real providers do, and sends their request-quota headers on every answer (Anthropic's
on /v1/messages, OpenAI's on /chat/completions); the worker is NOT told R. A job of 2R requests
should finish within 5% of the ideal time (one window plus latency) with at most 5% of requests
answered 429. Prints the efficiency (ideal / measured time), the 429 share, and the floor at this
concurrency: the first R calls take ceil(R/C) rounds of one latency, so a low C cannot reach the
ideal (the line says when the target is out of reach).

    python bench/throughput.py --window [--window-rpm 100] [--window-s 60] [--latency 0.2] [--kind anthropic]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from watcher.config import parse_config
from watcher.generate.supervisor import prepare_run
from watcher.providers.base import SIM_META_HEADER
from watcher.run.files import atomic_write_json
from watcher.simulator.config import SimConfig
from watcher.simulator.server import SimServer
from watcher.verify.forms.phonetics import load_dictionary

KEY = "sim-key"


def run_worker(sim: SimServer, seconds: float, rpm: int, warmup: float) -> tuple[float, int, int]:
    """(successful requests per minute, requests sent, 429s) for one worker over `seconds`, measured
    after `warmup`: the simulator's limit is a token bucket (capacity = rpm, as providers document
    theirs), so the first minute allows a burst; the sustained rate is what the bench is about."""
    with tempfile.TemporaryDirectory() as tmp:
        n_items = int(rpm / 60 * (seconds + warmup) * 1.5) + rpm  # more work than the run can hold
        data = {"job": "poetry", "name": "bench", "min_score": 0.8, "max_attempts": 1, "backend": "claude",
                "poetry": {"forms": ["Haiku"], "num": n_items},
                "backends": {"claude": {"kind": "anthropic", "model": "claude-haiku-4-5",
                                        "base_url": sim.base_url_anthropic, "api_key_env": "WATCHER_SIM_KEY",
                                        "simulated": True, "concurrency": 64, "rpm": rpm, "timeout_s": 10,
                                        "max_retries": 8, "max_tokens": 800}}}
        run_dir, _, _ = prepare_run(parse_config(data, "bench"), "bench", Path(tmp) / "runs")
        atomic_write_json(run_dir / "layout.json",
                          {"round": 0, "workers": {"0": {"backend": "claude", "shard": 0, "shards": 1}}})
        atomic_write_json(run_dir / "control.json", {"paused": False, "stop": False})
        env = {**os.environ, "WATCHER_SIM_KEY": KEY}
        proc = subprocess.Popen([sys.executable, "-m", "watcher.cli", "worker", "--run-dir", str(run_dir), "--worker-id", "0"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Measure from the first request the worker sends, not from process start.
        while sim.stats()["requests"] == 0:
            time.sleep(0.01)
        time.sleep(warmup)
        s0 = sim.stats()
        t0 = time.monotonic()
        time.sleep(seconds)
        s1 = sim.stats()
        elapsed = time.monotonic() - t0
        proc.kill()
        proc.wait()
    sent = s1["requests"] - s0["requests"]
    limited = s1["429"] - s0["429"]
    return (sent - limited - (s1["faults"] - s0["faults"])) / elapsed * 60, sent, limited


def run_baseline(sim: SimServer, seconds: float) -> tuple[float, int, int]:
    """One request at a time; after a 429, a fixed 2 s sleep (no Retry-After, no concurrency)."""
    ok = sent = limited = 0
    body = {"model": "base", "max_tokens": 200, "messages": [{"role": "user", "content": "Write a Haiku about rain in a calm tone"}]}
    # The sim metadata a simulated backend sends, so the baseline gets the same haiku answers as the worker.
    meta = json.dumps({"job": "poetry", "kind": "generate", "group": "Haiku", "topic": "rain", "tone": "calm"})
    t0 = time.monotonic()
    with httpx.Client(timeout=10) as c:
        while time.monotonic() - t0 < seconds:
            r = c.post(f"{sim.base_url_openai}/chat/completions", json=body,
                       headers={"Authorization": f"Bearer {KEY}", SIM_META_HEADER: meta})
            sent += 1
            if r.status_code == 429:
                limited += 1
                time.sleep(2.0)
            elif r.status_code == 200:
                ok += 1
    return ok / (time.monotonic() - t0) * 60, sent, limited


def run_window(limit: int, window_s: float, latency: float, concurrency: int,
               kind: str = "openai") -> tuple[float, int, int]:
    """(seconds from the first request to the last item ended, requests sent, 429s) for 2R items."""
    cfg = SimConfig(api_key=KEY, latency_s=latency, jitter=0.0, window_rpm=limit, window_s=window_s,
                    defect_rate=0.0, seed=3)
    # The simulator answers haiku from the verifier's pronouncing dictionary; loaded on its first
    # answer, that would add half a second to the first round that a real provider does not have.
    load_dictionary()
    with SimServer(cfg) as sim, tempfile.TemporaryDirectory() as tmp:
        n_items = 2 * limit
        data = {"job": "poetry", "name": "bench", "min_score": 0.0, "max_attempts": 1, "backend": "local",
                "request_thinking": False, "poetry": {"forms": ["Haiku"], "num": n_items},
                "backends": {"local": {"kind": kind, "model": "sim-model",
                                       "base_url": sim.base_url_anthropic if kind == "anthropic" else sim.base_url_openai,
                                       "api_key_env": "WATCHER_SIM_KEY", "simulated": True,
                                       "concurrency": concurrency, "timeout_s": 30, "max_retries": 20,
                                       "max_tokens": 800, "item_deadline_s": 10 * window_s}}}
        run_dir, _, _ = prepare_run(parse_config(data, "bench"), "bench", Path(tmp) / "runs")
        atomic_write_json(run_dir / "layout.json",
                          {"round": 0, "workers": {"0": {"backend": "local", "shard": 0, "shards": 1}}})
        atomic_write_json(run_dir / "control.json", {"paused": False, "stop": False})
        env = {**os.environ, "WATCHER_SIM_KEY": KEY}
        proc = subprocess.Popen([sys.executable, "-m", "watcher.cli", "worker", "--run-dir", str(run_dir),
                                 "--worker-id", "0"], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while sim.stats()["requests"] == 0:
            time.sleep(0.005)
        t0 = time.monotonic()
        files = [run_dir / "dataset.jsonl", run_dir / "rejects.jsonl"]
        ended = 0
        while ended < n_items and proc.poll() is None:
            time.sleep(0.02)
            ended = sum(f.read_bytes().count(b"\n") for f in files if f.exists())
        took = time.monotonic() - t0
        proc.kill()
        proc.wait()
        st = sim.stats()
    return took, st["requests"], st["429"]


def window_floor(limit: int, window_s: float, latency: float, concurrency: int) -> float:
    """The shortest a 2R job can take at this concurrency: the first R calls go out in
    ceil(R/C) rounds of one latency each, the last of them starts (ceil(R/C) - 1) latencies after
    the first, the window lets the last of the second R in one window after that, and it takes one
    latency more to answer."""
    return (math.ceil(limit / concurrency) - 1) * latency + window_s + latency


def main_window(a: argparse.Namespace) -> None:
    took, sent, limited = run_window(a.window_rpm, a.window_s, a.latency, a.concurrency, a.kind)
    ideal = a.window_s + a.latency
    share = limited / sent if sent else 0.0
    eff = ideal / took if took else 0.0
    floor = window_floor(a.window_rpm, a.window_s, a.latency, a.concurrency)
    print(f"simulator: {a.window_rpm} requests per sliding {a.window_s:g}s window, latency {a.latency:.2f}s; "
          f"job of {2 * a.window_rpm} requests, worker concurrency {a.concurrency} ({a.kind}), told no limit")
    print(f"floor at this concurrency: {floor:.2f}s = (ceil({a.window_rpm}/{a.concurrency}) - 1) x {a.latency:g}s "
          f"+ {a.window_s:g}s + {a.latency:g}s, best efficiency {100 * ideal / floor:.1f}%"
          + ("" if floor <= 1.05 * ideal else " [the target cannot be met at this concurrency and latency]"))
    print(f"finished in {took:.2f}s; ideal {ideal:.2f}s (one window + latency): efficiency {100 * eff:.1f}% "
          f"[{'ok' if took <= 1.05 * ideal else 'MISSED'} target <= 5% over]")
    print(f"{sent} requests, {limited} answered 429 = {100 * share:.1f}% "
          f"[{'ok' if share <= 0.05 else 'MISSED'} target <= 5%]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", action="store_true", help="sliding-window mode (see the module doc)")
    ap.add_argument("--window-rpm", type=int, default=100)
    ap.add_argument("--window-s", type=float, default=60.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--kind", choices=("openai", "anthropic"), default="openai",
                    help="--window: the protocol, and so the quota headers' dialect")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds to spend the initial burst first")
    ap.add_argument("--baseline-seconds", type=float, default=20.0)
    ap.add_argument("--rpm", type=int, default=1200)
    ap.add_argument("--latency", type=float, default=None,
                    help="seconds per answer (default 0.5; 0.2 in --window mode)")
    a = ap.parse_args()
    if a.latency is None:
        a.latency = 0.2 if a.window else 0.5
    if a.window:
        main_window(a)
        return
    with SimServer(SimConfig(api_key=KEY, latency_s=a.latency, rpm=a.rpm, defect_rate=0.0, seed=1)) as sim:
        rate, sent, limited = run_worker(sim, a.seconds, a.rpm, a.warmup)
    with SimServer(SimConfig(api_key=KEY, latency_s=a.latency, rpm=a.rpm, defect_rate=0.0, seed=2)) as sim:
        b_rate, b_sent, b_limited = run_baseline(sim, a.baseline_seconds)
    share429 = limited / sent if sent else 0.0
    print(f"simulator: latency {a.latency:.2f}s, limit {a.rpm} rpm")
    print(f"watcher worker : {rate:7.1f} ok/min = {100 * rate / a.rpm:5.1f}% of the limit; "
          f"{sent} requests, {limited} answered 429 ({100 * share429:.1f}%) over {a.seconds:.0f}s "
          f"after a {a.warmup:.0f}s warm-up")
    print(f"sequential base: {b_rate:7.1f} ok/min; {b_sent} requests, {b_limited} answered 429 over "
          f"{a.baseline_seconds:.0f}s")
    print(f"ratio watcher/baseline: {rate / b_rate:.2f}x   "
          f"targets: >= 90% of limit [{'ok' if rate >= 0.9 * a.rpm else 'MISSED'}], "
          f"<= 5% 429 [{'ok' if share429 <= 0.05 else 'MISSED'}]")


if __name__ == "__main__":
    main()
