"""Training export of gated records in mlx-lm's chat format, split train/valid/test by id hash.

Lines are streamed to temporary files while the gate reads the dataset; near duplicates are only
known at the end, so `finish()` drops their lines (and moves a record into an empty valid/test
split) in one byte-copy pass, then renames each file into place. Readers never see a partial file.
"""

from __future__ import annotations

import os
import zlib
from array import array
from pathlib import Path
from typing import Any

import msgspec

SPLITS = ("train", "valid", "test")
_enc = msgspec.json.Encoder()


def split_point(record_id: str) -> float:
    """A stable number in [0, 1) for an id: the same id lands in the same split on every run."""
    return zlib.crc32(record_id.encode()) / 2**32


def split_of(u: float, valid_share: float, test_share: float) -> int:
    """0 train, 1 valid, 2 test: test takes [0, test), valid [test, test+valid), train the rest."""
    if u < test_share:
        return 2
    if u < test_share + valid_share:
        return 1
    return 0


class ExportWriter:
    """Streams example lines per split to temp files; `finish()` makes the final files."""

    FLUSH_LINES = 4096

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}"
        self.tmp = [out_dir / f".{s}.jsonl.{tag}.tmp" for s in SPLITS]
        self.files = [open(p, "wb") for p in self.tmp]  # noqa: SIM115 - closed in finish/abort
        self.bufs: list[list[bytes]] = [[], [], []]
        self.buf_bytes = [0, 0, 0]  # lines buffered per split
        self.line_rows = [array("q"), array("q"), array("q")]  # the record row of each line written
        self.pending: list[tuple[int, int, list[bytes]]] = []  # (row, split, lines) awaiting commit()

    def add(self, row: int, split: int, examples: list[dict[str, Any]]) -> None:
        self.add_lines(row, split, [_enc.encode(ex) + b"\n" for ex in examples])

    def add_lines(self, row: int, split: int, lines: list[bytes]) -> None:
        """One record row's whole example lines (newline included); held until commit()."""
        self.pending.append((row, split, lines))

    def commit(self, upto: int | None = None, drop: set[int] | dict[int, Any] | None = None) -> None:
        """Write pending rows below `upto` (all when None), except those in `drop`."""
        pending = self.pending
        cut = len(pending)
        if upto is not None:
            cut = next((i for i, p in enumerate(pending) if p[0] >= upto), cut)
        drop = drop or {}
        bufs, line_rows, sizes = self.bufs, self.line_rows, self.buf_bytes
        for row, split, lines in pending[:cut]:
            if row in drop:
                continue
            buf = bufs[split]
            for line in lines:
                buf.append(line)
                line_rows[split].append(row)
                sizes[split] += 1
        del pending[:cut]
        for s in range(3):
            if sizes[s] >= self.FLUSH_LINES:
                self._flush(s)

    def _flush(self, split: int) -> None:
        if self.bufs[split]:
            self.files[split].writelines(self.bufs[split])
            self.bufs[split].clear()
            self.buf_bytes[split] = 0

    def finish(self, drop: set[int] | dict[int, Any], moves: dict[int, int]) -> dict[str, int]:
        """Drop the lines of rows in `drop`, move rows per `moves` {row: split}, then rename
        into train/valid/test.jsonl. Returns example lines per split."""
        self.commit()
        for s in range(3):
            self._flush(s)
            self.files[s].close()
        final = [self.dir / f"{s}.jsonl" for s in SPLITS]
        if not drop and not moves:
            for s in range(3):
                os.replace(self.tmp[s], final[s])
            return {SPLITS[s]: len(self.line_rows[s]) for s in range(3)}
        new_tmp = [p.with_suffix(".tmp2") for p in self.tmp]
        outs = [open(p, "wb") for p in new_tmp]  # noqa: SIM115
        counts = [0, 0, 0]
        try:
            for s in range(3):
                bufs: list[list[bytes]] = [[], [], []]
                with open(self.tmp[s], "rb") as f:
                    for row, line in zip(self.line_rows[s], f, strict=True):
                        if row in drop:
                            continue
                        t = moves.get(row, s)
                        bufs[t].append(line)
                        counts[t] += 1
                        if len(bufs[t]) >= 4096:
                            outs[t].write(b"".join(bufs[t]))
                            bufs[t].clear()
                for t in range(3):
                    outs[t].write(b"".join(bufs[t]))
        finally:
            for o in outs:
                o.close()
        for s in range(3):
            os.replace(new_tmp[s], final[s])
            self.tmp[s].unlink(missing_ok=True)
        return {SPLITS[s]: counts[s] for s in range(3)}

    def abort(self) -> None:
        for s in range(3):
            if not self.files[s].closed:
                self.files[s].close()
            self.tmp[s].unlink(missing_ok=True)
            self.tmp[s].with_suffix(".tmp2").unlink(missing_ok=True)


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
