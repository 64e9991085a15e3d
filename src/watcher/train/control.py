"""LoRA training on a run's gated export: config, supervision of the runner subprocess, state, CLI.

The training itself happens in `python -m watcher.train.runner` (mlx-lm's Python API with our
training callback). This module never imports mlx: front ends (TUI, headless) use
`start_training`, `stop_training` and `read_training_state`, which only touch files and pids.

Files under `<run>/train/`:
  config.json            the resolved TrainConfig the runner uses (written by start_training)
  state.json             {status running|stopped|done|failed, stage, stage_index, iteration, ...}
  metrics.jsonl          one line per mlx-lm train/val report (from the runner's callback)
  stage-<k>-<name>/      adapters.safetensors + adapter_config.json (mlx_lm.load(adapter_path=...))
  eval.json              before/after verifier scores per form
  train.log              the runner's stdout/stderr
  stop                   flag file: finish the current step, save, exit (SIGTERM does the same)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watcher.config import format_validation_error, resolve_config_path
from watcher.errors import EXIT_USAGE, ConfigError, TrainError
from watcher.run.files import atomic_write_json, pid_alive, read_json
from watcher.train.state import TrainingState

STATUSES = ("running", "stopped", "done", "failed")
MLX_MISSING = ('mlx is not installed for training; fix: pip install "mlx[cpu]" mlx-lm '
               "(on Linux the [cpu] extra is required: plain mlx-lm pulls no mlx there)")
_FORM_RE = re.compile(r"^\s*write an? (.+?) about\b", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraConfig(_Strict):
    rank: int = Field(16, ge=1, le=1024)
    scale: float = Field(20.0, gt=0, description="mlx-lm's LoRA scale (not alpha)")
    dropout: float = Field(0.0, ge=0, lt=1)


class StageConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    forms: list[str] = Field(default_factory=list, description="poetry forms to train on; empty = all")
    categories: list[str] = Field(default_factory=list, description="categories (agentic jobs); empty = all")
    iters: int = Field(ge=1)
    learning_rate: float = Field(gt=0, lt=1)


class EvalConfig(_Strict):
    enabled: bool = True
    prompts_per_form: int = Field(5, ge=1, le=1000)
    max_tokens: int = Field(384, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)
    forms: list[str] = Field(default_factory=list, description="empty = the forms in the gated data")


class TrainConfig(_Strict):
    model: str = Field(min_length=1, description="local mlx model directory or Hugging Face id")
    resume_adapter: str = Field("", description="adapter dir or .safetensors to continue from")
    batch_size: int = Field(2, ge=1)
    num_layers: int = Field(16, ge=-1, description="-1 = all layers")
    max_seq_length: int = Field(2048, ge=8)
    grad_checkpoint: bool = False
    mask_prompt: bool = False
    steps_per_report: int = Field(10, ge=1)
    steps_per_eval: int = Field(100, ge=1)
    steps_per_save: int = Field(100, ge=1)
    val_batches: int = Field(25, ge=-1)
    seed: int = 0
    lora: LoraConfig = Field(default_factory=LoraConfig)
    stages: list[StageConfig] = Field(min_length=1)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    build_tiny_model: bool = Field(False, description="demo: build a tiny llama offline at `model` when it is missing")

    @field_validator("num_layers")
    @classmethod
    def _layers(cls, v: int) -> int:
        if v == 0:
            raise ValueError("num_layers = 0 trains nothing; use a positive count or -1 for all layers")
        return v

    @field_validator("val_batches")
    @classmethod
    def _val_batches(cls, v: int) -> int:
        if v == 0:
            raise ValueError("val_batches = 0 skips validation; use a positive count or -1 for all")
        return v

    @model_validator(mode="after")
    def _unique_stages(self) -> TrainConfig:
        seen: set[str] = set()
        for s in self.stages:
            if s.name in seen:
                raise ValueError(f"two stages are named '{s.name}'; give each [[stages]] a unique name")
            seen.add(s.name)
        return self

    @property
    def total_iters(self) -> int:
        return sum(s.iters for s in self.stages)


def parse_train_config(data: dict[str, Any], source: str = "train config", base_dir: Path | None = None) -> TrainConfig:
    try:
        cfg = TrainConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source)) from None
    # Relative model/adapter paths: the working dir first, then the config file's directory.
    cfg.model = _resolve_local(cfg.model, base_dir)
    if cfg.resume_adapter:
        cfg.resume_adapter = _resolve_local(cfg.resume_adapter, base_dir)
    return cfg


def default_train_config_name(run_dir: Path | None) -> str:
    """A demo run (simulated backends) trains the demo's tiny model: no hub, no download."""
    if run_dir is not None:
        try:
            text = (Path(run_dir) / "config.toml").read_text()
        except OSError:
            return "train"
        if "simulated = true" in text:
            return "train_demo"
    return "train"


