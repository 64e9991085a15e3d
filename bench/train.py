"""Overhead of watcher's training runner vs plain `python -m mlx_lm lora`, measured in the same run.

Same tiny offline model, same data, same settings (one stage, N iterations, batch 2, LoRA rank 16
via the YAML `lora_parameters`). Each side runs `--repeats` times, interleaved, and the minimum
wall time (subprocess start to exit) counts. Target: overhead <= 5%.

    python bench/train.py [--iters 200] [--repeats 2] [--no-compile]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {"batch_size": 2, "num_layers": 2, "max_seq_length": 256, "steps_per_report": 10,
            "steps_per_eval": 50, "steps_per_save": 100, "val_batches": 2, "seed": 0}
LORA = {"rank": 16, "scale": 20.0, "dropout": 0.0}
LR = 1e-4


def write_watcher_cfg(path: Path, model: Path, iters: int) -> Path:
    lines = [f'model = "{model}"'] + [f"{k} = {json.dumps(v)}" for k, v in SETTINGS.items()]
    lines += ["[lora]"] + [f"{k} = {json.dumps(v)}" for k, v in LORA.items()]
    lines += ["[[stages]]", 'name = "all"', f"iters = {iters}", f"learning_rate = {LR}", "[eval]", "enabled = false"]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_mlx_yaml(path: Path) -> Path:
    path.write_text("lora_parameters:\n" + "".join(f"  {k}: {v}\n" for k, v in LORA.items()))
    return path


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """(wall s, CPU s of the child): CPU time is steadier than wall time on a busy machine."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "wb") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        sys.exit(f"{cmd[2]} failed with exit code {rc}; see {log}:\n{log.read_text()[-2000:]}")
    return dt, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true", help="set MLX_DISABLE_COMPILE=1 for both sides")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()

    from watcher.train.tinymodel import export_texts, make_tiny_export, make_tiny_model

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if a.no_compile:
        env["MLX_DISABLE_COMPILE"] = "1"
    tmp = Path(tempfile.mkdtemp(prefix="watcher-bench-train-"))
    try:
        gate = make_tiny_export(tmp / "run" / "gate")
        model = make_tiny_model(tmp / "model", export_texts(gate))
        wcfg = write_watcher_cfg(tmp / "train.toml", model, a.iters)
        yaml = write_mlx_yaml(tmp / "lora.yaml")
        run = tmp / "run"

        def watcher_cmd(iters: int) -> list[str]:
            cfg = wcfg if iters == a.iters else write_watcher_cfg(tmp / "warm.toml", model, iters)
            shutil.rmtree(run / "train", ignore_errors=True)  # a fresh run each time, no resume
            return [sys.executable, "-m", "watcher.train.runner", "--run-dir", str(run), "--config", str(cfg)]

        def mlx_cmd(iters: int) -> list[str]:
            shutil.rmtree(tmp / "mlx-adapters", ignore_errors=True)
            s = SETTINGS
            return [sys.executable, "-m", "mlx_lm", "lora", "--model", str(model), "--train", "--data", str(gate),
                    "-c", str(yaml), "--iters", str(iters), "--batch-size", str(s["batch_size"]),
                    "--num-layers", str(s["num_layers"]), "--learning-rate", str(LR),
                    "--steps-per-report", str(s["steps_per_report"]), "--steps-per-eval", str(s["steps_per_eval"]),
                    "--save-every", str(s["steps_per_save"]), "--val-batches", str(s["val_batches"]),
                    "--max-seq-length", str(s["max_seq_length"]), "--seed", str(s["seed"]),
                    "--adapter-path", str(tmp / "mlx-adapters")]

        # Warm-up (untimed): imports into the page cache, compiled kernels into $TMPDIR/mlx.
        timed(mlx_cmd(20), env, tmp / "warm-mlx.log")
        timed(watcher_cmd(20), env, tmp / "warm-watcher.log")

        times: dict[str, list[float]] = {"watcher": [], "mlx_lm": []}
        cpu: dict[str, list[float]] = {"watcher": [], "mlx_lm": []}
        for r in range(a.repeats):
            order = [("watcher", watcher_cmd), ("mlx_lm", mlx_cmd)]
            for name, make in order if r % 2 == 0 else order[::-1]:  # interleave against drift
                wall, cpu_s = timed(make(a.iters), env, tmp / f"{name}-{r}.log")
                times[name].append(wall)
                cpu[name].append(cpu_s)
                print(f"  {name:8s} run {r + 1}: {wall:.2f} s wall, {cpu_s:.2f} s CPU", flush=True)
        metrics = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines() if x.strip()]
        assert metrics and metrics[-1]["global_iteration"] == a.iters, "watcher's metrics are incomplete"
        w, m = min(times["watcher"]), min(times["mlx_lm"])
        over = (w - m) / m * 100
        wc, mc = min(cpu["watcher"]), min(cpu["mlx_lm"])
        compile_s = "off" if env.get("MLX_DISABLE_COMPILE") else "on"
        print(f"iters={a.iters} repeats={a.repeats} compile={compile_s}")
        print(f"plain mlx_lm lora : {m:.2f} s (min of {a.repeats})")
        print(f"watcher runner    : {w:.2f} s (min of {a.repeats})")
        print(f"overhead          : {over:+.1f}%  (target <= 5%) {'OK' if over <= 5 else 'OVER'}")
        print(f"CPU time          : mlx_lm {mc:.2f} s, watcher {wc:.2f} s, overhead {(wc - mc) / mc * 100:+.1f}%")
        return 0
    finally:
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
