"""The training subprocess: `python -m watcher.train.runner --run-dir DIR [--config FILE]`.

A thin layer over mlx-lm's Python training API, done the way `mlx_lm/lora.py` does it (load,
linear_to_lora_layers, resume weights, adapter_config.json, TrainingArgs, Adam, train) with our
TrainingCallback writing one JSON line per report to train/metrics.jsonl. Stages run in order, each
resuming from the previous stage's adapter. SIGTERM or the train/stop flag file: the current step
finishes, mlx-lm saves the adapter, state.json says `stopped`, exit 0; the next start continues from
that adapter. The user-fixable errors are one line on stderr and in state.json, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from watcher.errors import EXIT_DISK_FULL, EXIT_USAGE, ConfigError, DiskFullError, TrainError
from watcher.run.files import JsonlAppender, atomic_write_bytes, read_json
from watcher.run.paths import RunPaths
from watcher.train.checkpoints import FINAL, adapter_problem, last_good_checkpoint
from watcher.train.config import StageConfig, TrainConfig, load_train_config
from watcher.train.data import iter_stage_examples, read_jsonl
from watcher.train.evaluate import run_evaluation
from watcher.train.model import MLX_MISSING, resolve_model_path
from watcher.train.state import stage_dir, stage_signature, train_dir, update_state


class StopControl:
    """Stop requests: SIGTERM/SIGINT set a flag; the flag file is polled between steps."""

    def __init__(self, flag: Path) -> None:
        self.flag = flag
        self.requested = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.requested = True

    def should_stop(self) -> bool:
        if not self.requested and self.flag.exists():
            self.requested = True
        return self.requested


def model_layer_count(model_path: Path) -> int | None:
    cfg = read_json(model_path / "config.json", {}) or {}
    cfg = cfg.get("text_config", cfg) if "num_hidden_layers" not in cfg else cfg
    for key in ("num_hidden_layers", "n_layer", "num_layers", "n_layers"):
        if isinstance(cfg.get(key), int):
            return int(cfg[key])
    return None


def resume_adapter_file(ref: str) -> Path:
    p = Path(ref).expanduser()
    if p.is_dir():
        p = p / "adapters.safetensors"
    if not p.exists():
        raise TrainError(f"resume_adapter {ref} does not exist; fix: point it at an adapter directory "
                         "(with adapters.safetensors) or the .safetensors file, or set it to \"\"")
    return p


class MetricsCallback:
    """mlx-lm TrainingCallback (duck-typed base set in main) → one flushed JSON line per report."""

    def __init__(self, out: JsonlAppender, stage: StageConfig, stage_index: int, stage_offset: int,
                 global_offset: int, optimizer: Any, on_report: Callable[[int], None]) -> None:
        self.out = out
        self.stage = stage
        self.stage_index = stage_index
        self.stage_offset = stage_offset  # iterations of this stage done before this segment (resume)
        self.global_offset = global_offset  # iterations of the earlier stages
        self.optimizer = optimizer
        self.on_report = on_report

    def _line(self, info: dict[str, Any], **fields: Any) -> None:
        it = self.stage_offset + int(info["iteration"])
        rec = {
            "stage": self.stage.name, "stage_index": self.stage_index, "stage_iters": self.stage.iters,
            "iteration": it, "global_iteration": self.global_offset + it,
            "train_loss": None, "val_loss": None, "learning_rate": None, "iterations_per_second": None,
            "tokens_per_second": None, "peak_memory": None, **fields, "time": time.time(),
        }
        self.out.append((json.dumps(rec) + "\n").encode())
        self.on_report(it)

    def on_train_loss_report(self, info: dict[str, Any]) -> None:
        self._line(info, train_loss=float(info["train_loss"]), learning_rate=float(info["learning_rate"]),
                   iterations_per_second=float(info["iterations_per_second"]),
                   tokens_per_second=float(info["tokens_per_second"]),
                   trained_tokens=int(info.get("trained_tokens", 0)), peak_memory=float(info["peak_memory"]))

    def on_val_loss_report(self, info: dict[str, Any]) -> None:
        lr = self.optimizer.learning_rate
        self._line(info, val_loss=float(info["val_loss"]), val_time=float(info.get("val_time", 0.0)),
                   learning_rate=float(lr.item() if hasattr(lr, "item") else lr))


class Runner:
    def __init__(self, run_dir: Path, cfg: TrainConfig, stop: StopControl) -> None:
        self.run_dir = run_dir
        self.paths = RunPaths(Path(run_dir))
        self.tdir = train_dir(run_dir)
        self.cfg = cfg
        self.stop = stop
        self.metrics = JsonlAppender(self.paths.train_metrics, fsync_interval=1.0)

    def state(self, **fields: Any) -> dict[str, Any]:
        return update_state(self.run_dir, **fields)

    # -- checks that need no mlx, so they fail fast --

    def prepare_data(self) -> list[Path]:
        split_file = self.paths.export_split
        for split in ("train", "valid"):
            if not split_file(split).exists():
                raise TrainError(f"{split_file(split)} is missing; fix: run `watcher gate` first")
        train_all, valid_all = read_jsonl(split_file("train")), read_jsonl(split_file("valid"))
        bs = self.cfg.batch_size
        dirs = []
        for k, st in enumerate(self.cfg.stages):
            tr, va = iter_stage_examples(train_all, st), iter_stage_examples(valid_all, st)
            what = f"stage '{st.name}'" + (f" (forms {st.forms})" if st.forms else "") + \
                (f" (categories {st.categories})" if st.categories else "")
            if len(va) < bs <= len(valid_all):
                # Validation only monitors the loss: a narrow stage on a small export may use all of it.
                print(f"{what}: {len(va)} valid example(s) match the filter; validating on all "
                      f"{len(valid_all)}", flush=True)
                va = valid_all
            for split, rows in (("train", tr), ("valid", va)):
                if len(rows) < bs:
                    raise TrainError(f"{what}: the gated export has {len(rows)} {split} example(s), fewer than "
                                     f"batch_size = {bs}; fix: gate more data, widen the stage's filter, "
                                     f"or lower batch_size")
            d = stage_dir(self.run_dir, k, st) / "data"
            d.mkdir(parents=True, exist_ok=True)
            for split, rows in (("train", tr), ("valid", va)):
                tmp = d / f".{split}.jsonl.tmp"
                tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
                os.replace(tmp, d / f"{split}.jsonl")
            dirs.append(d)
        return dirs

    def run(self) -> int:
        cfg = self.cfg
        sig = stage_signature(cfg)
        prev = read_json(self.paths.train_state, {}) or {}
        same = prev.get("signature") == sig
        completed: list[str] = list(prev.get("completed") or []) if same else []
        saved_stage = prev.get("stage_index") if same else None
        saved_it = int(prev.get("saved_iteration") or 0) if same else 0
        self.state(status="running", pid=os.getpid(), error=None, signature=sig, phase="train",
                   stages=[s.name for s in cfg.stages], total_iters=cfg.total_iters, completed=completed)

        model_path = resolve_model_path(cfg.model)
        n_layers = model_layer_count(model_path)
        if n_layers is not None and cfg.num_layers > n_layers:
            raise TrainError(f"num_layers = {cfg.num_layers} but the model {cfg.model} has only {n_layers} "
                             f"layers; fix: set num_layers = {n_layers} (or -1 for all) in the train config")
        first_resume = resume_adapter_file(cfg.resume_adapter) if cfg.resume_adapter else None
        data_dirs = self.prepare_data()

        try:
            import mlx.core as mx  # noqa: F401
            import mlx_lm  # noqa: F401
        except ImportError as e:
            raise TrainError(f"{MLX_MISSING} [{e}]") from None

        from mlx_lm.utils import load_config, load_tokenizer

        # The tokenizer only: each stage loads fresh model weights itself (no double load).
        tokenizer = load_tokenizer(model_path, eos_token_ids=load_config(model_path).get("eos_token_id"))
        resume = first_resume
        global_offset = 0
        self.saved = {k: dict(v) for k, v in (prev.get("checkpoints") or {}).items()} if same else {}
        for k, st in enumerate(cfg.stages):
            sdir = stage_dir(self.run_dir, k, st)
            final = sdir / FINAL
            if st.name in completed and final.exists():
                if adapter_problem(final) is None:
                    resume, global_offset = final, global_offset + st.iters
                    continue
                completed.remove(st.name)  # its adapter was damaged after it finished: redo from a checkpoint
                saved_stage, saved_it = k, st.iters
            start_it = saved_it if (saved_stage == k and final.exists()) else 0
            if start_it:
                found = self.resume_point(k, st, final, start_it)
                if found is not None:
                    resume, start_it = found  # continue this stage from its last good save
                else:
                    start_it = 0
            if start_it >= st.iters and resume is not None and resume != final:
                atomic_write_bytes(final, resume.read_bytes())  # the whole last checkpoint is the stage's end
                completed.append(st.name)
                self.state(completed=completed)
                resume, global_offset = final, global_offset + st.iters
                continue
            if self.stop.should_stop():
                return self._stopped(k, st, start_it, global_offset)
            done_it = self.train_stage(k, st, model_path, tokenizer, data_dirs[k], resume, start_it, global_offset)
            if done_it < st.iters:
                return self._stopped(k, st, done_it, global_offset)
            completed.append(st.name)
            self.state(completed=completed, stage=st.name, stage_index=k, iteration=st.iters,
                       saved_iteration=st.iters, global_iteration=global_offset + st.iters)
            resume, global_offset = sdir / "adapters.safetensors", global_offset + st.iters

        if cfg.eval.enabled:
            self.state(phase="eval")
            ev = run_evaluation(self.run_dir, cfg, model_path, resume.parent if resume else None,
                                should_stop=self.stop.should_stop)
            if ev is None:  # stopped during the evaluation: the next start only re-runs it
                self.state(status="stopped", pid=None)
                return 0
        self.state(status="done", phase="done", pid=None)
        return 0

    def resume_point(self, k: int, st: StageConfig, final: Path, start_it: int) -> tuple[Path, int] | None:
        """The adapter to continue stage k from: its last save, else its newest whole checkpoint
        (saying so), else None (the stage starts again from its beginning)."""
        why = adapter_problem(final)
        if why is None:
            return final, start_it
        found = last_good_checkpoint(final.parent, self.saved.get(str(k), {}), start_it)
        if found is None:
            print(f"adapter {final} is unreadable ({why}) and no earlier checkpoint is whole; "
                  f"stage '{st.name}' starts again from iteration 0", flush=True)
            return None
        print(f"adapter {final} is unreadable ({why}); resuming stage '{st.name}' from the last good "
              f"checkpoint {found[0].name} (iteration {found[1]})", flush=True)
        return found

    def _stopped(self, k: int, st: StageConfig, it: int, global_offset: int) -> int:
        self.state(status="stopped", pid=None, stage=st.name, stage_index=k, iteration=it,
                   saved_iteration=it, global_iteration=global_offset + it)
        print(f"stopped in stage '{st.name}' at iteration {it}/{st.iters}; the adapter is saved", flush=True)
        return 0

    def train_stage(self, k: int, st: StageConfig, model_path: Path, tokenizer: Any, data_dir: Path,
                    resume: Path | None, start_it: int, global_offset: int) -> int:
        """Train stage k from start_it to st.iters (or a stop); returns the stage iterations done."""
        import mlx.core as mx
        import mlx.optimizers as optim
        import numpy as np
        from mlx_lm.tuner.datasets import CacheDataset, load_dataset
        from mlx_lm.tuner.trainer import TrainingArgs, iterate_batches, train
        from mlx_lm.tuner.utils import linear_to_lora_layers, print_trainable_parameters
        from mlx_lm.utils import load_model, save_config

        cfg = self.cfg
        sdir = stage_dir(self.run_dir, k, st)
        iters = st.iters - start_it
        # The same namespace lora.py builds, so adapter_config.json is what mlx-lm writes and reads.
        args = types.SimpleNamespace(
            model=str(model_path), train=True, test=False, fine_tune_type="lora", optimizer="adam",
            optimizer_config={"adam": {}}, data=str(data_dir), seed=cfg.seed, num_layers=cfg.num_layers,
            batch_size=cfg.batch_size, iters=iters, val_batches=cfg.val_batches, learning_rate=st.learning_rate,
            steps_per_report=cfg.steps_per_report, steps_per_eval=cfg.steps_per_eval,
            resume_adapter_file=str(resume) if resume else None, adapter_path=str(sdir),
            save_every=cfg.steps_per_save, max_seq_length=cfg.max_seq_length, grad_checkpoint=cfg.grad_checkpoint,
            grad_accumulation_steps=1, clear_cache_threshold=0, lr_schedule=None, mask_prompt=cfg.mask_prompt,
            lora_parameters={"rank": cfg.lora.rank, "dropout": cfg.lora.dropout, "scale": cfg.lora.scale},
            report_to=None, project_name=None, trust_remote_code=False,
        )
        np.random.seed(cfg.seed)
        print(f"stage {k + 1}/{len(cfg.stages)} '{st.name}': iterations {start_it + 1}..{st.iters}, "
              f"lr {st.learning_rate}, resume {resume}", flush=True)
        model, _ = load_model(model_path)
        train_set, valid_set, _ = load_dataset(args, tokenizer)

        mx.random.seed(cfg.seed)
        model.freeze()
        linear_to_lora_layers(model, args.num_layers, args.lora_parameters)
        if resume is not None:
            check_adapter_shapes(model, resume)
            model.load_weights(str(resume), strict=False)
        print_trainable_parameters(model)
        sdir.mkdir(parents=True, exist_ok=True)
        save_config(vars(args), sdir / "adapter_config.json")

        opt = optim.Adam(learning_rate=st.learning_rate)
        yielded = [0]  # batches handed to mlx-lm; each one is trained fully (a signal only sets a flag)

        def on_report(it: int) -> None:
            self.state(stage=st.name, stage_index=k, iteration=it, global_iteration=global_offset + it)

        def stoppable_batches(dataset: Any, batch_size: int, max_seq_length: int, loop: bool = False,
                              seed: int | None = None, comm_group: Any = None) -> Iterator[Any]:
            gen = iterate_batches(dataset=dataset, batch_size=batch_size, max_seq_length=max_seq_length,
                                  loop=loop, seed=seed, comm_group=comm_group)
            if not loop:  # validation batches pass through untouched
                yield from gen
                return
            for batch in gen:
                n = yielded[0]  # asked for batch n+1: step n is complete (reported, saved if due)
                if n and n % cfg.steps_per_save == 0:
                    # mlx-lm just wrote adapters.safetensors and its numbered copy {n:07d}_adapters
                    self.saved.setdefault(str(k), {})[f"{n:07d}_{FINAL}"] = start_it + n
                    self.state(stage=st.name, stage_index=k, saved_iteration=start_it + n,
                               checkpoints=self.saved)
                if self.stop.should_stop():
                    return  # ends mlx-lm's loop; it then saves the final adapter weights
                yielded[0] = n + 1
                yield batch

        self.state(stage=st.name, stage_index=k, iteration=start_it, saved_iteration=start_it,
                   global_iteration=global_offset + start_it)
        train(
            model=model,
            args=TrainingArgs(
                batch_size=args.batch_size, iters=iters, val_batches=args.val_batches,
                steps_per_report=args.steps_per_report, steps_per_eval=args.steps_per_eval,
                steps_per_save=args.save_every, adapter_file=str(sdir / "adapters.safetensors"),
                max_seq_length=args.max_seq_length, grad_checkpoint=args.grad_checkpoint,
                grad_accumulation_steps=1,
            ),
            optimizer=opt,
            train_dataset=CacheDataset(train_set),
            val_dataset=CacheDataset(valid_set),
            training_callback=_as_callback(MetricsCallback(self.metrics, st, k, start_it, global_offset,
                                                           opt, on_report)),
            iterate_batches=stoppable_batches,
        )
        self.metrics.maybe_sync(force=True)
        return start_it + yielded[0]


def check_adapter_shapes(model: Any, adapter: Path) -> None:
    """model.load_weights(strict=False) skips shape checks; a rank mismatch would load garbage."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    params = dict(tree_flatten(model.trainable_parameters()))
    bad = [f"{n} {tuple(w.shape)} vs {tuple(params[n].shape)}"
           for n, w in mx.load(str(adapter)).items() if n in params and w.shape != params[n].shape]
    if bad:
        raise TrainError(f"adapter {adapter} does not fit this LoRA setup ({bad[0]}, ...); fix: use the same "
                         "lora.rank and num_layers as the adapter was trained with")


