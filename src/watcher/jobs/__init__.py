"""Data jobs: one engine, one config each (poetry, agentic, aba)."""

from __future__ import annotations

from watcher.config import RunConfig
from watcher.jobs.base import Evaluation, Job, WorkItem

__all__ = ["Evaluation", "Job", "WorkItem", "make_job"]


def make_job(cfg: RunConfig) -> Job:
    if cfg.job == "poetry":
        from watcher.jobs.poetry import PoetryJob

        return PoetryJob(cfg)
    if cfg.job == "agentic":
        from watcher.jobs.agentic import AgenticJob

        return AgenticJob(cfg)
    if cfg.job == "aba":
        from watcher.jobs.aba import AbaJob

        return AbaJob(cfg)
    raise ValueError(f"unknown job {cfg.job!r}")
