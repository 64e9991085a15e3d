"""`watcher gate --against RUN…`: near duplicates across runs. The earlier runs' exports (what
their gates kept) are hashed into one near-duplicate index; this run's records are looked up in
it, and a match drops the record as a near_duplicate naming the other run."""

from __future__ import annotations

from pathlib import Path

import msgspec

from watcher.gate.dedup import MINHASH_BATCH, NearDupIndex
from watcher.gate.export import SPLITS
from watcher.gate.minhash import MinHasher
from watcher.run.paths import RunPaths


class _Msg(msgspec.Struct):
    role: str = ""
    content: str | None = None


class _Example(msgspec.Struct):
    messages: list[_Msg] = []


def example_text(ex: _Example) -> str:
    """The generated text of an export example: the last assistant message, its trace removed
    (the export puts `<think>…</think>` and a newline before the text)."""
    for m in reversed(ex.messages):
        if m.role == "assistant" and m.content:
            return m.content.rsplit("</think>", 1)[-1].strip()
    return ""


class AgainstIndex:
    def __init__(self, run_dirs: list[Path], num_perm: int, threshold: float) -> None:
        self.index = NearDupIndex(num_perm, threshold)
        self.hasher = MinHasher(num_perm)
        self.sources: list[tuple[str, int]] = []  # (run name, first index row), in order
        self.ids: list[str] = []
        dec = msgspec.json.Decoder(_Example).decode
        texts: list[str] = []
        for run in run_dirs:
            self.sources.append((run.name, len(self.ids)))
            paths = RunPaths(run)
            for s in SPLITS:
                p = paths.export_split(s)
                if not p.exists():
                    continue
                with open(p, "rb") as f:
                    for n, line in enumerate(f, 1):
                        try:
                            t = example_text(dec(line))
                        except msgspec.MsgspecError:
                            continue
                        texts.append(t)
                        self.ids.append(f"{s}.jsonl line {n}")
                        if len(texts) >= MINHASH_BATCH:
                            self._add(texts)
                            texts = []
        self._add(texts)

    def _add(self, texts: list[str]) -> None:
        if not texts:
            return
        row0 = len(self.ids) - len(texts)
        sig, has, _ = self.hasher.signatures([t.encode() if t.isascii() else t.lower().encode() for t in texts])
        self.index.add_batch(row0, sig, has)

    @property
    def size(self) -> int:
        return len(self.ids)

    def source(self, row: int) -> tuple[str, str]:
        """(run name, where in its export) of an index row."""
        name = next(n for n, first in reversed(self.sources) if first <= row)
        return name, self.ids[row]
