"""Training export of gated records in mlx-lm's chat format, split train/valid/test by id hash.

Lines are streamed into a fresh version directory while the gate reads the dataset, batch by batch
once the batch's duplicates are known; `finish()` only rewrites the files when a record must move
into an empty valid/test split. `watcher.gate.publish` swaps the directory in with its report.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path
from typing import Any

from watcher.config import RunConfig
from watcher.gate.checks import raw_str
from watcher.gate.turns import split_turns

SPLITS = ("train", "valid", "test")
# Fixed pieces of an mlx-lm chat example line, spliced around JSON-encoded strings.
ROLE_USER = b'{"role":"user","content":'
ROLE_SYSTEM = b'{"role":"system","content":'
ROLE_ASSISTANT = b'{"role":"assistant","content":'
MSG_USER = b'{"messages":[' + ROLE_USER
USER_END = b"}," + ROLE_ASSISTANT
TAIL = b"}]}\n"
_OPEN_Q, _CLOSE_Q = b'"<think>', b'</think>"'


def agentic_tools(cfg: RunConfig) -> dict[str, list[dict[str, Any]]]:
    """Per category, its declared tools as OpenAI function schemas (what chat templates render)."""
    if cfg.agentic is None:
        return {}
    declared = {t.name: {"type": "function", "function": {"name": t.name, "description": t.description,
                                                           "parameters": t.parameters}}
                for t in cfg.agentic.tools}
    return {c.name: [declared[n] for n in c.tools if n in declared] for c in cfg.agentic.categories}


def trace_content(raw: bytes, text: str, text_json: bytes, enc: Any) -> bytes:
    """The JSON string of `trace + "\\n" + text` (of text alone when the trace is blank). A stripped
    trace is spliced in as its raw JSON bytes, never decoded and re-encoded."""
    if raw.startswith(_OPEN_Q) and raw.endswith(_CLOSE_Q):
        return b"".join((raw[:-1], b"\\n", text_json[1:]))
    t = raw_str(raw)
    t = t.strip() if t else ""
    return enc(f"{t}\n{text}") if t else text_json




def chat_lines(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, enc: Any,
               split: bool = False) -> list[bytes]:
    """A conversation's example lines: the whole conversation, or with `split` ([gate] split_turns)
    one line per assistant turn ending on it. The category's tools travel with every line."""
    convs = split_turns(messages) if split else [messages]
    return [enc({"messages": m, "tools": tools} if tools else {"messages": m}) + b"\n" for m in convs]


class ExportWriter:
    """Streams example lines per split into the final files of a fresh version directory (nobody
    reads it before `publish`); `finish()` only rewrites when records must move between splits."""

    FLUSH_LINES = 4096

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.paths = [out_dir / f"{s}.jsonl" for s in SPLITS]
        self.files = [open(p, "wb") for p in self.paths]  # noqa: SIM115 - closed in finish/abort
        self.bufs: list[list[bytes]] = [[], [], []]
        self.line_rows = [array("q"), array("q"), array("q")]  # the record row of each line written
        # Lines of the current batch per split, and their rows: held until commit().
        self.pend_lines: list[list[bytes]] = [[], [], []]
        self.pend_rows: list[list[int]] = [[], [], []]

    def add_lines(self, row: int, split: int, lines: list[bytes]) -> None:
        """One record row's whole example lines (newline included); held until commit()."""
        self.pend_lines[split].extend(lines)
        self.pend_rows[split].extend([row] * len(lines))

    def commit(self, drop: set[int] | dict[int, Any] | None = None, batch_drops: bool = True) -> None:
        """Write every pending line, except those of rows in `drop`; `batch_drops` False says the
        batch dropped nothing, so no line needs looking up."""
        for s in range(3):
            lines, rows = self.pend_lines[s], self.pend_rows[s]
            if not lines:
                continue
            if drop and batch_drops:
                keep = [i for i, r in enumerate(rows) if r not in drop]
                if len(keep) != len(rows):
                    lines = [lines[i] for i in keep]
                    rows = [rows[i] for i in keep]
            self.bufs[s].extend(lines)
            self.line_rows[s].extend(rows)
            self.pend_lines[s], self.pend_rows[s] = [], []
            if len(self.bufs[s]) >= self.FLUSH_LINES:
                self._flush(s)

    def _flush(self, split: int) -> None:
        if self.bufs[split]:
            self.files[split].writelines(self.bufs[split])
            self.bufs[split].clear()

    def finish(self, moves: dict[int, int]) -> dict[str, int]:
        """Close the files, moving rows per `moves` {row: split}. Returns example lines per split."""
        self.commit()
        for s in range(3):
            self._flush(s)
            self.files[s].close()
        if not moves:
            return {SPLITS[s]: len(self.line_rows[s]) for s in range(3)}
        new_tmp = [p.with_suffix(".moved") for p in self.paths]
        outs = [open(p, "wb") for p in new_tmp]  # noqa: SIM115
        counts = [0, 0, 0]
        try:
            for s in range(3):
                with open(self.paths[s], "rb") as f:
                    for row, line in zip(self.line_rows[s], f, strict=True):
                        t = moves.get(row, s)
                        outs[t].write(line)
                        counts[t] += 1
        finally:
            for o in outs:
                o.close()
        for s in range(3):
            os.replace(new_tmp[s], self.paths[s])
        return {SPLITS[s]: counts[s] for s in range(3)}

    def abort(self) -> None:
        for f in self.files:
            if not f.closed:
                f.close()


def fill_empty_splits(rows_by_split: list[list[tuple[float, int]]], min_records: int = 3) -> dict[int, int]:
    """Moves {row: split} so valid and test (and train) each get a record when there are at least
    `min_records` records: mlx-lm needs a non-empty validation set. Donors are the largest split's
    records with the smallest split point, so the choice is deterministic."""
    total = sum(len(r) for r in rows_by_split)
    moves: dict[int, int] = {}
    if total < min_records:
        return moves
    pools = [sorted(r) for r in rows_by_split]
    for target in (1, 2, 0):
        if pools[target]:
            continue
        donor = max(range(3), key=lambda s: (len(pools[s]), -s))
        if len(pools[donor]) < 2:
            continue
        u, row = pools[donor].pop(0)
        pools[target].append((u, row))
        moves[row] = target
    return moves
