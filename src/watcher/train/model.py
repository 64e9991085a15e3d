"""Locating the base model for training and evaluation (shared by the runner and the evaluation,
so neither imports the other for it). Never downloads."""

from __future__ import annotations

from pathlib import Path

from watcher.errors import TrainError

MLX_MISSING = ('mlx is not installed for training; fix: pip install "mlx[cpu]" mlx-lm '
               "(on Linux the [cpu] extra is required: plain mlx-lm pulls no mlx there)")


def resolve_model_path(model: str) -> Path:
    """A local directory, or a hub id already in the offline cache; never downloads."""
    p = Path(model).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise TrainError(f"model directory {p} has no config.json; fix: point `model` in the train "
                             "config at an mlx/Hugging Face model directory")
        return p
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") != 1
    if not looks_like_path:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(model, local_files_only=True))
        except Exception:  # not cached, or not a valid repo id: both mean "not available offline"
            pass
        raise TrainError(f"model '{model}' is not a local directory and not in the Hugging Face cache "
                         f"(no download while training); fix: set `model` in the train config to a local "
                         f"model directory, or download it first (huggingface-cli download {model})")
    raise TrainError(f"model path {model} does not exist; fix: set `model` in the train config to an "
                     "existing mlx model directory or a Hugging Face id")
