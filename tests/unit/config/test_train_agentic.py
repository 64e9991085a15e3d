"""configs/train_agentic.toml: seed 001's three stages by category, on categories the agentic job has."""

from __future__ import annotations

from watcher.config import PACKAGED_CONFIGS, load_config
from watcher.train.config import load_train_config


def test_train_agentic_toml_follows_seed_001() -> None:
    cfg = load_train_config(PACKAGED_CONFIGS / "train_agentic.toml")
    assert cfg.batch_size == 2 and cfg.lora.rank == 16 and cfg.resume_adapter and cfg.mask_prompt
    first, second, last = cfg.stages
    assert set(first.categories) == {"tool_use", "powertools"} and last.categories == []
    assert {"agentic", "superpowers"} <= set(second.categories)
    # Continued fine-tuning: below train.toml's fresh-run rates, falling stage by stage.
    fresh = max(s.learning_rate for s in load_train_config(PACKAGED_CONFIGS / "train.toml").stages)
    rates = [s.learning_rate for s in cfg.stages]
    assert all(r < fresh for r in rates) and rates == sorted(rates, reverse=True)
    job, _ = load_config(PACKAGED_CONFIGS / "agentic.toml")
    assert job.agentic is not None and job.gate.split_turns
    names = {c.name for c in job.agentic.categories}
    assert {c for s in cfg.stages for c in s.categories} <= names
