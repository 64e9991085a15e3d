"""Work items with stable ids, backend assignment (model mix), sharding across workers, resume.

Resume is keyed on the item id alone (not on generation parameters), so a changed temperature or
model does not throw finished work away. An item is skipped when it was accepted, when it was
rejected in the current round, or when it has been rejected `1 + resume_retries` times.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import msgspec

from watcher.config import RunConfig
from watcher.gate.checks import schema_problem
from watcher.generate.jobs.base import Job, WorkItem
from watcher.run.records import GATE_RECORD_TYPES, IdRound


def assign_backends(items: list[WorkItem], cfg: RunConfig) -> list[WorkItem]:
    """Exact model mix within each group: item i of a group goes to the first backend when
    ceil((i+1)*mix) > ceil(i*mix), so 10 items at mix 0.7 give exactly 7 and 3 (and an odd count
    at 0.5 leans to the first backend)."""
    active = cfg.active_backends()
    if len(active) == 1:
        return [replace(it, backend=active[0]) for it in items]
    mix = cfg.model_mix
    seen: Counter[str] = Counter()
    out = []
    for it in items:
        i = seen[it.group]
        seen[it.group] += 1
        first = math.ceil((i + 1) * mix - 1e-9) > math.ceil(i * mix - 1e-9)
        out.append(replace(it, backend=active[0] if first else active[1]))
    return out


def build_plan(cfg: RunConfig, job: Job) -> list[WorkItem]:
    return assign_backends(job.items(), cfg)


def shard_of(item_id: str, shards: int) -> int:
    return int(item_id, 16) % shards


def shard(items: list[WorkItem], backend: str, index: int, shards: int) -> list[WorkItem]:
    return [it for it in items if it.backend == backend and shard_of(it.id, shards) == index]


@dataclass
class ResumeState:
    accepted: set[str]
    rejected: Counter[str]
    rejected_this_round: set[str]
    bad_lines: int = 0

    def pending(self, items: list[WorkItem], resume_retries: int) -> list[WorkItem]:
        return [
            it for it in items
            if it.id not in self.accepted
            and it.id not in self.rejected_this_round
            and self.rejected[it.id] < 1 + resume_retries
        ]


def _scan(path: Path, job: str | None = None):
    """Records of one file; `job` given (the dataset): only whole accepted records of that job count,
    decoded and checked as the gate's schema check does, so resume and the gate agree on what is corrupt."""
    dec = msgspec.json.Decoder(GATE_RECORD_TYPES[job] if job else IdRound)
    bad = 0
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return [], 0
    out = []
    with f:
        for line in f:
            if not line.endswith(b"\n"):
                continue  # a partial last line is not a record (the next writer repairs it)
            try:
                rec = dec.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                bad += not line.isspace()
                continue
            if job and schema_problem(rec, job, bytes(rec.synth_trace), bytes(rec.natural_trace)):
                bad += 1
                continue
            out.append(rec)
    return out, bad


def load_resume_state(dataset: Path, rejects: Path, current_round: int, job: str | None = None) -> ResumeState:
    """What is done, from what is on disk. With `job`, a dataset line marks its item done only when it
    is a whole accepted record of that job (a corrupt line's item is generated again)."""
    acc, bad1 = _scan(dataset, job)
    rej, bad2 = _scan(rejects)
    rejected: Counter[str] = Counter(r.id for r in rej)
    this_round = {r.id for r in rej if r.round == current_round}
    return ResumeState({r.id for r in acc}, rejected, this_round, bad1 + bad2)


def corrupt_lines(dataset: Path, job: str) -> int:
    """Complete dataset lines that are not whole accepted records of `job`: what resume regenerates
    and the gate counts under valid_json + schema."""
    return _scan(dataset, job)[1]
