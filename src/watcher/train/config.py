"""The training config (configs/train.toml): pydantic models, validation and loading.

Errors name the field and the fix; relative model/adapter paths resolve against the working
directory first, then the config file's directory.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watcher.config import format_validation_error, resolve_config_path, toml_error_message
from watcher.errors import ConfigError


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
        raise ConfigError(toml_error_message(p, e)) from None
    return parse_train_config(data, str(p), p.resolve().parent)


def _resolve_local(ref: str, base_dir: Path | None) -> str:
    p = Path(ref).expanduser()
    for cand in (p, (base_dir / p) if base_dir and not p.is_absolute() else None):
        if cand is not None and cand.exists():
            return str(cand.resolve())
    return ref  # a hub id, or a path the runner will report as missing