def load_train_config(path: str | os.PathLike[str] | None = None, run_dir: Path | None = None) -> TrainConfig:
    """configs/train.toml (or `path`, or train_demo.toml for a demo run), validated; errors name the
    field and the fix."""
    p = resolve_config_path(path, default_train_config_name(run_dir))
    try:
        raw = p.read_text()
        data = json.loads(raw) if p.suffix == ".json" else tomllib.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}; fix: correct the syntax at that line") from None
    return parse_train_config(data, str(p), p.resolve().parent)


def _resolve_local(ref: str, base_dir: Path | None) -> str:
    p = Path(ref).expanduser()
    for cand in (p, (base_dir / p) if base_dir and not p.is_absolute() else None):
        if cand is not None and cand.exists():
            return str(cand.resolve())
    return ref  # a hub id, or a path the runner will report as missing


# ----- data filters shared by the runner and the evaluation -----

def first_user_prompt(example: dict[str, Any]) -> str:
    for m in example.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content") or "")
    return str(example.get("prompt") or "")


def example_form(example: dict[str, Any]) -> str | None:
    """The poetry form: a `form` key, else parsed from "Write a {form} about ..."."""
    if example.get("form"):
        return str(example["form"])
    m = _FORM_RE.match(first_user_prompt(example))
    return m.group(1).strip() if m else None


def stage_matches(example: dict[str, Any], stage: StageConfig) -> bool:
    if not stage.forms and not stage.categories:
        return True
    if stage.forms:
        form = (example_form(example) or "").casefold()
        if form in {f.casefold() for f in stage.forms}:
            return True
    if stage.categories:
        cat = str(example.get("category") or "").casefold()
        if cat in {c.casefold() for c in stage.categories}:
            return True
    return False


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TrainError(f"{path}:{n}: not valid JSON ({e}); fix: re-run `watcher gate`") from None
    return out


# ----- run directory, state -----

def train_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "train"


def stage_dir(run_dir: Path, index: int, stage: StageConfig) -> Path:
    """Stage k (1-based) lives in train/stage-<k>-<name>/."""
    return train_dir(run_dir) / f"stage-{index + 1}-{stage.name}"


def stage_signature(cfg: TrainConfig) -> list[dict[str, Any]]:
    """What must match for a stopped run to continue where it left off."""
    keys = {"model": cfg.model, "resume_adapter": cfg.resume_adapter, "lora": cfg.lora.model_dump(),
            "num_layers": cfg.num_layers}
    return [{**keys, **s.model_dump()} for s in cfg.stages]


def update_state(run_dir: Path, **fields: Any) -> dict[str, Any]:
    path = train_dir(run_dir) / "state.json"
    state = read_json(path, {}) or {}
    state.update(fields, updated_at=time.time())
    atomic_write_json(path, state)
    return state


def _runner_alive(state: dict[str, Any]) -> bool:
    pid = state.get("pid")
    if state.get("status") != "running":
        return False
    if not pid:  # start_training wrote the state, the runner has not yet: alive for a short while
        return time.time() - float(state.get("updated_at") or 0) < 30
    return pid_alive(int(pid))


