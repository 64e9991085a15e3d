"""Where the gate's examples sit in the dataset: the byte offset of each example's line (and of the
line a duplicate copies), so a front end can read the whole record (`monitor.tail.read_record`).

A second pass after the scan, not bookkeeping inside it: the scan's loop is the gate's hot path,
and only a few dozen lines are wanted. The pass stops at the last wanted line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from watcher.gate.checks import CheckResult


def locate_examples(ds: Path, checks: Iterable[CheckResult]) -> None:
    """Add `offset` (and `of_offset` beside `of_line`) to every example with a line number."""
    examples = [ex for c in checks for ex in c.examples]
    wanted = {n for ex in examples for n in (ex.get("line"), ex.get("of_line")) if isinstance(n, int) and n > 0}
    if not wanted:
        return
    last = max(wanted)
    offsets: dict[int, int] = {}
    pos = 0
    try:
        with open(ds, "rb", buffering=1 << 20) as f:
            for lineno, line in enumerate(f, 1):
                if lineno in wanted:
                    offsets[lineno] = pos
                    if lineno == last:
                        break
                pos += len(line)
    except OSError:
        return  # the report stays valid without offsets; front ends fall back to the excerpt
    for ex in examples:
        if ex.get("line") in offsets:
            ex["offset"] = offsets[ex["line"]]
        if ex.get("of_line") in offsets:
            ex["of_offset"] = offsets[ex["of_line"]]