def _as_callback(cb: MetricsCallback) -> Any:
    from mlx_lm.tuner.trainer import TrainingCallback

    class _CB(TrainingCallback):
        def on_train_loss_report(self, train_info: dict[str, Any]) -> None:
            cb.on_train_loss_report(train_info)

        def on_val_loss_report(self, val_info: dict[str, Any]) -> None:
            cb.on_val_loss_report(val_info)

    return _CB()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m watcher.train.runner")
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--config", default=None, help="train config (TOML or the resolved train/config.json)")
    a = ap.parse_args(argv)
    run_dir = Path(a.run_dir)
    tdir = train_dir(run_dir)
    tdir.mkdir(parents=True, exist_ok=True)
    stop = StopControl(tdir / "stop")
    stop.install()
    try:
        cfg_path = a.config or (tdir / "config.json" if (tdir / "config.json").exists() else None)
        cfg = load_train_config(cfg_path)
        return Runner(run_dir, cfg, stop).run()
    except (TrainError, ConfigError) as e:
        msg = str(e)
        print(f"watcher train: {msg}", file=sys.stderr, flush=True)
        update_state(run_dir, status="failed", error=msg, pid=None)
        return EXIT_USAGE
    except DiskFullError as e:
        print(f"watcher train: {e}", file=sys.stderr, flush=True)
        try:
            update_state(run_dir, status="failed", error=str(e), pid=None)
        except DiskFullError:
            pass  # the state stays as it was (written atomically); the exit code says why
        return EXIT_DISK_FULL
    except Exception as e:
        traceback.print_exc()
        msg = f"{type(e).__name__}: {e} (see train/train.log)"
        print(f"watcher train: {msg}", file=sys.stderr, flush=True)
        update_state(run_dir, status="failed", error=msg, pid=None)
        return 1


if __name__ == "__main__":
    sys.exit(main())
