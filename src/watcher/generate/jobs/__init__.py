"""Data jobs: one engine, one config each (poetry, agentic, aba)."""

from __future__ import annotations

from watcher.config import RunConfig
from watcher.generate.jobs.base import Evaluation, Job, WorkItem

__all__ = ["Evaluation", "Job", "WorkItem", "make_job"]


def make_job(cfg: RunConfig) -> Job:
    if cfg.job == "poetry":
        from watcher.generate.jobs.poetry import PoetryJob

        return PoetryJob(cfg)
    if cfg.job == "agentic":
        from watcher.generate.jobs.agentic import AgenticJob

        return AgenticJob(cfg)
    if cfg.job == "aba":
        from watcher.generate.jobs.aba import AbaJob

        return AbaJob(cfg)
    raise ValueError(f"unknown job {cfg.job!r}")