def start_training(run_dir: Path, cfg_path: str | os.PathLike[str] | None = None,
                   cfg: TrainConfig | None = None) -> subprocess.Popen[bytes]:
    """Start (or resume) the runner for a run; returns at once. A stopped run with the same stages
    continues from its last saved adapter; anything else starts fresh."""
    run_dir = Path(run_dir)
    cfg = cfg or load_train_config(cfg_path, run_dir)
    if cfg.build_tiny_model and not Path(cfg.model).exists():
        from watcher.train.tinymodel import export_texts, make_tiny_model

        ensure_gate_export(run_dir)
        cfg.model = str(make_tiny_model(Path(cfg.model).resolve(), export_texts(run_dir / "gate")))
    tdir = train_dir(run_dir)
    tdir.mkdir(parents=True, exist_ok=True)
    prev = read_json(tdir / "state.json", {}) or {}
    if _runner_alive(prev):
        raise ConfigError(f"training is already running for {run_dir.name} (pid {prev.get('pid')}); "
                          "fix: wait for it, or stop it first")
    resumable = prev.get("status") in ("stopped", "failed", "running") and prev.get("signature") == stage_signature(cfg)
    if not resumable:
        for name in ("metrics.jsonl", "eval.json", "state.json"):
            (tdir / name).unlink(missing_ok=True)
        for d in tdir.glob("stage-*"):
            shutil.rmtree(d, ignore_errors=True)
    (tdir / "stop").unlink(missing_ok=True)
    atomic_write_json(tdir / "config.json", cfg.model_dump(mode="json"))
    update_state(run_dir, status="running", pid=None, error=None, stages=[s.name for s in cfg.stages],
                 total_iters=cfg.total_iters)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(tdir / "train.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher.train.runner", "--run-dir", str(run_dir),
             "--config", str(tdir / "config.json")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    state = read_json(tdir / "state.json", {}) or {}
    if not state.get("pid"):
        update_state(run_dir, pid=proc.pid)
    return proc


def stop_training(run_dir: Path) -> bool:
    """Ask the runner to finish its current step, save the adapter and exit (status `stopped`).
    Returns False when no runner was running."""
    tdir = train_dir(run_dir)
    state = read_json(tdir / "state.json", {}) or {}
    if not _runner_alive(state):
        return False
    tdir.mkdir(parents=True, exist_ok=True)
    (tdir / "stop").touch()  # the runner polls it each step: works even before its pid is known
    pid = state.get("pid")
    if pid:
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass
    return True


class MetricsTail:
    """Reads train/metrics.jsonl incrementally (byte offset; partial last lines wait; a new or
    truncated file starts over)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.ino: int | None = None
        self._partial = b""
        self.reset_count = 0

    def poll(self) -> list[dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self.offset:
                self._reset()
            return []
        if self.ino is not None and (st.st_ino != self.ino or st.st_size < self.offset):
            self._reset()
        self.ino = st.st_ino
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # no newline yet: not trusted until it has one
        out = []
        for line in lines:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return out

    def _reset(self) -> None:
        self.offset = 0
        self.ino = None
        self._partial = b""
        self.reset_count += 1


class _Aggregate:
    def __init__(self, path: Path) -> None:
        self.tail = MetricsTail(path)
        self.resets = 0
        self.clear()
        self.eval_mtime: float | None = None
        self.eval: dict[str, Any] | None = None

    def clear(self) -> None:
        self.train_loss: list[tuple[int, float]] = []
        self.val_loss: list[tuple[int, float]] = []
        self.last_train: dict[str, Any] | None = None
        self.recent: list[tuple[float, int]] = []  # (time, global iteration) of train reports
        self.max_it = 0

    def update(self) -> list[dict[str, Any]]:
        recs = self.tail.poll()
        if self.tail.reset_count != self.resets:
            self.resets = self.tail.reset_count
            self.clear()  # a fresh training run replaced the file: recs are from the new one
        for r in recs:
            it = int(r.get("global_iteration", r.get("iteration", 0)) or 0)
            self.max_it = max(self.max_it, it)
            if r.get("train_loss") is not None:
                self.train_loss.append((it, float(r["train_loss"])))
                self.last_train = r
                self.recent = (self.recent + [(float(r.get("time") or 0), it)])[-6:]
            elif r.get("val_loss") is not None:
                self.val_loss.append((it, float(r["val_loss"])))
        return recs

    def iters_per_s(self) -> float | None:
        # Wall clock over recent reports (includes validation), else mlx-lm's own figure.
        if len(self.recent) >= 2:
            (t0, i0), (t1, i1) = self.recent[0], self.recent[-1]
            if t1 > t0 and i1 > i0:
                return (i1 - i0) / (t1 - t0)
        if self.last_train and self.last_train.get("iterations_per_second"):
            return float(self.last_train["iterations_per_second"])
        return None

    def read_eval(self, path: Path) -> dict[str, Any] | None:
        try:
            m = path.stat().st_mtime
        except FileNotFoundError:
            self.eval, self.eval_mtime = None, None
            return None
        if m != self.eval_mtime:
            self.eval, self.eval_mtime = read_json(path), m
        return self.eval


_AGGREGATES: dict[str, _Aggregate] = {}


def read_training_state(run_dir: Path) -> TrainingState | None:
    """A snapshot for front ends, None when the run has never been trained; cheap to call every
    second (metrics are read incrementally)."""
    tdir = train_dir(Path(run_dir))
    state = read_json(tdir / "state.json")
    if state is None and not (tdir / "metrics.jsonl").exists():
        return None
    state = state or {}
    key = str(tdir.resolve())
    agg = _AGGREGATES.get(key)
    if agg is None:
        agg = _AGGREGATES[key] = _Aggregate(tdir / "metrics.jsonl")
    agg.update()
    status = state.get("status") or "stopped"
    error = state.get("error")
    if status == "running" and not _runner_alive(state):
        status = "failed"
        error = error or "the training process exited unexpectedly; see train/train.log"
    total = int(state.get("total_iters") or 0)
    iteration = max(int(state.get("global_iteration") or 0), agg.max_it)
    rate = agg.iters_per_s()
    eta = None
    if status == "running" and state.get("phase", "train") == "train" and rate and total:
        eta = max(0.0, (total - iteration) / rate)
    last = agg.last_train or {}
    return TrainingState(
        status=status,
        phase=state.get("phase", "train"),
        stage=state.get("stage"),
        stage_index=state.get("stage_index"),
        stages=tuple(state.get("stages") or ()),
        iteration=iteration,
        total_iters=total,
        train_loss=tuple(agg.train_loss),
        val_loss=tuple(agg.val_loss),
        tokens_per_second=last.get("tokens_per_second"),
        peak_memory=last.get("peak_memory"),
        eta_s=eta,
        eval=agg.read_eval(tdir / "eval.json"),
        error=error,
        pid=state.get("pid"),
    )


# ----- CLI: watcher train -----

def find_run_dir(name: str | None) -> Path:
    """`--run NAME` (or a path) under data/runs, the newest run when not given."""
    if name and (Path(name) / "gate").is_dir():  # a path to a run that has an export: take it as is
        return Path(name)
    from watcher.run.paths import find_run

    return Path(find_run(name))


def ensure_gate_export(run_dir: Path) -> None:
    if (run_dir / "gate" / "train.jsonl").exists():
        return
    try:
        from watcher.gate.run import run_gate
    except ImportError:
        raise ConfigError(f"{run_dir}/gate/train.jsonl is missing and the gate is not available; "
                          "fix: run `watcher gate` first") from None
    run_gate(run_dir)
    if not (run_dir / "gate" / "train.jsonl").exists():
        raise ConfigError(f"the gate wrote no {run_dir}/gate/train.jsonl; fix: check `watcher gate` output")


def _fmt_eta(s: float | None) -> str:
    if s is None:
        return "--"
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def format_progress(rec: dict[str, Any], snap: TrainingState | None) -> str:
    """One headless progress line for a metrics record."""
    stages = snap.stages if snap is not None else ()
    k = int(rec.get("stage_index") or 0)
    head = f"[train] stage {k + 1}/{len(stages) or '?'} {rec.get('stage')}"
    it = f"it {rec.get('iteration')}/{rec.get('stage_iters', '?')}"
    glob = f"({rec.get('global_iteration')}/{snap.total_iters if snap is not None else '?'})"
    if rec.get("val_loss") is not None:
        return f"{head}  {it} {glob}  val_loss {rec['val_loss']:.4f}"
    mem = float(rec.get("peak_memory") or 0.0)
    mem_s = f"{mem:.2f} GB" if mem >= 1 else f"{mem * 1000:.0f} MB"
    return (f"{head}  {it} {glob}  train_loss {rec['train_loss']:.4f}  lr {rec.get('learning_rate', 0):.2e}  "
            f"{rec.get('tokens_per_second') or 0:.0f} tok/s  peak {mem_s}  "
            f"ETA {_fmt_eta(snap.eta_s if snap is not None else None)}")


def format_eval_table(ev: dict[str, Any]) -> str:
    if ev.get("skipped"):
        return f"evaluation skipped: {ev['skipped']}"

    def cell(d: dict[str, Any] | None) -> str:
        if not d or d.get("mean_score") is None:
            return f"{'--':>7} {'--':>6}"
        return f"{d['mean_score']:7.3f} {d['pass_rate'] * 100:5.0f}%"

    forms = sorted((ev.get("forms") or {}).items())
    w = max([18] + [len(f) + 1 for f, _ in forms])
    rows = [f"{'form':<{w}} {'before':>7} {'pass':>6}   {'after':>7} {'pass':>6}   {'n':>3}"]
    for form, r in forms:
        rows.append(f"{form:<{w}} {cell(r.get('before'))}   {cell(r.get('after'))}   "
                    f"{(r.get('after') or {}).get('n', 0):>3}")
    ov = ev.get("overall") or {}
    rows.append(f"{'overall':<{w}} {cell(ov.get('before'))}   {cell(ov.get('after'))}   "
                f"{(ov.get('after') or {}).get('n', 0):>3}")
    if ev.get("error"):
        rows.append(f"note: {ev['error']}")
    return "\n".join(rows)


def follow_training(run_dir: Path, proc: subprocess.Popen[bytes] | None,
                    emit: Callable[[str], None], as_json: bool = False,
                    poll_s: float = 0.5) -> tuple[TrainingState | None, bool]:
    """Print progress while the runner works; first Ctrl-C stops it gracefully, a second kills it.
    Returns the final state and whether the user interrupted."""
    tail = MetricsTail(train_dir(run_dir) / "metrics.jsonl")
    interrupted = 0
    while True:
        try:
            snap = read_training_state(run_dir)
            for rec in tail.poll():
                emit(json.dumps(rec) if as_json else format_progress(rec, snap))
            running = proc.poll() is None if proc is not None else snap is not None and snap.status == "running"
            if not running:
                for rec in tail.poll():
                    emit(json.dumps(rec) if as_json else format_progress(rec, snap))
                return read_training_state(run_dir), bool(interrupted)
            time.sleep(poll_s)
        except KeyboardInterrupt:
            interrupted += 1
            if interrupted == 1:
                emit("stopping: finishing the current step and saving the adapter (Ctrl-C again to kill)")
                stop_training(run_dir)
            elif proc is not None:
                proc.kill()


def run_train_cli(args: argparse.Namespace) -> int:
    """`watcher train [--run NAME] [--config FILE] [--headless] [--json]`."""
    as_json = bool(getattr(args, "json", False))
    run_dir = find_run_dir(getattr(args, "run", None))
    ensure_gate_export(run_dir)
    report = read_json(run_dir / "gate" / "report.json", {}) or {}
    if report.get("passed") is False:
        # Train anyway (the export holds only records that passed every record check), but say so.
        why = "; ".join(report.get("reasons") or []) or "see gate/report.json"
        print(f"[train] warning: the gate FAILED for this run ({why}); training on its export anyway",
              flush=True)
    cfg = load_train_config(getattr(args, "config", None), run_dir)

    def emit(line: str) -> None:
        print(line, flush=True)

    state = read_json(train_dir(run_dir) / "state.json", {}) or {}
    if _runner_alive(state):
        emit(f"[train] following the training already running for {run_dir.name} (pid {state.get('pid')})")
        proc = None
    else:
        proc = start_training(run_dir, cfg=cfg)
        if not as_json:
            emit(f"[train] run {run_dir.name}: {len(cfg.stages)} stage(s), {cfg.total_iters} iterations, "
                 f"model {cfg.model}; log {train_dir(run_dir) / 'train.log'}")
    final, interrupted = follow_training(run_dir, proc, emit, as_json=as_json)
    rc = proc.wait() if proc is not None else 0
    status, error = (final.status, final.error) if final is not None else (None, None)
    if as_json:
        emit(json.dumps({"event": "train_end", "status": status, "error": error,
                         "iteration": final.iteration if final else None, "eval": final.eval if final else None}))
    if final is not None and status == "done":
        if not as_json:
            emit(format_eval_table(final.eval) if final.eval else "[train] done (evaluation disabled)")
        return 0
    if final is not None and status == "stopped":
        if not as_json:
            emit(f"[train] stopped at iteration {final.iteration}/{final.total_iters}; "
                 f"run `watcher train --run {run_dir.name}` again to resume")
        return 130 if interrupted else 0
    print(f"watcher train: {error or 'training failed; see train/train.log'}", file=sys.stderr)
    return EXIT_USAGE if rc == EXIT_USAGE else 3


def iter_stage_examples(examples: Iterable[dict[str, Any]], stage: StageConfig) -> list[dict[str, Any]]:
    return [e for e in examples if stage_matches(e, stage)]
